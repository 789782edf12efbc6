package segment

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/trovedb/trove"
)

// recoverDir verifies every frame in the WAL directory and truncates a torn
// tail (FORMAT.md §2.4). It must run before tidwall opens the directory.
func recoverDir(dir string) (Recovery, error) {
	if err := finishTruncation(dir); err != nil {
		return Recovery{}, wrapOpen(err)
	}
	files, err := listWALFiles(dir)
	if err != nil {
		return Recovery{}, wrapOpen(err)
	}
	// One buffer serves every file: a new one for each would be memory
	// the process touches for the first time, file after file.
	var data []byte
	for i, f := range files {
		path := filepath.Join(dir, f.name)
		if data, err = readFileInto(path, data); err != nil {
			return Recovery{}, wrapOpen(err)
		}
		next, bad, reason := scanEntries(data, f.index)
		last := i == len(files)-1
		if !last {
			if bad >= 0 {
				return Recovery{}, corrupt(path, int64(bad), "wal entry %d: %s (not the tail of the log)", next, reason)
			}
			if nf := files[i+1]; nf.index != next {
				return Recovery{}, corrupt(filepath.Join(dir, nf.name), -1,
					"wal file starts at entry %d but the previous file ends before entry %d", nf.index, next)
			}
			continue
		}
		if bad < 0 {
			return Recovery{}, nil
		}
		if acknowledgedAfter(data, bad, next) {
			return Recovery{}, corrupt(path, int64(bad), "wal entry %d: %s (later acknowledged entries follow)", next, reason)
		}
		rec := Recovery{
			File:             path,
			Offset:           int64(bad),
			TruncatedEntries: countEntries(data[bad:]),
			TruncatedBytes:   int64(len(data) - bad),
			Reason:           fmt.Sprintf("%s: entry %d at offset %d: %s", f.name, next, bad, reason),
		}
		if err := truncateFile(path, int64(bad)); err != nil {
			return rec, wrapOpen(err)
		}
		return rec, nil
	}
	return Recovery{}, nil
}

// readFileInto reads the file at path into buf, grown when too small.
func readFileInto(path string, buf []byte) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return buf, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return buf, err
	}
	size := fi.Size()
	if int64(cap(buf)) < size {
		buf = make([]byte, size)
	}
	buf = buf[:size]
	if _, err := io.ReadFull(f, buf); err != nil {
		return buf, err
	}
	return buf, nil
}

func wrapOpen(err error) error {
	var ce *trove.CorruptionError
	if errors.As(err, &ce) {
		return err // already located
	}
	return fmt.Errorf("segment: open wal: %w", err)
}

func truncateFile(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// scanEntries walks the entries of one tidwall file whose first entry is
// WAL index first. It returns the index after the last good entry, and the
// offset of the first bad entry and why it is bad (-1, "" when all are good).
func scanEntries(data []byte, first uint64) (next uint64, bad int, reason string) {
	next = first
	off := 0
	for off < len(data) {
		frame, end, ok := nextEntry(data, off)
		if !ok {
			return next, off, "incomplete tidwall entry (torn write)"
		}
		h, why := checkFrame(frame)
		if why == "" && h.index != next {
			why = fmt.Sprintf("frame holds WAL index %d, expected %d", h.index, next)
		}
		if why != "" {
			return next, off, why
		}
		next++
		off = end
	}
	return next, -1, ""
}

// acknowledgedAfter reports whether the bytes after the damaged entry at bad
// prove it was acknowledged: a valid frame that begins a later Append (flag
// begin, index above badIndex). A later Append is only written after the
// earlier one's fsync succeeded (FORMAT.md §2.4 step 3).
func acknowledgedAfter(data []byte, bad int, badIndex uint64) bool {
	for p := bad + 1; p < len(data); {
		frame, end, ok := nextEntry(data, p)
		if !ok || len(frame) < frameHeaderSize || frame[0] != frameTypeBatch {
			p++
			continue
		}
		h, why := checkFrame(frame)
		if why != "" || h.index <= badIndex {
			p++
			continue
		}
		if h.flags&flagBegin != 0 {
			return true
		}
		p = end
	}
	return false
}

// countEntries counts the entries dropped with a damaged tail: those the
// tidwall length chain still delimits, and one for whatever is left.
func countEntries(data []byte) int {
	n, off := 0, 0
	for off < len(data) {
		frame, end, ok := nextEntry(data, off)
		if !ok || len(frame) < frameHeaderSize {
			return n + 1
		}
		n++
		off = end
	}
	return n
}
