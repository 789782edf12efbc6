package storagetest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trovedb/trove"
)

func fileTests() []test {
	return []test{
		{"RoundTrip", testFileRoundTrip},
		{"ClientHash", testFileClientHash},
		{"SameIDSameBytes", testFileIdempotent},
		{"SameIDOtherBytes", testFileConflict},
		{"BadIDs", testFileBadIDs},
		{"NotFound", testFileNotFound},
		{"Large", testFileLarge},
	}
}

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(h[:])
}

func (s *store) saveFile(f trove.EventFile, data []byte) trove.EventFile {
	s.t.Helper()
	out, err := s.fs.SaveFile(s.ctx, f, bytes.NewReader(data))
	if err != nil {
		s.t.Fatalf("SaveFile(%s): %v", f.ID, err)
	}
	return out
}

func (s *store) fileData(id string) []byte {
	s.t.Helper()
	r, err := s.fs.GetFileData(s.ctx, id)
	if err != nil {
		s.t.Fatalf("GetFileData(%s): %v", id, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		s.t.Fatalf("GetFileData(%s): read: %v", id, err)
	}
	return b
}

func checkFile(t testing.TB, what string, got, want trove.EventFile) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: file %+v, want %+v", what, got, want)
	}
}

func testFileRoundTrip(t *testing.T, k *kit) {
	s := k.open(t, "files")
	data := []byte("%PDF-1.7 annual report\n\x00\x01\x02binary")
	got := s.saveFile(trove.EventFile{ID: "report-2025.pdf", ContentType: "application/pdf", Filename: "r.pdf", Size: 3}, data)
	want := trove.EventFile{ID: "report-2025.pdf", ContentType: "application/pdf", Filename: "r.pdf", Size: int64(len(data)), Hash: sha(data)}
	checkFile(t, "SaveFile", got, want)
	checkFile(t, "GetFile", mustGetFile(t, s, "report-2025.pdf"), want)
	if b := s.fileData("report-2025.pdf"); !bytes.Equal(b, data) {
		t.Fatalf("GetFileData: %q, want %q", b, data)
	}
	// A reader that seeks serves ranges.
	r, err := s.fs.GetFileData(s.ctx, "report-2025.pdf")
	noErr(t, "GetFileData", err)
	if sk, ok := r.(io.Seeker); ok {
		if _, err := sk.Seek(5, io.SeekStart); err != nil {
			t.Fatalf("Seek: %v", err)
		}
		rest, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(rest, data[5:]) {
			t.Fatalf("read after Seek(5): %q, %v; want %q", rest, err, data[5:])
		}
	}
	noErr(t, "Close", r.Close())
	// An empty file and the edges of the id alphabet.
	empty := s.saveFile(trove.EventFile{ID: "empty"}, nil)
	checkFile(t, "empty file", empty, trove.EventFile{ID: "empty", Size: 0, Hash: sha(nil)})
	if b := s.fileData("empty"); len(b) != 0 {
		t.Fatalf("empty file read back %d bytes", len(b))
	}
	for _, id := range []string{strings.Repeat("a", 128), "A-Z_a.z-0.9", "...", "-", "_x"} {
		d := []byte("id " + id)
		checkFile(t, "file "+id, s.saveFile(trove.EventFile{ID: id}, d), trove.EventFile{ID: id, Size: int64(len(d)), Hash: sha(d)})
		if b := s.fileData(id); !bytes.Equal(b, d) {
			t.Fatalf("file %s read back %q", id, b)
		}
	}
	// Inline data in the metadata is not stored as metadata.
	withData := s.saveFile(trove.EventFile{ID: "inline", Data: "aGVsbG8="}, []byte("hello"))
	if withData.Data != "" || mustGetFile(t, s, "inline").Data != "" {
		t.Fatalf("stored file metadata keeps data %q", withData.Data)
	}
}

func mustGetFile(t testing.TB, s *store, id string) trove.EventFile {
	t.Helper()
	f, err := s.fs.GetFile(s.ctx, id)
	if err != nil {
		t.Fatalf("GetFile(%s): %v", id, err)
	}
	return f
}

func testFileClientHash(t *testing.T, k *kit) {
	s := k.open(t, "files")
	data := []byte("checked bytes")
	got := s.saveFile(trove.EventFile{ID: "good", Hash: sha(data)}, data)
	if got.Hash != sha(data) {
		t.Fatalf("hash %s, want %s", got.Hash, sha(data))
	}
	_, err := s.fs.SaveFile(s.ctx, trove.EventFile{ID: "bad", Hash: sha([]byte("other"))}, bytes.NewReader(data))
	wantErr(t, "SaveFile with a mismatching hash", err, trove.ErrInvalid)
	_, err = s.fs.GetFile(s.ctx, "bad")
	wantErr(t, "GetFile after a refused save", err, trove.ErrNotFound)
	_, err = s.fs.GetFileData(s.ctx, "bad")
	wantErr(t, "GetFileData after a refused save", err, trove.ErrNotFound)
	// The id is still free.
	s.saveFile(trove.EventFile{ID: "bad"}, []byte("now fine"))
	if b := s.fileData("bad"); string(b) != "now fine" {
		t.Fatalf("read back %q", b)
	}
}

func testFileIdempotent(t *testing.T, k *kit) {
	s := k.open(t, "files")
	data := []byte("same bytes twice")
	first := s.saveFile(trove.EventFile{ID: "twice", ContentType: "text/plain"}, data)
	again := s.saveFile(trove.EventFile{ID: "twice", ContentType: "text/plain"}, data)
	checkFile(t, "second save", again, first)
	if b := s.fileData("twice"); !bytes.Equal(b, data) {
		t.Fatalf("read back %q", b)
	}
}

func testFileConflict(t *testing.T, k *kit) {
	s := k.open(t, "files")
	data := []byte("original")
	first := s.saveFile(trove.EventFile{ID: "once"}, data)
	_, err := s.fs.SaveFile(s.ctx, trove.EventFile{ID: "once"}, strings.NewReader("different"))
	wantErr(t, "SaveFile of an existing id with other bytes", err, trove.ErrConflict)
	_, err = s.fs.SaveFile(s.ctx, trove.EventFile{ID: "once"}, strings.NewReader(""))
	wantErr(t, "SaveFile of an existing id with no bytes", err, trove.ErrConflict)
	checkFile(t, "GetFile after conflicts", mustGetFile(t, s, "once"), first)
	if b := s.fileData("once"); !bytes.Equal(b, data) {
		t.Fatalf("read back %q after a conflict", b)
	}
}

func testFileBadIDs(t *testing.T, k *kit) {
	s := k.open(t, "files")
	bad := []string{"../x", "a/b", ".", "..", "", strings.Repeat("a", 129), "x\x00", "/etc/passwd", `a\b`, "a b", "é", "../../" + filepath.Base(s.dir), "x:y", "%2e%2e"}
	for _, id := range bad {
		_, err := s.fs.SaveFile(s.ctx, trove.EventFile{ID: id}, strings.NewReader("escape"))
		wantErr(t, "SaveFile("+id+")", err, trove.ErrInvalid)
		_, err = s.fs.GetFile(s.ctx, id)
		if !errors.Is(err, trove.ErrInvalid) && !errors.Is(err, trove.ErrNotFound) {
			t.Fatalf("GetFile(%q): %v, want ErrInvalid or ErrNotFound", id, err)
		}
		r, err := s.fs.GetFileData(s.ctx, id)
		if err == nil {
			r.Close()
		}
		if !errors.Is(err, trove.ErrInvalid) && !errors.Is(err, trove.ErrNotFound) {
			t.Fatalf("GetFileData(%q): %v, want ErrInvalid or ErrNotFound", id, err)
		}
	}
	// Nothing escaped next to the store's directory.
	if _, err := os.Stat(filepath.Join(filepath.Dir(s.dir), "x")); err == nil {
		t.Fatalf("a file named x appeared next to the store's directory")
	}
}

func testFileNotFound(t *testing.T, k *kit) {
	s := k.open(t, "files")
	s.saveFile(trove.EventFile{ID: "present"}, []byte("x"))
	_, err := s.fs.GetFile(s.ctx, "absent")
	wantErr(t, "GetFile(absent)", err, trove.ErrNotFound)
	_, err = s.fs.GetFileData(s.ctx, "absent")
	wantErr(t, "GetFileData(absent)", err, trove.ErrNotFound)
	_, err = s.fs.GetFile(s.ctx, "Present")
	wantErr(t, "GetFile(Present): ids are case sensitive", err, trove.ErrNotFound)
}

// largeSize is just over 64 MiB: a backend that holds a file in memory
// shows it on the heap.
const largeSize = 64<<20 + 12345

// heapWatch records the largest HeapInuse seen.
type heapWatch struct {
	base uint64
	peak atomic.Uint64
	stop chan struct{}
	done sync.WaitGroup
}

func watchHeap() *heapWatch {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	w := &heapWatch{base: m.HeapInuse, stop: make(chan struct{})}
	w.peak.Store(m.HeapInuse)
	w.done.Add(1)
	go func() {
		defer w.done.Done()
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-tick.C:
				w.sample()
			}
		}
	}()
	return w
}

func (w *heapWatch) sample() {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	for {
		p := w.peak.Load()
		if m.HeapInuse <= p || w.peak.CompareAndSwap(p, m.HeapInuse) {
			return
		}
	}
}

// growth stops the watch and returns the peak growth over the baseline.
func (w *heapWatch) growth() uint64 {
	close(w.stop)
	w.done.Wait()
	w.sample()
	if p := w.peak.Load(); p > w.base {
		return p - w.base
	}
	return 0
}

// genReader produces n bytes of a pseudo-random pattern whose length is
// prime to every buffer size, hashing them as it goes and sampling the heap
// every MiB.
type genReader struct {
	left    int64
	pattern []byte
	off     int
	hash    interface {
		io.Writer
		Sum([]byte) []byte
	}
	w    *heapWatch
	next int64
}

func newGenReader(n int64, w *heapWatch) *genReader {
	p := make([]byte, 64<<10+7)
	state := uint64(0x9e3779b97f4a7c15)
	for i := range p {
		state ^= state << 13
		state ^= state >> 7
		state ^= state << 17
		p[i] = byte(state)
	}
	return &genReader{left: n, pattern: p, hash: sha256.New(), w: w, next: n - 1<<20}
}

func (g *genReader) Read(p []byte) (int, error) {
	if g.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > g.left {
		p = p[:g.left]
	}
	n := 0
	for n < len(p) {
		c := copy(p[n:], g.pattern[g.off:])
		n += c
		g.off = (g.off + c) % len(g.pattern)
	}
	g.hash.Write(p)
	g.left -= int64(len(p))
	if g.left <= g.next {
		g.w.sample()
		g.next -= 1 << 20
	}
	return len(p), nil
}

func testFileLarge(t *testing.T, k *kit) {
	s := k.open(t, "files")
	w := watchHeap()
	gen := newGenReader(largeSize, w)
	got, err := s.fs.SaveFile(s.ctx, trove.EventFile{ID: "large.bin", ContentType: "application/octet-stream"}, gen)
	if err != nil {
		w.growth()
		t.Fatalf("SaveFile of %d bytes: %v", largeSize, err)
	}
	w.sample()
	wantHash := "sha256:" + hex.EncodeToString(gen.hash.Sum(nil))
	if got.Size != largeSize || got.Hash != wantHash {
		w.growth()
		t.Fatalf("SaveFile: size %d hash %s, want %d %s", got.Size, got.Hash, largeSize, wantHash)
	}
	r, err := s.fs.GetFileData(s.ctx, "large.bin")
	if err != nil {
		w.growth()
		t.Fatalf("GetFileData: %v", err)
	}
	h := sha256.New()
	buf := make([]byte, 64<<10)
	var n int64
	for {
		m, err := r.Read(buf)
		h.Write(buf[:m])
		if n/(1<<20) != (n+int64(m))/(1<<20) {
			w.sample()
		}
		n += int64(m)
		if err == io.EOF {
			break
		}
		if err != nil {
			r.Close()
			w.growth()
			t.Fatalf("GetFileData: read after %d bytes: %v", n, err)
		}
	}
	noErr(t, "close", r.Close())
	growth := w.growth()
	if n != largeSize || "sha256:"+hex.EncodeToString(h.Sum(nil)) != wantHash {
		t.Fatalf("GetFileData: read %d bytes hashing to %x, want %d bytes %s", n, h.Sum(nil), largeSize, wantHash)
	}
	t.Logf("%d-byte file streamed in and out; heap in use grew by at most %.1f MiB", largeSize, float64(growth)/(1<<20))
	if growth > 24<<20 {
		t.Fatalf("heap in use grew by %.1f MiB while streaming a %.1f MiB file: the backend holds file bytes in memory", float64(growth)/(1<<20), float64(largeSize)/(1<<20))
	}
}
