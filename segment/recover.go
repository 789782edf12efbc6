package segment

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/internal/fsutil"
)

// walFile is one tidwall/wal segment file.
type walFile struct {
	name  string
	index uint64 // WAL index of its first entry (from the name)
	size  int64
}

// walFileIndex parses a tidwall file name: 20 digits, optionally followed by
// suffix. It returns 0 for names tidwall ignores.
func walFileIndex(name, suffix string) uint64 {
	if len(name) != 20+len(suffix) || !strings.HasSuffix(name, suffix) {
		return 0
	}
	index, err := strconv.ParseUint(name[:20], 10, 64)
	if err != nil {
		return 0
	}
	return index
}

// listWALFiles returns the tidwall segment files of dir in index order.
func listWALFiles(dir string) ([]walFile, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files []walFile
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		index := walFileIndex(e.Name(), "")
		if index == 0 {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return nil, err
		}
		files = append(files, walFile{name: e.Name(), index: index, size: info.Size()})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].index < files[j].index })
	return files, nil
}

// finishTruncation completes or discards an interrupted tidwall truncation
// exactly as tidwall's Open does (FORMAT.md §2.4 step 1), so that what we
// check is what tidwall will open.
func finishTruncation(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	type named struct {
		name  string
		index uint64
		kind  string // "", ".START", ".END"
	}
	var all []named
	changed := false
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() {
			continue
		}
		if walFileIndex(n, ".START.TEMP") != 0 || walFileIndex(n, ".END.TEMP") != 0 {
			if err := os.Remove(filepath.Join(dir, n)); err != nil {
				return err
			}
			changed = true
			continue
		}
		for _, kind := range []string{"", ".START", ".END"} {
			if idx := walFileIndex(n, kind); idx != 0 {
				all = append(all, named{n, idx, kind})
			}
		}
	}
	// tidwall orders by file name, which sorts by index then suffix.
	sort.Slice(all, func(i, j int) bool { return all[i].name < all[j].name })
	start, end := -1, -1
	for i, f := range all {
		if f.kind == ".START" {
			start = i
		} else if f.kind == ".END" && end == -1 {
			end = i
		}
	}
	if start != -1 && end != -1 {
		return corrupt(dir, -1, "wal has both a .START and an .END file")
	}
	if start != -1 {
		for _, f := range all[:start] {
			if err := os.Remove(filepath.Join(dir, f.name)); err != nil {
				return err
			}
		}
		f := all[start]
		if err := os.Rename(filepath.Join(dir, f.name), filepath.Join(dir, f.name[:20])); err != nil {
			return err
		}
		changed = true
	}
	if end != -1 {
		for _, f := range all[end+1:] {
			if err := os.Remove(filepath.Join(dir, f.name)); err != nil {
				return err
			}
		}
		f := all[end]
		final := filepath.Join(dir, f.name[:20])
		// The END file replaces the file of the same index.
		if err := os.Rename(filepath.Join(dir, f.name), final); err != nil {
			return err
		}
		changed = true
	}
	if changed {
		return fsutil.SyncDir(dir)
	}
	return nil
}

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
	for i, f := range files {
		path := filepath.Join(dir, f.name)
		data, err := os.ReadFile(path)
		if err != nil {
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

// nextEntry parses the tidwall entry at data[off:]: it returns the frame
// bytes and the offset after the entry, or ok false when the entry is
// incomplete.
func nextEntry(data []byte, off int) (frame []byte, end int, ok bool) {
	n, size := binary.Uvarint(data[off:])
	if size <= 0 || n > uint64(len(data)-off-size) {
		return nil, 0, false
	}
	start := off + size
	end = start + int(n)
	return data[start:end], end, true
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
