package engine

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/segment"
)

// walTail is what a WAL recovery cut (or would cut) from the log's tail.
type walTail struct {
	file   string // the damaged tidwall file, in the store's own wal/ directory
	offset int64  // byte offset of the first entry dropped
	first  uint64 // WAL index of the first entry dropped
	reason string
}

// walCopy is a private copy of (part of) a store's WAL directory, so that
// segment.OpenWAL can verify and repair it without touching the store.
type walCopy struct {
	dir      string // the temporary directory
	lastName string // name of the newest tidwall file copied
	lastSize int64  // its size before any repair
}

// isWALName reports whether name is a tidwall file (20 digits, optionally
// a suffix of an interrupted truncation) and returns its first index.
func isWALName(name string) (uint64, bool) {
	if len(name) < 20 {
		return 0, false
	}
	idx, err := strconv.ParseUint(name[:20], 10, 64)
	return idx, err == nil && idx > 0
}

// lastWALIndex returns the first WAL index of the newest tidwall file in
// dir (0 when there is none).
func lastWALIndex(dir string) (uint64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		return 0, err
	}
	var last uint64
	for _, e := range ents {
		if idx, ok := isWALName(e.Name()); ok && len(e.Name()) == 20 && !e.IsDir() {
			last = max(last, idx)
		}
	}
	return last, nil
}

// copyWAL copies the tidwall files of src whose first index is at least
// from, plus any file of an interrupted truncation, into a new temporary
// directory.
func copyWAL(src string, from uint64) (*walCopy, error) {
	ents, err := os.ReadDir(src)
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "trove-wal-*")
	if err != nil {
		return nil, err
	}
	c := &walCopy{dir: dir}
	var lastIdx uint64
	for _, e := range ents {
		idx, ok := isWALName(e.Name())
		if !ok || e.IsDir() {
			continue
		}
		plain := len(e.Name()) == 20
		if plain && idx < from {
			continue
		}
		n, err := copyFile(filepath.Join(src, e.Name()), filepath.Join(dir, e.Name()))
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		if plain && idx >= lastIdx {
			lastIdx, c.lastName, c.lastSize = idx, e.Name(), n
		}
	}
	return c, nil
}

func copyFile(from, to string) (int64, error) {
	in, err := os.Open(from)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return n, err
}

// open runs segment.OpenWAL on the copy and says what its recovery cut,
// located in the store's own WAL directory src.
func (c *walCopy) open(src string, opts segment.WALOptions) (*segment.WAL, *walTail, error) {
	w, rec, err := segment.OpenWAL(c.dir, opts)
	if err != nil {
		return nil, nil, relocate(err, c.dir, src)
	}
	if rec.TruncatedBytes == 0 && rec.TruncatedEntries == 0 {
		return w, nil, nil
	}
	return w, &walTail{
		file:   filepath.Join(src, c.lastName),
		offset: c.lastSize - rec.TruncatedBytes,
		first:  w.NextIndex(),
		reason: rec.Reason,
	}, nil
}

// relocate rewrites the file of a corruption error found in the copy to
// the store's own file.
func relocate(err error, from, to string) error {
	var c *trove.CorruptionError
	if errors.As(err, &c) {
		if rel, rerr := filepath.Rel(from, c.File); rerr == nil {
			c.File = filepath.Join(to, rel)
		}
	}
	return fmt.Errorf("engine: open: %w", err)
}
