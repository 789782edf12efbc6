package segment

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/tidwall/wal"
	"github.com/trovedb/trove/internal/fsutil"
)

// This file is the only place that knows how github.com/tidwall/wal (the
// version pinned in go.mod) lays out and writes its files. The WAL
// (wal.go), its recovery (recover.go) and the engine's dry-run recovery
// (package engine, through CopyWAL and WALTailStart) go through it, and
// tidwall_contract_test.go pins every assumption below against the module
// itself, by the same name, so that an upgrade that changes one fails
// loudly saying which.
//
// The assumptions, for a log opened by openTidwall (binary format,
// NoSync, AllowEmpty):
//
//   - names: a segment file is named by the index of its first entry,
//     20 decimal digits, zero-padded (walFileName). A new, empty directory
//     gets one empty file, index 1. Open ignores directories, names that
//     are not 20 digits (plus a known suffix) and index 0.
//   - entries: a segment file is the plain concatenation of its entries,
//     each the uvarint length of the data followed by the data: no header,
//     padding or checksum (tidwallEntrySize, nextEntry). Read returns
//     exactly the bytes written, in a new slice the caller owns.
//   - cut: WriteBatch starts a new file before the batch when the tail
//     already holds more than SegmentSize bytes, and right after each entry
//     that brings the tail to SegmentSize bytes or more; the new file is
//     named by the next index (tidwallCut).
//   - tail: the file with the highest index is the tail. WriteBatch
//     appends to it in place, never replacing the file, so a descriptor
//     opened on it (openTail) fsyncs what tidwall wrote (but see
//     truncate: TruncateFront may replace it).
//   - sync: with NoSync, WriteBatch fsyncs only a file it closes on a
//     cut, before it creates the next one; Close fsyncs the tail; the
//     temporary file of a truncation is fsynced before its rename. tidwall
//     never fsyncs a directory and never fsyncs the tail after a write: the
//     WAL does both itself.
//   - open: Open reads the tail file's entries and fails with
//     wal.ErrCorrupt when its last entry is incomplete (torn length or
//     data). It reads nothing else: damage in a non-tail file, or a gap
//     between files, is not noticed, and a zero byte decodes as an empty
//     entry. Hence recovery checks every file with our frames first.
//   - leftovers: TruncateFront writes INDEX.START (through
//     INDEX.START.TEMP), deletes the files it drops and renames the START
//     file to INDEX; TruncateBack does the same with FIRSTINDEX.END and
//     deletes the files after it. Open finishes an interrupted truncation:
//     with a .START file it deletes every file whose name sorts before it
//     and renames it; with an .END file (the first one) it deletes every
//     file whose name sorts after it and renames it over the file of the
//     same index; with both it fails with wal.ErrCorrupt. .TEMP files are
//     ignored (and left). finishTruncation does the same before Open.
//   - truncate: TruncateFront(i) keeps entries i.., in a file named i that
//     replaces the file holding i (a new inode when that is the tail);
//     TruncateFront(last+1) leaves one empty file named last+1, after which
//     FirstIndex is last+1, LastIndex last, and writes continue at last+1.
//     TruncateBack(i) leaves the file holding i cut right after entry i:
//     the bytes recovery leaves when it cuts a torn tail at an entry
//     boundary (recovery cuts the file itself: tidwall cannot open a torn
//     log to truncate it).
//   - drop: tidwall reads a file other than the tail only to serve a Read
//     of an entry in it, and never lists the directory after Open; so
//     removing whole files before the one holding the first entry still
//     read leaves a log it keeps writing, and Open of such a directory
//     starts at the first file left (droppable). Only its own
//     TruncateFront, which deletes the files it listed at Open, would
//     fail.
//   - indexes: with AllowEmpty a new log has FirstIndex 1 and LastIndex 0,
//     and a Write must carry LastIndex+1 (wal.ErrOutOfOrder otherwise).
//   - write failure: a WriteBatch whose write or fsync fails keeps its
//     entries in tidwall's memory although the file may lack them, so the
//     log must not be written again: the WAL's failure is sticky. (Close
//     returns at a failing fsync without closing the tail file: after a
//     failure the descriptor leaks until the process ends.)

const (
	tidwallNameLen = 20 // digits of a segment file name
	tidwallStart   = ".START"
	tidwallEnd     = ".END"
	tidwallTemp    = ".TEMP"
)

// walFileKind says which of tidwall's files a name is.
type walFileKind int

const (
	kindSegment   walFileKind = iota // INDEX: a segment file
	kindStart                        // INDEX.START: an interrupted TruncateFront
	kindEnd                          // INDEX.END: an interrupted TruncateBack
	kindStartTemp                    // INDEX.START.TEMP: the START file being written
	kindEndTemp                      // INDEX.END.TEMP: the END file being written
)

var walKindSuffix = [...]string{
	kindSegment:   "",
	kindStart:     tidwallStart,
	kindEnd:       tidwallEnd,
	kindStartTemp: tidwallStart + tidwallTemp,
	kindEndTemp:   tidwallEnd + tidwallTemp,
}

// walFileName is tidwall's name for the segment file whose first entry is
// index.
func walFileName(index uint64) string { return fmt.Sprintf("%0*d", tidwallNameLen, index) }

// parseWALName parses a name in a WAL directory: ok is false for names
// tidwall does not write (and ignores).
func parseWALName(name string) (index uint64, kind walFileKind, ok bool) {
	kind = -1
	for k, suffix := range walKindSuffix {
		if len(name) == tidwallNameLen+len(suffix) && strings.HasSuffix(name, suffix) {
			kind = walFileKind(k)
			break
		}
	}
	if kind < 0 {
		return 0, 0, false
	}
	digits := name[:tidwallNameLen]
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, 0, false
		}
	}
	index, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || index == 0 {
		return 0, 0, false
	}
	return index, kind, true
}

// walFile is one tidwall segment file.
type walFile struct {
	name  string
	index uint64 // WAL index of its first entry (from the name)
	size  int64
}

// listWALFiles returns the tidwall segment files of dir in index order.
func listWALFiles(dir string) ([]walFile, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files []walFile
	for _, e := range ents {
		index, kind, ok := parseWALName(e.Name())
		if !ok || kind != kindSegment || e.IsDir() {
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

// droppable returns how many of files (in index order) hold only entries
// before index: each one followed by a file whose first entry is at or
// before index. The tail is never among them.
func droppable(files []walFile, index uint64) int {
	k := 0
	for k+1 < len(files) && files[k+1].index <= index {
		k++
	}
	return k
}

// tidwallOptions are the options the WAL opens tidwall with.
func tidwallOptions(segmentSize int) *wal.Options {
	return &wal.Options{
		NoSync:           true, // the WAL fsyncs the tail itself, outside tidwall's lock
		SegmentSize:      segmentSize,
		LogFormat:        wal.Binary,
		SegmentCacheSize: 1, // reads of the log after recovery come from the engine's memtable
		AllowEmpty:       true,
		DirPerms:         0o750,
		FilePerms:        0o640,
	}
}

// openTidwall opens the tidwall log in dir, which recovery has verified.
func openTidwall(dir string, segmentSize int) (*wal.Log, error) {
	return wal.Open(dir, tidwallOptions(segmentSize))
}

// tidwallEntrySize is the bytes tidwall writes for an entry of n data
// bytes.
func tidwallEntrySize(n int) int64 { return int64(uvarintLen(uint64(n)) + n) }

// appendTidwallEntry appends the bytes tidwall writes for an entry holding
// data.
func appendTidwallEntry(dst, data []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(data)))
	return append(dst, data...)
}

// nextEntry parses the tidwall entry at data[off:]: it returns the entry's
// data (our frame) and the offset after the entry, or ok false when the
// entry is incomplete.
func nextEntry(data []byte, off int) (frame []byte, end int, ok bool) {
	n, size := binary.Uvarint(data[off:])
	if size <= 0 || n > uint64(len(data)-off-size) {
		return nil, 0, false
	}
	start := off + size
	end = start + int(n)
	return data[start:end], end, true
}

// tidwallCut mirrors tidwall's cut rule, to know whether a WriteBatch
// started a new tail file and how many bytes the tail then holds.
type tidwallCut struct {
	segmentSize int64
	tail        int64 // bytes in the tail file
}

// batch advances the mirror over one WriteBatch of entries of the given
// data sizes and reports whether tidwall started at least one new file.
func (c *tidwallCut) batch(sizes []int) (cut bool) {
	if c.tail > c.segmentSize {
		cut, c.tail = true, 0
	}
	for _, n := range sizes {
		c.tail += tidwallEntrySize(n)
		if c.tail >= c.segmentSize {
			cut, c.tail = true, 0
		}
	}
	return cut
}

// openTail opens the tail file of dir for fsync and returns it with its
// listing entry; tail is nil when f is already the tail's descriptor (the
// same file, not only the same name: a truncation replaces the file).
func openTail(dir string, f *os.File) (tail *os.File, t walFile, total int64, err error) {
	files, err := listWALFiles(dir)
	if err != nil {
		return nil, walFile{}, 0, err
	}
	if len(files) == 0 {
		return nil, walFile{}, 0, fmt.Errorf("no tidwall segment file in %s", dir)
	}
	for _, f := range files {
		total += f.size
	}
	t = files[len(files)-1]
	path := filepath.Join(dir, t.name)
	if f != nil {
		cur, err1 := f.Stat()
		now, err2 := os.Stat(path)
		if err1 == nil && err2 == nil && os.SameFile(cur, now) {
			return nil, t, total, nil
		}
	}
	tail, err = os.Open(path)
	if err != nil {
		return nil, walFile{}, 0, err
	}
	return tail, t, total, nil
}

// finishTruncation completes or discards an interrupted tidwall truncation
// as tidwall's Open does (assumption "leftovers"), so that what recovery
// checks is what tidwall will open. It also removes the .TEMP files tidwall
// leaves behind.
func finishTruncation(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	type named struct {
		name string
		kind walFileKind
	}
	var all []named
	changed := false
	for _, e := range ents {
		n := e.Name()
		_, kind, ok := parseWALName(n)
		if !ok || e.IsDir() {
			continue
		}
		if kind == kindStartTemp || kind == kindEndTemp {
			if err := os.Remove(filepath.Join(dir, n)); err != nil {
				return err
			}
			changed = true
			continue
		}
		all = append(all, named{n, kind})
	}
	// tidwall orders by file name, which sorts by index then suffix.
	sort.Slice(all, func(i, j int) bool { return all[i].name < all[j].name })
	start, end := -1, -1
	for i, f := range all {
		if f.kind == kindStart {
			start = i
		} else if f.kind == kindEnd && end == -1 {
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
		if err := os.Rename(filepath.Join(dir, f.name), filepath.Join(dir, f.name[:tidwallNameLen])); err != nil {
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
		// The END file replaces the file of the same index.
		if err := os.Rename(filepath.Join(dir, f.name), filepath.Join(dir, f.name[:tidwallNameLen])); err != nil {
			return err
		}
		changed = true
	}
	if changed {
		return fsutil.SyncDir(dir)
	}
	return nil
}

// WALTailStart returns the WAL index at which the tail file of the WAL in
// dir starts, 0 when there is no WAL file. Recovery truncates only the
// tail file: every entry before this index survives it.
func WALTailStart(dir string) (uint64, error) {
	files, err := listWALFiles(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return 0, nil
		}
		return 0, fmt.Errorf("segment: wal tail: %w", err)
	}
	if len(files) == 0 {
		return 0, nil
	}
	return files[len(files)-1].index, nil
}

// CopyWAL copies into dst, an existing empty directory, the files of the
// WAL in src that hold entries from index from on (from 0 or 1: all of
// them), and any file of an interrupted truncation, so that OpenWAL can
// verify and repair the copy without touching src. A missing src copies
// nothing.
func CopyWAL(src, dst string, from uint64) error {
	ents, err := os.ReadDir(src)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return fmt.Errorf("segment: copy wal: %w", err)
	}
	// The file holding entry from is the last one starting at or before it.
	var holder uint64
	for _, e := range ents {
		if idx, kind, ok := parseWALName(e.Name()); ok && kind == kindSegment && idx <= from {
			holder = max(holder, idx)
		}
	}
	for _, e := range ents {
		idx, kind, ok := parseWALName(e.Name())
		if !ok || e.IsDir() || kind == kindStartTemp || kind == kindEndTemp {
			continue
		}
		if kind == kindSegment && idx < holder {
			continue
		}
		if err := copyFile(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())); err != nil {
			return fmt.Errorf("segment: copy wal: %w", err)
		}
	}
	return nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}
