package local

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/internal/fsutil"
)

// packLoc is where a live packed key's put record is.
type packLoc struct {
	pack uint32 // pack number
	n    uint32 // frame length
	off  int64  // frame offset in the pack
}

// packWrite is a record queued for the group commit.
type packWrite struct {
	key   string
	frame []byte
	del   bool
	loc   packLoc       // set by the leader that writes it
	err   error         // set by that leader before wake
	done  bool          // written (or failed); set under packLog.mu
	lead  bool          // not written: its submitter leads the next group
	wake  chan struct{} // receives once done or lead is set
}

// packLog is a store's pack log (FORMAT.md): the index of packed keys and
// the group commit that appends records to the active pack.
//
// Group commit, leader and followers: Put and Delete queue an encoded
// record (submit). When no group is being written, the submitter becomes
// the leader: it takes every queued record (up to groupMax bytes), appends
// them and their commit record to the active pack with one pwrite,
// fdatasyncs it, and only then applies them to the index and wakes their
// submitters. Records queued meanwhile wait; once the leader's own record
// is written, it hands the lead to the first of them (which writes the
// next group) and returns. So a lone writer pays no hand-off to another
// goroutine, concurrent writers share one fsync per group, append order is
// index order, nothing is visible or acknowledged before it is durable,
// and at most one group is written and not yet synced at any instant (the
// torn tail recovery cuts). A write or sync error is sticky: it fails that
// group and every later submit until the store is reopened.
type packLog struct {
	dir      string // <store>/packs
	packSize int64  // start a new pack once the active one holds this much

	// imu guards idx, the live packed keys.
	imu sync.RWMutex
	idx map[string]packLoc

	// rmu guards files, the open packs by number (reads use ReadAt on
	// them, the leader writes the last one); closed once Close ran.
	rmu    sync.RWMutex
	files  map[uint32]*os.File
	closed bool

	// mu guards the queue and the group commit's state.
	mu struct {
		sync.Mutex
		queue    []*packWrite // records waiting for a group, in submit order
		leading  bool         // a leader is writing (or handing over)
		stopping bool         // Close was called: no more submits
		err      error        // sticky write or sync error
	}
	idle *sync.Cond // on mu: signalled when leading turns false

	// Owned by the leader (and by open before any submit): only one
	// goroutine leads at a time, and the lead passes under mu.
	active     *os.File // the last pack, nil before the first
	activeN    uint32
	activeSize int64  // bytes of the active pack in use (header and groups)
	allocEnd   int64  // its file size: zeros written ahead from activeSize
	buf        []byte // the group being written
	// The active pack's committed records and its last commit's group
	// CRC: its key file once it is sealed (FORMAT.md, section 6).
	activeRecs    []keyRec
	activeLastCRC uint32

	// ops counts the calls of the write path (writeGroup, rotate) that
	// reach the disk: what a group costs.
	ops struct {
		writes atomic.Int64 // pwrite, write and ftruncate
		syncs  atomic.Int64 // fdatasync, fsync, and fsync of the directory
	}
}

// scanResult is what reading every pack found.
type scanResult struct {
	packs    int
	keyed    int // sealed packs replayed from their key files, not read
	records  int
	tornTail string   // a torn tail (repaired by a writable open), "" when none
	problems []error  // damage (*trove.CorruptionError), in a read-only open
	lastN    uint32   // the last pack's number, 0 when none
	lastSize int64    // the bytes it uses (after repair)
	names    []string // pack paths in number order
	// Read-only: what the scan of each sealed pack found, to compare
	// with its key file (Check).
	found map[uint32]packKeys
}

// packName is the file name of pack n.
func packName(n uint32) string { return fmt.Sprintf("%08d.pack", n) }

// openPackLog replays every pack under dir and rebuilds the index.
// Writable (repair true): a sealed pack is replayed from its key file when
// that matches it, else read and its key file written; a torn tail of the
// last pack is truncated and a cut-short header rewritten; any damage
// found fails with a *trove.CorruptionError and changes nothing.
// Read-only (repair false): every pack is read, nothing on disk changes,
// the torn tail is reported, damage is listed in the result and skipped
// (the scan looks for the next record that decodes).
func openPackLog(dir string, packSize int64, repair bool) (_ *packLog, _ scanResult, err error) {
	l := &packLog{dir: dir, packSize: packSize, idx: map[string]packLoc{}, files: map[uint32]*os.File{}}
	l.idle = sync.NewCond(&l.mu)
	defer func() {
		if err != nil {
			for _, f := range l.files {
				f.Close()
			}
		}
	}()
	var res scanResult
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) && !repair {
		return l, res, nil
	}
	if err != nil {
		return nil, res, fmt.Errorf("local: open: %w", err)
	}
	var nums []uint32
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".pack") || len(name) != len("00000000.pack") || e.IsDir() {
			continue
		}
		n, perr := strconv.ParseUint(strings.TrimSuffix(name, ".pack"), 10, 32)
		if perr != nil || n == 0 {
			continue
		}
		nums = append(nums, uint32(n))
	}
	slices.Sort(nums)
	damage := func(path string, off int64, reason string) error {
		ce := &trove.CorruptionError{File: path, Offset: off, Reason: "local: " + reason}
		if repair {
			return ce
		}
		res.problems = append(res.problems, ce)
		return nil
	}
	if repair {
		l.idx = make(map[string]packLoc, indexHint(dir, nums))
	} else {
		res.found = map[uint32]packKeys{}
	}
	synced := true // whether dir's entries are durable
	for i, n := range nums {
		path := filepath.Join(dir, packName(n))
		res.names = append(res.names, path)
		if want := uint32(i + 1); n != want {
			if err := damage(filepath.Join(dir, packName(want)), -1, "pack missing: packs are numbered from 1 without gaps"); err != nil {
				return nil, res, err
			}
		}
		last := i == len(nums)-1
		flag := os.O_RDONLY
		if repair && last {
			flag = os.O_RDWR
		}
		f, err := os.OpenFile(path, flag, 0)
		if err != nil {
			return nil, res, fmt.Errorf("local: open: %w", err)
		}
		l.files[n] = f
		res.packs++
		if repair && !last {
			// A sealed pack whose key file matches it is replayed from
			// the key file, without reading the pack.
			st, err := f.Stat()
			if err != nil {
				return nil, res, fmt.Errorf("local: open: %w", err)
			}
			k, ok, err := loadKeys(dir, n, f, st.Size())
			if err != nil {
				return nil, res, err
			}
			if ok {
				for _, r := range k.recs {
					if err := l.apply(path, n, r, damage); err != nil {
						return nil, res, err
					}
				}
				res.keyed++
				res.records += len(k.recs)
				continue
			}
		}
		found := packKeys{pack: n}
		size, err := l.scanPack(f, path, n, last, repair, &res, damage, &found)
		if err != nil {
			return nil, res, err
		}
		found.size = size
		switch {
		case last && repair:
			st, err := f.Stat()
			if err != nil {
				return nil, res, fmt.Errorf("local: open: %w", err)
			}
			l.active, l.activeN, l.activeSize, l.allocEnd = f, n, size, st.Size()
			l.activeRecs, l.activeLastCRC = found.recs, found.lastCRC
		case last:
		case repair:
			// The scan found the pack intact: write the key file it
			// lacked (or that did not match it).
			if err := writeKeys(dir, found); err != nil {
				return nil, res, err
			}
			synced = false
		default:
			res.found[n] = found
		}
		if last {
			res.lastN, res.lastSize = n, size
		}
	}
	if repair {
		// Key files of no sealed pack (the last pack's, written before a
		// crash cut the start of the next pack short) and temporary files
		// are removed.
		for _, e := range entries {
			name := e.Name()
			stale := strings.HasPrefix(name, ".")
			if k, ok := strings.CutSuffix(name, ".keys"); ok && len(name) == len("00000000.keys") {
				n, perr := strconv.ParseUint(k, 10, 32)
				stale = perr != nil || n == 0 || n >= uint64(res.lastN)
			}
			if stale && !e.IsDir() {
				if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return nil, res, fmt.Errorf("local: open: remove leftover: %w", err)
				}
				synced = false
			}
		}
		if !synced {
			if err := fsutil.SyncDir(dir); err != nil {
				return nil, res, err
			}
		}
	}
	return l, res, nil
}

// apply applies a committed record of pack n (path) to the index, by the
// replay rules (FORMAT.md, section 3).
func (l *packLog) apply(path string, n uint32, r keyRec, damage func(string, int64, string) error) error {
	_, live := l.idx[r.key]
	switch {
	case r.typ == recPut && !live:
		l.idx[r.key] = packLoc{pack: n, off: r.off, n: r.n}
	case r.typ == recDelete && live:
		delete(l.idx, r.key)
	case r.typ == recPut:
		return damage(path, r.off, "a second put of live key "+r.key)
	default:
		return damage(path, r.off, "a delete of key "+r.key+", which is not live")
	}
	return nil
}

// scanPack reads the records of pack n (open as f) into the index, and
// into found the committed ones and the last commit's group CRC, and
// returns the bytes it uses (after any repair): its size but for the
// zeros written ahead at the end of the last pack.
func (l *packLog) scanPack(f *os.File, path string, n uint32, last, repair bool, res *scanResult, damage func(string, int64, string) error, found *packKeys) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("local: open: %w", err)
	}
	size := st.Size()
	w := &window{f: f, size: size}
	hdr, err := w.at(0, packHeaderSize)
	if err != nil {
		return 0, err
	}
	if herr := checkHeader(hdr); herr != nil {
		if last && size <= packHeaderSize && isZero(hdr) || last && size < packHeaderSize {
			// A new pack whose creation was cut short: nothing in it was
			// ever acknowledged.
			if !repair {
				res.tornTail = fmt.Sprintf("%s: header cut short (%d bytes)", path, size)
				return size, nil
			}
			if err := f.Truncate(0); err != nil {
				return 0, fmt.Errorf("local: open: repair %s: %w", path, err)
			}
			if _, err := f.WriteAt(packHeader(), 0); err != nil {
				return 0, fmt.Errorf("local: open: repair %s: %w", path, err)
			}
			if err := f.Sync(); err != nil {
				return 0, fmt.Errorf("local: open: repair %s: %w", path, err)
			}
			return packHeaderSize, nil
		}
		if err := damage(path, 0, herr.Error()); err != nil {
			return 0, err
		}
	}
	off := int64(packHeaderSize)
	groupStart := off    // where the current group's records begin; -1: unknown (after skipped damage)
	var pending []keyRec // records of the group not yet committed
	apply := func() error {
		for _, r := range pending {
			if err := l.apply(path, n, r, damage); err != nil {
				return err
			}
			found.recs = append(found.recs, r)
		}
		pending = pending[:0]
		return nil
	}
	// torn handles the bytes from groupStart to the end: a group whose
	// commit is not there was never acknowledged.
	torn := func(at int64, why error) (int64, error) {
		if !last {
			if err := damage(path, at, "the pack ends inside a group ("+why.Error()+"), and it is not the last pack"); err != nil {
				return 0, err
			}
			return size, apply()
		}
		res.tornTail = fmt.Sprintf("%s: %d bytes from offset %d (%v)", path, size-at, at, why)
		pending = pending[:0]
		if !repair {
			return size, nil
		}
		if err := f.Truncate(at); err != nil {
			return 0, fmt.Errorf("local: open: truncate torn tail of %s: %w", path, err)
		}
		if err := fdatasync(f); err != nil {
			return 0, fmt.Errorf("local: open: truncate torn tail of %s: %w", path, err)
		}
		return at, nil
	}
	for off < size {
		p, fl, ferr := w.frame(off)
		if ferr == nil && p.typ == recCommit && groupStart >= 0 {
			ferr = w.checkGroup(groupStart, off, p)
		}
		if ferr == nil {
			res.records++
			r := keyRec{typ: p.typ, key: p.key, off: off, n: uint32(fl)}
			off += int64(fl)
			if p.typ != recCommit {
				pending = append(pending, r)
				continue
			}
			if err := apply(); err != nil {
				return 0, err
			}
			found.lastCRC = p.groupCRC
			groupStart = off
			continue
		}
		if _, ok := ferr.(errFrame); !ok {
			return 0, ferr
		}
		// Zeros from a group boundary to the end of the last pack are
		// space written ahead (writeGroup), not records.
		if last && groupStart == off && len(pending) == 0 {
			zero, err := w.zerosFrom(off)
			if err != nil {
				return 0, err
			}
			if zero {
				return off, nil
			}
		}
		// A bad record: a torn write unless an intact commit follows it.
		c, err := w.resync(off+1, true)
		if err != nil {
			return 0, err
		}
		if c == size {
			at := groupStart
			if at < 0 {
				at = off
			}
			return torn(at, ferr)
		}
		if err := damage(path, off, ferr.Error()); err != nil {
			return 0, err
		}
		// Read-only: keep the records read so far, skip to the next one
		// that decodes.
		if err := apply(); err != nil {
			return 0, err
		}
		if off, err = w.resync(off+1, false); err != nil {
			return 0, err
		}
		groupStart = -1
	}
	if len(pending) > 0 {
		return torn(max(groupStart, pending[0].off), errFrame("no commit record after the group"))
	}
	return size, nil
}

// window reads a pack through a buffer of at least 1 MiB.
type window struct {
	f    *os.File
	size int64
	base int64 // file offset of buf[0]
	buf  []byte
}

// at returns the bytes [off, off+n) of the file, fewer at its end; they
// are valid until the next call.
func (w *window) at(off int64, n int) ([]byte, error) {
	if off >= w.base && off+int64(n) <= w.base+int64(len(w.buf)) {
		return w.buf[off-w.base : off-w.base+int64(n)], nil
	}
	want := int64(max(n, 1<<20))
	if off+want > w.size {
		want = max(w.size-off, 0)
	}
	if int64(cap(w.buf)) < want {
		w.buf = make([]byte, want)
	}
	w.buf = w.buf[:want]
	if _, err := w.f.ReadAt(w.buf, off); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("local: read %s: %w", w.f.Name(), err)
	}
	w.base = off
	return w.buf[:min(int64(n), want)], nil
}

// frame decodes the record at off. Errors of type errFrame are damage (or
// a torn write); others are read errors.
func (w *window) frame(off int64) (packed, int, error) {
	h, err := w.at(off, frameHeader)
	if err != nil {
		return packed{}, 0, err
	}
	n, ferr := frameLen(h)
	if ferr != nil {
		return packed{}, 0, ferr
	}
	if off+int64(n) > w.size {
		return packed{}, 0, errFrame("record runs past the end of the pack")
	}
	b, err := w.at(off, n)
	if err != nil {
		return packed{}, 0, err
	}
	return decodeFrame(b)
}

// zerosFrom reports whether the bytes from off to the end are all zero.
func (w *window) zerosFrom(off int64) (bool, error) {
	for off < w.size {
		b, err := w.at(off, int(min(w.size-off, 1<<20)))
		if err != nil {
			return false, err
		}
		if !isZero(b) {
			return false, nil
		}
		off += int64(len(b))
	}
	return true, nil
}

// checkGroup checks commit record p at off against the group that began
// at start.
func (w *window) checkGroup(start, off int64, p packed) error {
	if int64(p.groupLen) != off-start {
		return errFrame("commit record of a group of another length")
	}
	g, err := w.at(start, int(p.groupLen))
	if err != nil {
		return err
	}
	if groupCRC(g) != p.groupCRC {
		return errFrame("group checksum mismatch")
	}
	return nil
}

// resync returns the offset of the first record at or after off that
// decodes (an intact commit record, one whose group reads back intact,
// when commit is set), or the end of the file.
func (w *window) resync(off int64, commit bool) (int64, error) {
	for ; off+frameHeader <= w.size; off++ {
		p, _, err := w.frame(off)
		if err == nil && commit {
			if p.typ != recCommit || off-int64(p.groupLen) < packHeaderSize {
				continue
			}
			err = w.checkGroup(off-int64(p.groupLen), off, p)
		}
		if err == nil {
			return off, nil
		}
		if _, ok := err.(errFrame); !ok {
			return 0, err
		}
	}
	return w.size, nil
}

// lookup returns a live key's location.
func (l *packLog) lookup(key string) (packLoc, bool) {
	l.imu.RLock()
	defer l.imu.RUnlock()
	loc, ok := l.idx[key]
	return loc, ok
}

// keys returns the live packed keys.
func (l *packLog) keys() []string {
	l.imu.RLock()
	defer l.imu.RUnlock()
	out := make([]string, 0, len(l.idx))
	for k := range l.idx {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// read reads and decodes the put record of key at loc. A record that does
// not decode, or is not key's put, is a *trove.CorruptionError.
func (l *packLog) read(key string, loc packLoc) (packed, error) {
	buf := make([]byte, loc.n)
	l.rmu.RLock()
	f := l.files[loc.pack]
	if l.closed {
		l.rmu.RUnlock()
		return packed{}, fmt.Errorf("local: %w", trove.ErrClosed)
	}
	_, err := f.ReadAt(buf, loc.off)
	l.rmu.RUnlock()
	path := filepath.Join(l.dir, packName(loc.pack))
	if err != nil && !errors.Is(err, io.EOF) {
		return packed{}, fmt.Errorf("local: read %s: %w", key, err)
	}
	if err != nil {
		return packed{}, &trove.CorruptionError{File: path, Offset: loc.off, Reason: "local: record of key " + key + " is cut short"}
	}
	p, n, err := decodeFrame(buf)
	if err == nil && (n != len(buf) || p.typ != recPut || p.key != key) {
		err = errFrame("the record is not key " + key + "'s")
	}
	if err != nil {
		return packed{}, &trove.CorruptionError{File: path, Offset: loc.off, Reason: "local: " + err.Error()}
	}
	return p, nil
}

// submit queues w and returns once it is durable and applied to the
// index (or failed), leading groups as the packLog doc says.
func (l *packLog) submit(w *packWrite) error {
	w.wake = make(chan struct{}, 1)
	l.mu.Lock()
	if l.mu.stopping {
		l.mu.Unlock()
		return fmt.Errorf("local: %w", trove.ErrClosed)
	}
	if err := l.mu.err; err != nil {
		l.mu.Unlock()
		return fmt.Errorf("local: an earlier pack write failed (reopen the store): %w", err)
	}
	l.mu.queue = append(l.mu.queue, w)
	if l.mu.leading {
		l.mu.Unlock()
		<-w.wake
		if !w.lead {
			return w.err
		}
		l.mu.Lock()
	}
	l.mu.leading = true
	for {
		n, size := 0, 0
		for n < len(l.mu.queue) && (n == 0 || size+len(l.mu.queue[n].frame) <= groupMax) {
			size += len(l.mu.queue[n].frame)
			n++
		}
		group := slices.Clone(l.mu.queue[:n])
		l.mu.queue = slices.Delete(l.mu.queue, 0, n)
		err := l.mu.err
		l.mu.Unlock()
		if err == nil {
			err = l.writeGroup(group)
		}
		if err == nil {
			l.imu.Lock()
			for _, g := range group {
				if g.del {
					delete(l.idx, g.key)
				} else {
					l.idx[g.key] = g.loc
				}
			}
			l.imu.Unlock()
		}
		l.mu.Lock()
		if err != nil && l.mu.err == nil {
			l.mu.err = err
		}
		for _, g := range group {
			g.err, g.done = err, true
			if g != w {
				g.wake <- struct{}{}
			}
		}
		if len(l.mu.queue) == 0 {
			l.mu.leading = false
			l.idle.Broadcast()
			l.mu.Unlock()
			return w.err
		}
		if w.done {
			next := l.mu.queue[0]
			next.lead = true
			next.wake <- struct{}{}
			l.mu.Unlock()
			return w.err
		}
	}
}

// writeGroup appends the group's records to the active pack (starting a
// new one first when needed) with one write and one fdatasync.
func (l *packLog) writeGroup(group []*packWrite) error {
	if l.active == nil || l.activeSize >= l.packSize {
		if err := l.rotate(); err != nil {
			return err
		}
	}
	l.buf = l.buf[:0]
	for _, w := range group {
		w.loc = packLoc{pack: l.activeN, off: l.activeSize + int64(len(l.buf)), n: uint32(len(w.frame))}
		l.buf = append(l.buf, w.frame...)
	}
	l.buf = appendCommit(l.buf, l.buf)
	used := int64(len(l.buf))
	// Past the zeros written ahead, a small group writes the next ones
	// with it: overwriting allocated blocks, the groups after it need not
	// commit a new file size with their fdatasync. A large group extends
	// the pack to its own end only (see zeroAheadMax).
	alloc := l.allocEnd
	if end := l.activeSize + used; end > alloc && used > zeroAheadMax {
		alloc = end
	} else if end > alloc {
		alloc = (end + preallocChunk - 1) / preallocChunk * preallocChunk
		l.buf = append(l.buf, make([]byte, alloc-end)...)
	}
	l.ops.writes.Add(1)
	if _, err := l.active.WriteAt(l.buf, l.activeSize); err != nil {
		return fmt.Errorf("local: write %s: %w", l.active.Name(), err)
	}
	l.ops.syncs.Add(1)
	if err := fdatasync(l.active); err != nil {
		return fmt.Errorf("local: sync %s: %w", l.active.Name(), err)
	}
	for _, w := range group {
		r := keyRec{typ: recPut, key: w.key, off: w.loc.off, n: w.loc.n}
		if w.del {
			r.typ = recDelete
		}
		l.activeRecs = append(l.activeRecs, r)
	}
	l.activeLastCRC = binary.LittleEndian.Uint32(l.buf[used-4 : used]) // the commit's group CRC
	l.activeSize += used
	l.allocEnd = alloc
	if cap(l.buf) > 2*groupMax {
		l.buf = nil
	}
	return nil
}

// preallocChunk is the multiple of bytes the active pack's zeros written
// ahead extend it to.
const preallocChunk = 1 << 20

// zeroAheadMax is the most bytes of records a group that passes the zeros
// written ahead may hold and still write the next ones. Zeros written
// ahead make every byte packed after them a second write; a larger group
// pays less committing the new file size with its own fdatasync (on ext4
// here, an extending fdatasync costs about 1 ms more than an overwriting
// one, what writing some 256 KiB twice costs), and the groups of many
// concurrent writers are large.
const zeroAheadMax = 256 << 10

// rotate seals the active pack, writing its key file, and starts the
// next pack: created with its header, fsynced, and the directory fsynced
// (which makes both entries durable), before any record goes into it.
func (l *packLog) rotate() error {
	if l.active != nil && l.allocEnd > l.activeSize {
		// A pack that is not the last ends at its last commit.
		l.ops.writes.Add(1)
		if err := l.active.Truncate(l.activeSize); err != nil {
			return fmt.Errorf("local: close pack %s: %w", l.active.Name(), err)
		}
		l.ops.syncs.Add(1)
		if err := fdatasync(l.active); err != nil {
			return fmt.Errorf("local: close pack %s: %w", l.active.Name(), err)
		}
	}
	if l.active != nil {
		l.ops.writes.Add(1)
		l.ops.syncs.Add(1)
		if err := writeKeys(l.dir, packKeys{pack: l.activeN, size: l.activeSize, lastCRC: l.activeLastCRC, recs: l.activeRecs}); err != nil {
			return err
		}
		l.activeRecs, l.activeLastCRC = nil, 0
	}
	n := l.activeN + 1
	path := filepath.Join(l.dir, packName(n))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("local: new pack: %w", err)
	}
	l.ops.writes.Add(1)
	if _, err := f.Write(packHeader()); err != nil {
		f.Close()
		return fmt.Errorf("local: new pack %s: %w", path, err)
	}
	l.ops.syncs.Add(2) // the file, then its directory
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("local: new pack %s: %w", path, err)
	}
	if err := fsutil.SyncDir(l.dir); err != nil {
		f.Close()
		return err
	}
	l.rmu.Lock()
	l.files[n] = f
	l.rmu.Unlock()
	l.active, l.activeN, l.activeSize, l.allocEnd = f, n, packHeaderSize, packHeaderSize
	return nil
}

// close waits for the queued records to be written (no new ones are
// taken), then closes the packs.
func (l *packLog) close() error {
	l.mu.Lock()
	l.mu.stopping = true
	for l.mu.leading {
		l.idle.Wait()
	}
	l.mu.Unlock()
	l.rmu.Lock()
	defer l.rmu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	var first error
	for _, f := range l.files {
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
