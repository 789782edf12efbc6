package blobtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trovedb/trove"
)

// RunFiles checks a trove.FileStorage (as blob.NewFileStorage makes, or a
// files plugin) against every file rule of the storage contract. open
// returns a new, empty file storage for each subtest and the function that
// closes it (after which every call must return trove.ErrClosed).
func RunFiles(t *testing.T, open func(t testing.TB) (trove.FileStorage, func() error)) {
	tests := []struct {
		name string
		fn   func(t *testing.T, fs trove.FileStorage, close func() error)
	}{
		{"SaveAndGet", testFileSaveGet},
		{"InvalidID", testFileInvalidID},
		{"Hash", testFileHash},
		{"SameBytesIdempotent", testFileIdempotent},
		{"OtherBytesConflict", testFileConflict},
		{"NotFound", testFileNotFound},
		{"RangeRequest", testFileRange},
		{"Concurrent", testFileConcurrent},
		{"Closed", testFileClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs, closeFn := open(t)
			tc.fn(t, fs, closeFn)
		})
	}
}

func saveFile(t *testing.T, fs trove.FileStorage, f trove.EventFile, data []byte) trove.EventFile {
	t.Helper()
	got, err := fs.SaveFile(context.Background(), f, bytes.NewReader(data))
	if err != nil {
		t.Fatalf("SaveFile(%s): %v", f.ID, err)
	}
	return got
}

func fileData(t *testing.T, fs trove.FileStorage, id string) []byte {
	t.Helper()
	rc, err := fs.GetFileData(context.Background(), id)
	if err != nil {
		t.Fatalf("GetFileData(%s): %v", id, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("GetFileData(%s): read: %v", id, err)
	}
	return b
}

func testFileSaveGet(t *testing.T, fs trove.FileStorage, _ func() error) {
	for i, n := range []int{0, 10, 300000} {
		data := Data(uint64(200+i), n)
		in := trove.EventFile{ID: fmt.Sprintf("file-%d", i), ContentType: "application/pdf", Filename: "Annual report é.pdf", Size: 12345}
		want := trove.EventFile{ID: in.ID, ContentType: in.ContentType, Filename: in.Filename, Size: int64(n), Hash: "sha256:" + Digest(data)}
		if got := saveFile(t, fs, in, data); got != want {
			t.Fatalf("SaveFile = %+v, want %+v", got, want)
		}
		got, err := fs.GetFile(context.Background(), in.ID)
		if err != nil || got != want {
			t.Fatalf("GetFile = %+v, %v; want %+v", got, err, want)
		}
		if b := fileData(t, fs, in.ID); !bytes.Equal(b, data) {
			t.Fatalf("GetFileData: %d bytes, not the %d saved", len(b), n)
		}
	}
	bare := saveFile(t, fs, trove.EventFile{ID: "bare"}, []byte("x"))
	if bare.ContentType != "" || bare.Filename != "" || bare.Size != 1 {
		t.Fatalf("a file saved without metadata = %+v", bare)
	}
	if got, _ := fs.GetFile(context.Background(), "bare"); got != bare {
		t.Fatalf("GetFile = %+v, want %+v", got, bare)
	}
}

func testFileInvalidID(t *testing.T, fs trove.FileStorage, _ func() error) {
	ctx := context.Background()
	for _, id := range []string{"", ".", "..", "../etc/passwd", "a/b", "/abs", "a\\b", "sp ace", "ü", strings.Repeat("x", 129)} {
		_, err := fs.SaveFile(ctx, trove.EventFile{ID: id}, strings.NewReader("x"))
		wantErr(t, fmt.Sprintf("SaveFile(%q)", id), err, trove.ErrInvalid)
		_, err = fs.GetFile(ctx, id)
		wantErr(t, fmt.Sprintf("GetFile(%q)", id), err, trove.ErrInvalid)
		_, err = fs.GetFileData(ctx, id)
		wantErr(t, fmt.Sprintf("GetFileData(%q)", id), err, trove.ErrInvalid)
	}
}

func testFileHash(t *testing.T, fs trove.FileStorage, _ func() error) {
	ctx := context.Background()
	data := Data(210, 5000)
	h := "sha256:" + Digest(data)
	if got := saveFile(t, fs, trove.EventFile{ID: "right", Hash: h}, data); got.Hash != h {
		t.Fatalf("Hash = %s, want %s", got.Hash, h)
	}
	upper := "SHA256:" + strings.ToUpper(Digest(data))
	if got := saveFile(t, fs, trove.EventFile{ID: "upper", Hash: upper}, data); got.Hash != h {
		t.Fatalf("Hash = %s, want %s", got.Hash, h)
	}
	for _, bad := range []string{"sha256:" + Digest([]byte("other")), "md5:" + Digest(data)[:32], "sha256:xyz", Digest(data)} {
		_, err := fs.SaveFile(ctx, trove.EventFile{ID: "wrong", Hash: bad}, bytes.NewReader(data))
		wantErr(t, fmt.Sprintf("SaveFile with hash %q", bad), err, trove.ErrInvalid)
		_, err = fs.GetFile(ctx, "wrong")
		wantErr(t, "GetFile after a refused hash", err, trove.ErrNotFound)
		_, err = fs.GetFileData(ctx, "wrong")
		wantErr(t, "GetFileData after a refused hash", err, trove.ErrNotFound)
	}
}

func testFileIdempotent(t *testing.T, fs trove.FileStorage, _ func() error) {
	data := Data(220, 4000)
	first := saveFile(t, fs, trove.EventFile{ID: "f", ContentType: "text/plain", Filename: "a.txt"}, data)
	again := saveFile(t, fs, trove.EventFile{ID: "f", ContentType: "image/png", Filename: "b.png"}, data)
	if again != first {
		t.Fatalf("second SaveFile of the same bytes = %+v, want the stored %+v", again, first)
	}
	if got, _ := fs.GetFile(context.Background(), "f"); got != first {
		t.Fatalf("GetFile = %+v, want %+v", got, first)
	}
}

func testFileConflict(t *testing.T, fs trove.FileStorage, _ func() error) {
	data := Data(230, 4000)
	first := saveFile(t, fs, trove.EventFile{ID: "f", Filename: "a"}, data)
	_, err := fs.SaveFile(context.Background(), trove.EventFile{ID: "f", Filename: "a"}, bytes.NewReader(Data(231, 4000)))
	wantErr(t, "SaveFile of other bytes", err, trove.ErrConflict)
	if got, _ := fs.GetFile(context.Background(), "f"); got != first {
		t.Fatalf("GetFile = %+v, want %+v", got, first)
	}
	if b := fileData(t, fs, "f"); !bytes.Equal(b, data) {
		t.Fatal("a conflicting save changed the bytes")
	}
}

func testFileNotFound(t *testing.T, fs trove.FileStorage, _ func() error) {
	_, err := fs.GetFile(context.Background(), "nope")
	wantErr(t, "GetFile", err, trove.ErrNotFound)
	_, err = fs.GetFileData(context.Background(), "nope")
	wantErr(t, "GetFileData", err, trove.ErrNotFound)
}

// testFileRange serves a file with http.ServeContent, which needs a seeking
// reader, and asks for a range.
func testFileRange(t *testing.T, fs trove.FileStorage, _ func() error) {
	data := Data(240, 100000)
	saveFile(t, fs, trove.EventFile{ID: "r", ContentType: "application/octet-stream"}, data)
	rc, err := fs.GetFileData(context.Background(), "r")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	rs, ok := rc.(io.ReadSeeker)
	if !ok {
		t.Fatalf("GetFileData returned a %T, which cannot seek", rc)
	}
	req := httptest.NewRequest("GET", "/files/r/data", nil)
	req.Header.Set("Range", "bytes=1000-1999")
	w := httptest.NewRecorder()
	http.ServeContent(w, req, "r", time.Time{}, rs)
	if w.Code != http.StatusPartialContent || !bytes.Equal(w.Body.Bytes(), data[1000:2000]) {
		t.Fatalf("range request: status %d, %d bytes", w.Code, w.Body.Len())
	}
}

func testFileConcurrent(t *testing.T, fs trove.FileStorage, _ func() error) {
	data := Data(250, 100000)
	const n = 5
	got := make([]trove.EventFile, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			got[i], errs[i] = fs.SaveFile(context.Background(), trove.EventFile{ID: "c", Filename: "c.bin"}, bytes.NewReader(data))
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || got[i] != got[0] {
			t.Fatalf("saver %d: %+v, %v; saver 0: %+v", i, got[i], errs[i], got[0])
		}
	}
}

func testFileClosed(t *testing.T, fs trove.FileStorage, close func() error) {
	ctx := context.Background()
	saveFile(t, fs, trove.EventFile{ID: "f"}, []byte("x"))
	if err := close(); err != nil {
		t.Fatal(err)
	}
	if err := close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	_, err := fs.SaveFile(ctx, trove.EventFile{ID: "g"}, strings.NewReader("x"))
	wantErr(t, "SaveFile after close", err, trove.ErrClosed)
	_, err = fs.GetFile(ctx, "f")
	wantErr(t, "GetFile after close", err, trove.ErrClosed)
	_, err = fs.GetFileData(ctx, "f")
	wantErr(t, "GetFileData after close", err, trove.ErrClosed)
}
