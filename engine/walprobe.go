package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

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
// Which files it takes is package segment's business (segment.CopyWAL).
type walCopy struct {
	dir string // the temporary directory
}

// lastWALIndex returns the first WAL index of the tail file of the WAL in
// dir (0 when there is none): recovery can cut only entries from there on.
func lastWALIndex(dir string) (uint64, error) { return segment.WALTailStart(dir) }

// copyWAL copies the WAL files of src that hold entries from index from on
// into a new temporary directory.
func copyWAL(src string, from uint64) (*walCopy, error) {
	dir, err := os.MkdirTemp("", "trove-wal-*")
	if err != nil {
		return nil, err
	}
	if err := segment.CopyWAL(src, dir, from); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &walCopy{dir: dir}, nil
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
		file:   inDir(rec.File, c.dir, src),
		offset: rec.Offset,
		first:  w.NextIndex(),
		reason: rec.Reason,
	}, nil
}

// inDir rewrites path, a file under from, to the same file under to.
func inDir(path, from, to string) string {
	if rel, err := filepath.Rel(from, path); err == nil {
		return filepath.Join(to, rel)
	}
	return path
}

// relocate rewrites the file of a corruption error found in the copy to
// the store's own file.
func relocate(err error, from, to string) error {
	var c *trove.CorruptionError
	if errors.As(err, &c) {
		c.File = inDir(c.File, from, to)
	}
	return fmt.Errorf("engine: open: %w", err)
}
