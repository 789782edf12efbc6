package blobtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/blob"
)

// Run runs the conformance suite; open returns a new, empty store for each
// subtest and arranges its own cleanup.
func Run(t *testing.T, open func(t testing.TB) blob.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s blob.Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"NotFound", testNotFound},
		{"InvalidInput", testInvalidInput},
		{"SameBytesIdempotent", testIdempotent},
		{"OtherBytesConflict", testConflict},
		{"ExpectedDigest", testExpectedDigest},
		{"FailedStreamStoresNothing", testFailedStream},
		{"CanceledContextStoresNothing", testCanceled},
		{"SharedBytes", testSharedBytes},
		{"Delete", testDelete},
		{"Seek", testSeek},
		{"ConcurrentSameBytes", testConcurrentSame},
		{"ConcurrentOtherBytes", testConcurrentOther},
		{"Metadata", testMetadata},
		{"ManyKeys", testManyKeys},
		{"Close", testClose},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, open(t))
		})
	}
}

// Data returns n deterministic pseudo-random bytes for seed.
func Data(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

// Digest returns the lower-case hex SHA-256 of b.
func Digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func put(t *testing.T, s blob.Store, key string, data []byte, opts blob.PutOptions) blob.Info {
	t.Helper()
	info, err := s.Put(context.Background(), key, bytes.NewReader(data), opts)
	if err != nil {
		t.Fatalf("Put(%s): %v", key, err)
	}
	return info
}

func get(t *testing.T, s blob.Store, key string) ([]byte, blob.Info) {
	t.Helper()
	rc, info, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%s): %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("Get(%s): read: %v", key, err)
	}
	return b, info
}

func sameInfo(t *testing.T, what string, got, want blob.Info) {
	t.Helper()
	if got.Key != want.Key || got.Size != want.Size || got.SHA256 != want.SHA256 || got.ContentType != want.ContentType || !sameMeta(got.Metadata, want.Metadata) {
		t.Fatalf("%s: Info = %+v, want %+v", what, got, want)
	}
}

func sameMeta(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: error = %v, want %v", what, err, target)
	}
}

func testRoundTrip(t *testing.T, s blob.Store) {
	for i, n := range []int{0, 1, 1000, 256<<10 + 1, 6<<20 + 3} {
		key := fmt.Sprintf("obj-%d", i)
		data := Data(uint64(i), n)
		want := blob.Info{Key: key, Size: int64(n), SHA256: Digest(data), ContentType: "application/octet-stream", Metadata: map[string]string{"filename": "f.bin"}}
		info := put(t, s, key, data, blob.PutOptions{ContentType: want.ContentType, Metadata: want.Metadata})
		sameInfo(t, "Put", info, want)
		got, ginfo := get(t, s, key)
		if !bytes.Equal(got, data) {
			t.Fatalf("Get(%s): %d bytes differ from the %d put", key, len(got), n)
		}
		sameInfo(t, "Get", ginfo, want)
		st, err := s.Stat(context.Background(), key)
		if err != nil {
			t.Fatal(err)
		}
		sameInfo(t, "Stat", st, want)
	}
}

func testNotFound(t *testing.T, s blob.Store) {
	ctx := context.Background()
	_, _, err := s.Get(ctx, "absent")
	wantErr(t, "Get", err, trove.ErrNotFound)
	_, err = s.Stat(ctx, "absent")
	wantErr(t, "Stat", err, trove.ErrNotFound)
	wantErr(t, "Delete", s.Delete(ctx, "absent"), trove.ErrNotFound)
}

func testInvalidInput(t *testing.T, s blob.Store) {
	ctx := context.Background()
	for _, key := range []string{"", ".", "..", "a/b", "../x", "a\\b", "a b", "é", "x\x00", strings.Repeat("k", 129)} {
		_, err := s.Put(ctx, key, strings.NewReader("x"), blob.PutOptions{})
		wantErr(t, fmt.Sprintf("Put(%q)", key), err, trove.ErrInvalid)
		_, _, err = s.Get(ctx, key)
		wantErr(t, fmt.Sprintf("Get(%q)", key), err, trove.ErrInvalid)
		_, err = s.Stat(ctx, key)
		wantErr(t, fmt.Sprintf("Stat(%q)", key), err, trove.ErrInvalid)
		wantErr(t, fmt.Sprintf("Delete(%q)", key), s.Delete(ctx, key), trove.ErrInvalid)
	}
	put(t, s, strings.Repeat("k", 128), []byte("x"), blob.PutOptions{})
	put(t, s, "A.b_c-9", []byte("x"), blob.PutOptions{})
	for name, opts := range map[string]blob.PutOptions{
		"metadata name":  {Metadata: map[string]string{"Bad_Name": "v"}},
		"empty name":     {Metadata: map[string]string{"": "v"}},
		"huge metadata":  {Metadata: map[string]string{"big": strings.Repeat("v", blob.MaxMetadataSize+1)}},
		"digest not hex": {SHA256: strings.Repeat("z", 64)},
		"digest short":   {SHA256: "abc"},
	} {
		_, err := s.Put(ctx, "opts", strings.NewReader("x"), opts)
		wantErr(t, "Put with bad "+name, err, trove.ErrInvalid)
	}
	_, err := s.Stat(ctx, "opts")
	wantErr(t, "Stat after refused puts", err, trove.ErrNotFound)
}

func testIdempotent(t *testing.T, s blob.Store) {
	data := Data(7, 5000)
	first := put(t, s, "k", data, blob.PutOptions{ContentType: "text/plain", Metadata: map[string]string{"filename": "a.txt"}})
	again := put(t, s, "k", data, blob.PutOptions{ContentType: "image/png", Metadata: map[string]string{"filename": "b.png"}})
	sameInfo(t, "second Put of the same bytes", again, first)
	withDigest := put(t, s, "k", data, blob.PutOptions{SHA256: Digest(data)})
	sameInfo(t, "third Put with the digest", withDigest, first)
	got, info := get(t, s, "k")
	if !bytes.Equal(got, data) {
		t.Fatal("bytes changed")
	}
	sameInfo(t, "Get", info, first)
}

func testConflict(t *testing.T, s blob.Store) {
	data := Data(8, 5000)
	first := put(t, s, "k", data, blob.PutOptions{ContentType: "text/plain"})
	_, err := s.Put(context.Background(), "k", bytes.NewReader(Data(9, 5000)), blob.PutOptions{ContentType: "text/plain"})
	wantErr(t, "Put of other bytes", err, trove.ErrConflict)
	_, err = s.Put(context.Background(), "k", bytes.NewReader(data[:4999]), blob.PutOptions{})
	wantErr(t, "Put of a prefix", err, trove.ErrConflict)
	got, info := get(t, s, "k")
	if !bytes.Equal(got, data) {
		t.Fatal("a conflicting Put changed the bytes")
	}
	sameInfo(t, "Get after conflicts", info, first)
}

func testExpectedDigest(t *testing.T, s blob.Store) {
	ctx := context.Background()
	data := Data(10, 70000)
	info := put(t, s, "good", data, blob.PutOptions{SHA256: Digest(data)})
	if info.SHA256 != Digest(data) {
		t.Fatalf("SHA256 = %s", info.SHA256)
	}
	_, err := s.Put(ctx, "bad", bytes.NewReader(data), blob.PutOptions{SHA256: Digest([]byte("other"))})
	wantErr(t, "Put with a wrong digest", err, trove.ErrInvalid)
	_, err = s.Stat(ctx, "bad")
	wantErr(t, "Stat after a wrong digest", err, trove.ErrNotFound)
	_, err = s.Put(ctx, "good", bytes.NewReader(data), blob.PutOptions{SHA256: Digest([]byte("other"))})
	wantErr(t, "Put of a stored key with a wrong digest", err, trove.ErrInvalid)
	// The bad key is free for the right bytes.
	put(t, s, "bad", data, blob.PutOptions{SHA256: Digest(data)})
}

// failingReader yields n bytes then fails.
type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

var errStream = errors.New("blobtest: stream broke")

func testFailedStream(t *testing.T, s blob.Store) {
	ctx := context.Background()
	for _, n := range []int{0, 100, 6 << 20} {
		key := fmt.Sprintf("broken-%d", n)
		_, err := s.Put(ctx, key, &failingReader{r: bytes.NewReader(Data(11, n)), err: errStream}, blob.PutOptions{})
		if err == nil {
			t.Fatalf("Put(%s) of a failing stream succeeded", key)
		}
		_, err = s.Stat(ctx, key)
		wantErr(t, "Stat after a failed Put", err, trove.ErrNotFound)
		_, _, err = s.Get(ctx, key)
		wantErr(t, "Get after a failed Put", err, trove.ErrNotFound)
	}
	// A stored key keeps its bytes when a retry's stream fails.
	data := Data(12, 1000)
	put(t, s, "kept", data, blob.PutOptions{})
	_, err := s.Put(ctx, "kept", &failingReader{r: bytes.NewReader(data), err: errStream}, blob.PutOptions{})
	if err == nil {
		t.Fatal("Put of a failing stream on a stored key succeeded")
	}
	if got, _ := get(t, s, "kept"); !bytes.Equal(got, data) {
		t.Fatal("bytes changed")
	}
}

// cancelReader cancels its context after the first read.
type cancelReader struct {
	r      io.Reader
	cancel context.CancelFunc
}

func (c *cancelReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.cancel()
	return n, err
}

func testCanceled(t *testing.T, s blob.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	data := Data(13, 6<<20)
	_, err := s.Put(ctx, "canceled", &cancelReader{r: &slowReader{r: bytes.NewReader(data)}, cancel: cancel}, blob.PutOptions{})
	if err == nil {
		t.Fatal("Put with a canceled context succeeded")
	}
	_, err = s.Stat(context.Background(), "canceled")
	wantErr(t, "Stat after a canceled Put", err, trove.ErrNotFound)
}

// slowReader returns at most 64 KiB per Read, so a cancellation lands
// before the stream ends.
type slowReader struct{ r io.Reader }

func (s *slowReader) Read(p []byte) (int, error) {
	if len(p) > 64<<10 {
		p = p[:64<<10]
	}
	return s.r.Read(p)
}

func testSharedBytes(t *testing.T, s blob.Store) {
	data := Data(14, 300000)
	a := put(t, s, "a", data, blob.PutOptions{ContentType: "text/a"})
	b := put(t, s, "b", data, blob.PutOptions{ContentType: "text/b"})
	if a.SHA256 != b.SHA256 || a.ContentType == b.ContentType {
		t.Fatalf("infos %+v and %+v", a, b)
	}
	if err := s.Delete(context.Background(), "a"); err != nil {
		t.Fatal(err)
	}
	got, info := get(t, s, "b")
	if !bytes.Equal(got, data) {
		t.Fatal("deleting one key damaged another with the same bytes")
	}
	sameInfo(t, "Get b", info, b)
}

func testDelete(t *testing.T, s blob.Store) {
	ctx := context.Background()
	put(t, s, "k", Data(15, 1000), blob.PutOptions{})
	if err := s.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	_, err := s.Stat(ctx, "k")
	wantErr(t, "Stat after Delete", err, trove.ErrNotFound)
	_, _, err = s.Get(ctx, "k")
	wantErr(t, "Get after Delete", err, trove.ErrNotFound)
	wantErr(t, "second Delete", s.Delete(ctx, "k"), trove.ErrNotFound)
	other := Data(16, 2000)
	put(t, s, "k", other, blob.PutOptions{})
	if got, _ := get(t, s, "k"); !bytes.Equal(got, other) {
		t.Fatal("the key does not hold its new bytes after Delete and Put")
	}
}

func testSeek(t *testing.T, s blob.Store) {
	data := Data(17, 1<<20+5)
	put(t, s, "k", data, blob.PutOptions{})
	rc, _, err := s.Get(context.Background(), "k")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	sk, ok := rc.(io.Seeker)
	if !ok {
		t.Skip("the store's readers do not seek")
	}
	end, err := sk.Seek(0, io.SeekEnd)
	if err != nil || end != int64(len(data)) {
		t.Fatalf("Seek(0, End) = %d, %v; want %d", end, err, len(data))
	}
	for _, off := range []int64{0, 1, 700000, int64(len(data)) - 1, int64(len(data))} {
		pos, err := sk.Seek(off, io.SeekStart)
		if err != nil || pos != off {
			t.Fatalf("Seek(%d) = %d, %v", off, pos, err)
		}
		buf := make([]byte, 1000)
		n, err := io.ReadFull(rc, buf)
		if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
			t.Fatalf("read at %d: %v", off, err)
		}
		want := data[off:min(off+1000, int64(len(data)))]
		if !bytes.Equal(buf[:n], want) {
			t.Fatalf("read at %d: %d bytes, not the stored ones", off, n)
		}
	}
	if _, err := sk.Seek(-10, io.SeekCurrent); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(rc)
	if err != nil || !bytes.Equal(rest, data[len(data)-10:]) {
		t.Fatalf("read after SeekCurrent: %d bytes, %v", len(rest), err)
	}
}

func testConcurrentSame(t *testing.T, s blob.Store) {
	data := Data(18, 200000)
	const n = 6
	infos := make([]blob.Info, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			infos[i], errs[i] = s.Put(context.Background(), "k", bytes.NewReader(data), blob.PutOptions{ContentType: "text/plain"})
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("writer %d: %v", i, errs[i])
		}
		sameInfo(t, fmt.Sprintf("writer %d", i), infos[i], infos[0])
	}
	if got, _ := get(t, s, "k"); !bytes.Equal(got, data) {
		t.Fatal("bytes differ")
	}
}

func testConcurrentOther(t *testing.T, s blob.Store) {
	for _, size := range []int{200000, 6<<20 + 1} {
		for _, withDigest := range []bool{false, true} {
			t.Run(fmt.Sprintf("%d-bytes-digest-%v", size, withDigest), func(t *testing.T) {
				concurrentOther(t, s, size, withDigest)
			})
		}
	}
}

func concurrentOther(t *testing.T, s blob.Store, size int, withDigest bool) {
	const n = 3
	key := fmt.Sprintf("k-%d-%v", size, withDigest)
	datas := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		datas[i] = Data(uint64(100+i), size)
		var opts blob.PutOptions
		if withDigest {
			opts.SHA256 = Digest(datas[i])
		}
		wg.Go(func() {
			_, errs[i] = s.Put(context.Background(), key, bytes.NewReader(datas[i]), opts)
		})
	}
	wg.Wait()
	winner := -1
	for i := range n {
		switch {
		case errs[i] == nil && winner >= 0:
			t.Fatalf("writers %d and %d both stored other bytes under one key", winner, i)
		case errs[i] == nil:
			winner = i
		default:
			wantErr(t, fmt.Sprintf("writer %d", i), errs[i], trove.ErrConflict)
		}
	}
	if winner < 0 {
		t.Fatal("no writer succeeded")
	}
	if got, _ := get(t, s, key); !bytes.Equal(got, datas[winner]) {
		t.Fatal("the key does not hold the winner's bytes")
	}
}

func testMetadata(t *testing.T, s blob.Store) {
	meta := map[string]string{
		"filename": "Résumé 2025 — final (v2).pdf",
		"note":     "a b/c?d=e&f%20 + \"q\"\ttab",
		"empty":    "",
		"x-1":      "日本語",
	}
	want := put(t, s, "k", []byte("hello"), blob.PutOptions{ContentType: "application/pdf; charset=binary", Metadata: meta})
	if !sameMeta(want.Metadata, meta) {
		t.Fatalf("Put metadata = %q, want %q", want.Metadata, meta)
	}
	st, err := s.Stat(context.Background(), "k")
	if err != nil {
		t.Fatal(err)
	}
	sameInfo(t, "Stat", st, want)
	_, gi := get(t, s, "k")
	sameInfo(t, "Get", gi, want)
	plain := put(t, s, "plain", []byte("x"), blob.PutOptions{})
	if plain.ContentType != "" && plain.ContentType != "application/octet-stream" {
		t.Fatalf("ContentType without one = %q", plain.ContentType)
	}
	if len(plain.Metadata) != 0 {
		t.Fatalf("Metadata without any = %q", plain.Metadata)
	}
}

func testManyKeys(t *testing.T, s blob.Store) {
	const n = 40
	for i := range n {
		put(t, s, fmt.Sprintf("key-%03d", i), Data(uint64(1000+i), 100+i), blob.PutOptions{})
	}
	for i := range n {
		key := fmt.Sprintf("key-%03d", i)
		got, info := get(t, s, key)
		if !bytes.Equal(got, Data(uint64(1000+i), 100+i)) || info.Size != int64(100+i) {
			t.Fatalf("%s: wrong bytes or size %d", key, info.Size)
		}
	}
}

func testClose(t *testing.T, s blob.Store) {
	ctx := context.Background()
	data := Data(19, 100000)
	put(t, s, "k", data, blob.PutOptions{})
	rc, _, err := s.Get(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_, err = s.Put(ctx, "new", strings.NewReader("x"), blob.PutOptions{})
	wantErr(t, "Put after Close", err, trove.ErrClosed)
	_, _, err = s.Get(ctx, "k")
	wantErr(t, "Get after Close", err, trove.ErrClosed)
	_, err = s.Stat(ctx, "k")
	wantErr(t, "Stat after Close", err, trove.ErrClosed)
	wantErr(t, "Delete after Close", s.Delete(ctx, "k"), trove.ErrClosed)
	got, err := io.ReadAll(rc)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("a reader opened before Close: %d bytes, %v", len(got), err)
	}
}
