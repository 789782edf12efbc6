// Package chunkread reads a file stored as numbered chunks of a fixed size
// (storage-sqlite and storage-postgres keep file bytes so), one chunk
// fetched at a time, as an io.ReadSeekCloser.
package chunkread

import (
	"fmt"
	"io"

	"github.com/trovedb/trove"
)

// Reader reads a chunked file. Fetch returns chunk n (0-based), reusing
// dst's memory when it can; every chunk but the last is ChunkSize bytes.
// A chunk that cannot be fetched, or is shorter than the file says, is a
// *trove.CorruptionError naming Table. Not safe for concurrent use.
type Reader struct {
	Pkg       string // starts error texts ("sqlite")
	Table     string // where the chunks live, for corruption errors
	ID        string // the file id
	Size      int64
	ChunkSize int64
	Fetch     func(n int64, dst []byte) ([]byte, error)

	off    int64
	chunk  []byte // the chunk holding off, or nil
	n      int64  // its number
	closed bool
}

var _ io.ReadSeekCloser = (*Reader)(nil)

// Read reads from the current offset.
func (r *Reader) Read(p []byte) (int, error) {
	if r.closed {
		return 0, fmt.Errorf("%s: file %s: read after close: %w", r.Pkg, r.ID, trove.ErrClosed)
	}
	if r.off >= r.Size {
		return 0, io.EOF
	}
	n := r.off / r.ChunkSize
	if r.chunk == nil || r.n != n {
		chunk, err := r.Fetch(n, r.chunk[:0])
		if err != nil {
			r.chunk = nil
			return 0, &trove.CorruptionError{File: r.Table, Offset: r.off, Reason: fmt.Sprintf("file %s chunk %d: %v", r.ID, n, err)}
		}
		r.chunk, r.n = chunk, n
	}
	i := r.off - n*r.ChunkSize
	if i >= int64(len(r.chunk)) {
		return 0, &trove.CorruptionError{File: r.Table, Offset: r.off, Reason: fmt.Sprintf("file %s chunk %d is short", r.ID, n)}
	}
	m := copy(p, r.chunk[i:])
	r.off += int64(m)
	return m, nil
}

// Seek sets the offset of the next Read.
func (r *Reader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += r.off
	case io.SeekEnd:
		offset += r.Size
	default:
		return r.off, fmt.Errorf("%s: file %s: bad whence %d", r.Pkg, r.ID, whence)
	}
	if offset < 0 {
		return r.off, fmt.Errorf("%s: file %s: negative offset", r.Pkg, r.ID)
	}
	r.off = offset
	return offset, nil
}

// Close ends the reader; a Read after it is ErrClosed.
func (r *Reader) Close() error {
	r.closed = true
	r.chunk = nil
	return nil
}
