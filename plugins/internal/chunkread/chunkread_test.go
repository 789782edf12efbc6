package chunkread

import (
	"errors"
	"io"
	"testing"

	"github.com/trovedb/trove"
)

func reader(chunks [][]byte, size int64) *Reader {
	return &Reader{Pkg: "test", Table: "chunks", ID: "f", Size: size, ChunkSize: 4, Fetch: func(n int64, dst []byte) ([]byte, error) {
		if n >= int64(len(chunks)) {
			return nil, errors.New("no such chunk")
		}
		return append(dst, chunks[n]...), nil
	}}
}

func TestReadSeek(t *testing.T) {
	r := reader([][]byte{[]byte("abcd"), []byte("efgh"), []byte("ij")}, 10)
	b, err := io.ReadAll(r)
	if err != nil || string(b) != "abcdefghij" {
		t.Fatalf("ReadAll: %q %v", b, err)
	}
	if _, err := r.Seek(-3, io.SeekEnd); err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(r); string(b) != "hij" {
		t.Fatalf("after Seek: %q", b)
	}
	if _, err := r.Seek(-1, io.SeekStart); err == nil {
		t.Fatal("a negative offset was accepted")
	}
	r.Close()
	if _, err := r.Read(make([]byte, 1)); !errors.Is(err, trove.ErrClosed) {
		t.Fatalf("Read after Close: %v", err)
	}
}

// A chunk shorter than the file says, or missing, is corruption, never a
// panic or a short file read as whole.
func TestDamagedChunks(t *testing.T) {
	for name, r := range map[string]*Reader{
		"short chunk":   reader([][]byte{[]byte("abcd"), []byte("e")}, 8),
		"missing chunk": reader([][]byte{[]byte("abcd")}, 8),
	} {
		_, err := io.ReadAll(r)
		var ce *trove.CorruptionError
		if !errors.As(err, &ce) || ce.File != "chunks" {
			t.Errorf("%s: %v, want a CorruptionError", name, err)
		}
	}
}
