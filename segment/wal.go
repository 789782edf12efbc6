package segment

import (
	"errors"
	"fmt"
	"math/bits"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/tidwall/wal"
	"github.com/trovedb/trove"
	"github.com/trovedb/trove/internal/fsutil"
)

// DefaultWALSegmentSize is the size of a tidwall/wal segment file when
// WALOptions.SegmentSize is 0. tidwall keeps the active file's bytes in
// memory, and the previous one's: small files bound that memory (at
// 16 MiB it held about 48 MiB of the heap while ingesting).
const DefaultWALSegmentSize = 4 << 20

// WALOptions configures OpenWAL. The zero value is the production setting.
type WALOptions struct {
	// SegmentSize is the target size in bytes of one tidwall/wal segment
	// file; a file is closed and a new one started once it holds this many
	// bytes. Default (0) DefaultWALSegmentSize, 4 MiB.
	SegmentSize int
	// NoSync skips the fsync after each Append. Only for benchmarks of the
	// framing; with it, an acknowledged Append may be lost in a crash.
	NoSync bool
}

// Recovery says what OpenWAL repaired.
type Recovery struct {
	File             string // path of the tidwall file cut, "" when nothing was repaired
	Offset           int64  // byte offset in File where the cut was made
	TruncatedEntries int    // torn/partial/zeroed/CRC-failing entries dropped from the tail
	TruncatedBytes   int64  // bytes cut from the tail file
	Reason           string // "" when nothing was repaired
}

// WAL is a checksummed write-ahead log on top of tidwall/wal. Every tidwall
// entry is one frame (FORMAT.md §2) holding one batch of records.
//
// One writer (Append, TruncateFront, DropBefore, Close are serialised) and any number of
// concurrent readers (Read, FirstIndex, LastIndex, NextIndex, Size). An entry
// is visible to Read only once the Append that wrote it returned successfully,
// that is after its fsync. A failed write or fsync is sticky: every later
// Append returns that error, wrapped, and writes nothing.
type WAL struct {
	dir  string
	opts WALOptions
	log  *wal.Log

	// first and next are the WAL index of the first entry held and of the
	// next entry to be written; the WAL is empty when first == next.
	first, next atomic.Uint64
	size        atomic.Int64 // bytes of all tidwall files

	// rmu serialises calls into tidwall's Read, which fills a segment cache
	// under its read lock and so is not safe for concurrent readers.
	rmu sync.Mutex

	mu struct {
		sync.Mutex // the writer lock: guards the fields below
		closed     bool
		err        error      // sticky write or fsync error
		batch      wal.Batch  // reused for every WriteBatch
		buf        []byte     // frames of the Append in progress
		ends       []int      // end offset of each frame in buf
		tail       *os.File   // the tidwall tail file, opened by us to fsync it
		cut        tidwallCut // mirrors tidwall's cut rule over the tail's size
		sizes      []int      // data size of each entry of the Append in progress
		dropped    bool       // DropBefore removed files: tidwall's list of them is stale
	}

	syncFile func(*os.File) error // fsync; replaced by tests to inject failures
}

// OpenWAL opens (creating if needed) the WAL in dir. It first verifies every
// frame of every tidwall file, truncates a torn or damaged tail (bytes of an
// Append that was never acknowledged) and reports that repair in Recovery.
// Damage anywhere else is returned as a *trove.CorruptionError.
func OpenWAL(dir string, opts WALOptions) (*WAL, Recovery, error) {
	if opts.SegmentSize < 0 {
		return nil, Recovery{}, fmt.Errorf("segment: negative WAL segment size %d: %w", opts.SegmentSize, trove.ErrInvalid)
	}
	if opts.SegmentSize == 0 {
		opts.SegmentSize = DefaultWALSegmentSize
	}
	if err := fsutil.MkdirAll(dir, 0o750); err != nil {
		return nil, Recovery{}, fmt.Errorf("segment: open wal: %w", err)
	}
	rec, err := recoverDir(dir)
	if err != nil {
		return nil, rec, err
	}
	log, err := openTidwall(dir, opts.SegmentSize)
	if err != nil {
		if errors.Is(err, wal.ErrCorrupt) {
			return nil, rec, corrupt(dir, -1, "tidwall/wal refused the log after recovery: %v", err)
		}
		return nil, rec, fmt.Errorf("segment: open wal: %w", err)
	}
	w := &WAL{dir: dir, opts: opts, log: log, syncFile: (*os.File).Sync}
	first, err := log.FirstIndex()
	if err == nil {
		var last uint64
		last, err = log.LastIndex()
		w.first.Store(first)
		w.next.Store(last + 1)
	}
	if err == nil {
		err = w.findTailLocked()
	}
	if err == nil {
		// A fresh log's first file is new: make its name durable.
		err = fsutil.SyncDir(dir)
	}
	if err != nil {
		log.Close()
		if w.mu.tail != nil {
			w.mu.tail.Close()
		}
		return nil, rec, fmt.Errorf("segment: open wal: %w", err)
	}
	return w, rec, nil
}

// findTailLocked (re)opens the tidwall tail file for fsync and recomputes
// the sizes. Called at open, after a file cut and after TruncateFront.
func (w *WAL) findTailLocked() error {
	f, t, total, err := openTail(w.dir, w.mu.tail)
	if err != nil {
		return err
	}
	w.size.Store(total)
	if f != nil {
		if w.mu.tail != nil {
			w.mu.tail.Close()
		}
		w.mu.tail = f
	}
	w.mu.cut = tidwallCut{segmentSize: int64(w.opts.SegmentSize), tail: t.size}
	return nil
}

// Append writes each batch as one WAL entry, all of them with one tidwall
// WriteBatch and one fsync, and returns the WAL index of the first entry;
// entries are numbered consecutively. When it returns nil every entry is
// durable. Records must have a non-zero Type. An empty batches slice writes
// nothing and returns NextIndex(); an empty batch is a valid entry.
//
// A failed write or fsync is sticky: every later Append returns the same
// error, wrapped, and nothing more is written.
func (w *WAL) Append(batches [][]Record) (first uint64, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.mu.closed {
		return 0, fmt.Errorf("segment: append: %w", trove.ErrClosed)
	}
	if w.mu.err != nil {
		return 0, fmt.Errorf("segment: append refused after an earlier failure: %w", w.mu.err)
	}
	first = w.next.Load()
	if len(batches) == 0 {
		return first, nil
	}
	need := 0
	for i, b := range batches {
		if err := validateRecords(b); err != nil {
			return 0, fmt.Errorf("segment: append batch %d: %w", i, err)
		}
		need += frameHeaderSize + recordsSize(b)
	}
	buf := w.mu.buf[:0]
	if cap(buf) < need {
		buf = make([]byte, 0, need)
	}
	ends := w.mu.ends[:0]
	for i, b := range batches {
		var flags byte
		if i == 0 {
			flags |= flagBegin
		}
		if i == len(batches)-1 {
			flags |= flagCommit
		}
		buf = appendFrame(buf, first+uint64(i), flags, b)
		if len(buf)-startOf(ends) > MaxBodySize+frameHeaderSize {
			return 0, fmt.Errorf("segment: batch %d encodes to more than %d bytes: %w", i, MaxBodySize, trove.ErrInvalid)
		}
		ends = append(ends, len(buf))
	}
	w.mu.buf, w.mu.ends = buf, ends
	if cap(buf) > 64<<20 { // don't pin a huge buffer after a huge append
		w.mu.buf = nil
	}

	// Mirror tidwall's cut rule to know whether it started a new tail file.
	w.mu.batch.Clear()
	sizes := w.mu.sizes[:0]
	var written int64
	prev := 0
	for i, end := range ends {
		data := buf[prev:end]
		prev = end
		w.mu.batch.Write(first+uint64(i), data)
		sizes = append(sizes, len(data))
		written += tidwallEntrySize(len(data))
	}
	w.mu.sizes = sizes
	before := w.mu.cut.tail
	cut := w.mu.cut.batch(sizes)
	if err := w.log.WriteBatch(&w.mu.batch); err != nil {
		w.mu.err = fmt.Errorf("segment: wal write at entry %d: %w", first, err)
		return 0, w.mu.err
	}
	if !cut {
		// Cheap guard against a wrong mirror: the tail must have grown by
		// exactly what we wrote.
		if st, err := w.mu.tail.Stat(); err != nil || st.Size() != before+written {
			cut = true
		}
	}
	if cut {
		// tidwall fsynced every file it closed; make the new names durable
		// and follow the new tail.
		if err := w.findTailLocked(); err != nil {
			w.mu.err = fmt.Errorf("segment: wal follow new tail after entry %d: %w", first, err)
			return 0, w.mu.err
		}
		if err := fsutil.SyncDir(w.dir); err != nil {
			w.mu.err = fmt.Errorf("segment: wal at entry %d: %w", first, err)
			return 0, w.mu.err
		}
	} else {
		w.size.Add(written)
	}
	if !w.opts.NoSync {
		if err := w.syncFile(w.mu.tail); err != nil {
			w.mu.err = fmt.Errorf("segment: wal fsync at entry %d: %w", first, err)
			return 0, w.mu.err
		}
	}
	w.next.Store(first + uint64(len(batches)))
	return first, nil
}

func startOf(ends []int) int {
	if len(ends) == 0 {
		return 0
	}
	return ends[len(ends)-1]
}

// uvarintLen is the size of x as a uvarint.
func uvarintLen(x uint64) int { return (bits.Len64(x|1) + 6) / 7 }

// varintLen is the size of x as a zigzag varint.
func varintLen(x int64) int { return uvarintLen(uint64(x<<1) ^ uint64(x>>63)) }

// Read returns the records of WAL entry index after verifying its frame.
// Bodies alias one new buffer per call, owned by the caller. An index outside
// [FirstIndex, LastIndex] returns an error wrapping trove.ErrNotFound; a
// damaged frame a *trove.CorruptionError naming the file and offset.
func (w *WAL) Read(index uint64) ([]Record, error) {
	if index < w.first.Load() || index >= w.next.Load() {
		return nil, fmt.Errorf("segment: wal entry %d: %w", index, trove.ErrNotFound)
	}
	w.rmu.Lock()
	if index < w.first.Load() { // DropBefore ran since the check above
		w.rmu.Unlock()
		return nil, fmt.Errorf("segment: wal entry %d: %w", index, trove.ErrNotFound)
	}
	data, err := w.log.Read(index)
	w.rmu.Unlock()
	if err != nil {
		switch {
		case errors.Is(err, wal.ErrNotFound):
			return nil, fmt.Errorf("segment: wal entry %d: %w", index, trove.ErrNotFound)
		case errors.Is(err, wal.ErrClosed):
			return nil, fmt.Errorf("segment: wal entry %d: %w", index, trove.ErrClosed)
		case errors.Is(err, wal.ErrCorrupt):
			file, off := w.locate(index)
			return nil, corrupt(file, off, "wal entry %d: tidwall/wal: %v", index, err)
		}
		return nil, fmt.Errorf("segment: wal entry %d: %w", index, err)
	}
	recs, at, reason := decodeFrame(data, index)
	if reason != "" {
		file, off := w.locate(index)
		if off >= 0 {
			off += tidwallEntrySize(len(data)) - int64(len(data)) + int64(at)
		}
		return nil, corrupt(file, off, "wal entry %d: %s", index, reason)
	}
	return recs, nil
}

// Scan calls fn with the records of every entry from index from (or the
// first one held, when later) to the last one written, in order. It reads
// each tidwall file holding them once, into a buffer of its own that the
// records alias and fn may keep (Read copies every entry out of a file it
// also keeps: twice the memory). Scan holds the writer lock: Append,
// TruncateFront and DropBefore wait for it. An entry that does not decode
// is a *trove.CorruptionError naming its file and offset; an error of fn
// ends the scan and is returned as it is.
func (w *WAL) Scan(from uint64, fn func(index uint64, recs []Record) error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.mu.closed {
		return fmt.Errorf("segment: wal scan: %w", trove.ErrClosed)
	}
	from = max(from, w.first.Load())
	next := w.next.Load()
	if from >= next {
		return nil
	}
	files, err := listWALFiles(w.dir)
	if err != nil {
		return fmt.Errorf("segment: wal scan: %w", err)
	}
	at := from // the next entry fn is owed
	for i, f := range files {
		if i+1 < len(files) && files[i+1].index <= from {
			continue // every entry of f is before from
		}
		if f.index > at || at >= next {
			break
		}
		path := filepath.Join(w.dir, f.name)
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("segment: wal scan: %w", err)
		}
		off := 0
		for index := f.index; index < next && off < len(data); index++ {
			entry, end, ok := nextEntry(data, off)
			if !ok {
				return corrupt(path, int64(off), "wal entry %d: incomplete tidwall entry", index)
			}
			if index >= at {
				recs, bad, reason := decodeFrame(entry, index)
				if reason != "" {
					return corrupt(path, int64(end-len(entry)+bad), "wal entry %d: %s", index, reason)
				}
				if err := fn(index, recs); err != nil {
					return err
				}
				at = index + 1
			}
			off = end
		}
	}
	if at < next {
		return corrupt(w.dir, -1, "wal entry %d: not in any tidwall file (entries up to %d were written)", at, next-1)
	}
	return nil
}

// locate finds the tidwall file holding entry index and the entry's byte
// offset in it, for error messages. It reads the file: only for the error
// path.
func (w *WAL) locate(index uint64) (string, int64) {
	files, err := listWALFiles(w.dir)
	if err != nil {
		return w.dir, -1
	}
	for i := len(files) - 1; i >= 0; i-- {
		f := files[i]
		if f.index > index {
			continue
		}
		path := filepath.Join(w.dir, f.name)
		data, err := os.ReadFile(path)
		if err != nil {
			return path, -1
		}
		off := 0
		for at := f.index; at < index; at++ {
			_, end, ok := nextEntry(data, off)
			if !ok {
				return path, -1
			}
			off = end
		}
		return path, int64(off)
	}
	return w.dir, -1
}

// FirstIndex returns the WAL index of the first entry held, 0 when empty.
func (w *WAL) FirstIndex() uint64 {
	f := w.first.Load()
	if w.next.Load() <= f {
		return 0
	}
	return f
}

// LastIndex returns the WAL index of the last acknowledged entry, 0 when
// empty.
func (w *WAL) LastIndex() uint64 {
	f, n := w.first.Load(), w.next.Load()
	if n <= f {
		return 0
	}
	return n - 1
}

// NextIndex returns the index the next Append will give its first entry.
// Indexes keep counting after TruncateFront, also when it empties the WAL.
func (w *WAL) NextIndex() uint64 { return w.next.Load() }

// TruncateFront drops every entry before index. An index at or before the
// first entry does nothing; index NextIndex() empties the WAL; a larger one
// returns an error wrapping ErrOutOfRange.
func (w *WAL) TruncateFront(index uint64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.mu.closed {
		return fmt.Errorf("segment: truncate front: %w", trove.ErrClosed)
	}
	if w.mu.err != nil {
		return fmt.Errorf("segment: truncate front refused after an earlier failure: %w", w.mu.err)
	}
	next := w.next.Load()
	if index > next {
		return fmt.Errorf("%w: truncate front to %d, next entry is %d", ErrOutOfRange, index, next)
	}
	if index <= w.first.Load() {
		return nil
	}
	if w.mu.dropped {
		return fmt.Errorf("segment: truncate front after DropBefore: %w", trove.ErrInvalid)
	}
	// Readers must not ask tidwall for entries that are about to go.
	w.first.Store(index)
	if err := w.log.TruncateFront(index); err != nil {
		w.mu.err = fmt.Errorf("segment: wal truncate front to %d: %w", index, err)
		return w.mu.err
	}
	if err := w.findTailLocked(); err != nil {
		w.mu.err = fmt.Errorf("segment: wal truncate front to %d: %w", index, err)
		return w.mu.err
	}
	if err := fsutil.SyncDir(w.dir); err != nil {
		w.mu.err = fmt.Errorf("segment: wal truncate front to %d: %w", index, err)
		return w.mu.err
	}
	return nil
}

// DropBefore removes, oldest first, the WAL files whose entries all come
// before index, then fsyncs the directory, and returns how many files it
// removed. Unlike TruncateFront it rewrites nothing: the entries before
// index in the file holding it stay (readable) until a later call finds
// them in a file of their own. Appends wait only while the files are
// removed, not for the directory's fsync.
//
// A crash may leave some of them: they hold entries before index only,
// which the caller skips on replay as it does after a crash before the
// call. After DropBefore, TruncateFront is refused: tidwall would delete
// files that are gone.
func (w *WAL) DropBefore(index uint64) (int, error) {
	w.mu.Lock()
	if w.mu.closed {
		w.mu.Unlock()
		return 0, fmt.Errorf("segment: drop wal files: %w", trove.ErrClosed)
	}
	if w.mu.err != nil {
		w.mu.Unlock()
		return 0, fmt.Errorf("segment: drop wal files refused after an earlier failure: %w", w.mu.err)
	}
	n, removed, err := w.dropLocked(min(index, w.next.Load()))
	w.size.Add(-removed)
	w.mu.Unlock()
	if err != nil {
		return n, fmt.Errorf("segment: drop wal files before entry %d: %w", index, err)
	}
	if n == 0 {
		return 0, nil
	}
	if err := fsutil.SyncDir(w.dir); err != nil {
		return n, fmt.Errorf("segment: drop wal files before entry %d: %w", index, err)
	}
	return n, nil
}

func (w *WAL) dropLocked(index uint64) (n int, removed int64, err error) {
	files, err := listWALFiles(w.dir)
	if err != nil {
		return 0, 0, err
	}
	k := droppable(files, index)
	if k == 0 {
		return 0, 0, nil
	}
	w.mu.dropped = true
	// Readers must not ask tidwall for entries whose files go: Read checks
	// the first index again under rmu.
	if first := files[k].index; first > w.first.Load() {
		w.first.Store(first)
	}
	w.rmu.Lock()
	defer w.rmu.Unlock()
	for _, f := range files[:k] {
		if err := os.Remove(filepath.Join(w.dir, f.name)); err != nil {
			return n, removed, err
		}
		n++
		removed += f.size
	}
	return n, removed, nil
}

// Size returns the bytes of WAL on disk now.
func (w *WAL) Size() int64 { return w.size.Load() }

// Dir returns the directory of the WAL.
func (w *WAL) Dir() string { return w.dir }

// Close syncs and closes the WAL. After a sticky write or fsync failure it
// returns that failure. Later calls return errors wrapping trove.ErrClosed.
func (w *WAL) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.mu.closed {
		return fmt.Errorf("segment: close wal: %w", trove.ErrClosed)
	}
	w.mu.closed = true
	err := w.log.Close()
	if w.mu.tail != nil {
		w.mu.tail.Close()
		w.mu.tail = nil
	}
	if w.mu.err != nil {
		// Say again why the tail may be incomplete.
		return fmt.Errorf("segment: close wal: %w", w.mu.err)
	}
	if err != nil {
		return fmt.Errorf("segment: close wal: %w", err)
	}
	return nil
}
