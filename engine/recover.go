package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/index"
	"github.com/trovedb/trove/internal/fsutil"
	"github.com/trovedb/trove/segment"
)

// recover opens the store's files and rebuilds the writer's state:
//
//  1. Temporary files of an interrupted seal or snapshot are removed.
//  2. Sealed segments are opened (header, footer and block table checked);
//     damage there is an error: sealed data is never dropped silently.
//  3. The index snapshot, if present and intact, is loaded. It proves
//     which WAL entries were acknowledged.
//  4. segment.OpenWAL truncates a torn, zeroed or CRC-failing tail (only
//     unacknowledged bytes can be there). If that tail holds an entry
//     proven acknowledged, or the log ends before such an entry, Open
//     fails with a *trove.CorruptionError naming the WAL file and offset
//     and leaves the WAL as it is (in SyncNone mode, where nothing is
//     durable, the log is the truth and the index is rebuilt).
//  5. The log after the WAL entry the snapshot covers is replayed from
//     segments and the WAL. A damaged snapshot is ignored (logged) and the
//     index rebuilt from the whole log.
//  6. WAL entries already sealed (a crash between seal and truncation,
//     told by the newest segment's LastWALIndex) are truncated; the rest
//     become the memtable.
func (s *Store) recover(ctx context.Context) (err error) {
	if !s.readOnly {
		for _, d := range []string{s.dir, s.segDir(), s.walDir()} {
			// Durably: a directory whose name is lost in a power cut would
			// take acknowledged events with it.
			if err := fsutil.MkdirAll(d, 0o750); err != nil {
				return fmt.Errorf("engine: open: %w", err)
			}
		}
		// The store's directory may have been created before the lock
		// (without an fsync of its parent): make its name durable too.
		if err := fsutil.SyncDir(filepath.Dir(filepath.Clean(s.dir))); err != nil {
			return fmt.Errorf("engine: open: %w", err)
		}
		for _, d := range []string{s.dir, s.segDir()} {
			if err := removeLeftovers(d); err != nil {
				return fmt.Errorf("engine: open: %w", err)
			}
		}
	} else if _, err := os.Stat(s.dir); err != nil {
		return fmt.Errorf("engine: open: %w", err)
	}
	s.w.regKeys = map[string]string{}
	defer func() {
		if err != nil {
			if s.ix != nil {
				s.ix.Close()
			}
			s.w.pre.close()
			s.closeSegIndexes()
			for _, sg := range s.w.segs {
				sg.seg.Close()
			}
			s.closeIDRuns()
			s.closeKeyRuns()
			if s.wal != nil {
				s.wal.Close()
			}
			if s.tmpWAL != "" {
				os.RemoveAll(s.tmpWAL)
			}
		}
	}()
	names, err := filepath.Glob(filepath.Join(s.segDir(), "*.seg"))
	if err != nil {
		return fmt.Errorf("engine: open: %w", err)
	}
	slices.Sort(names)
	segs, err := openSegments(names, s.cache.tables)
	if err != nil {
		return err
	}
	var lastSealed uint64
	for i, name := range names {
		s.addSegment(name, segs[i])
		lastSealed = max(lastSealed, segs[i].Meta().LastWALIndex)
	}
	// The id runs and the segment indexes open (each checked whole) on
	// other goroutines while the snapshot decodes here; the index gets
	// them before it is used.
	pre := s.preopen()
	// The index snapshot is durable evidence of what was acknowledged: it
	// names the last WAL entry it includes, and is written only after that
	// entry was fsynced. Entries up to it that are not sealed (the newest
	// segment's Meta.LastWALIndex) exist only in the WAL.
	walIndex, ok := s.loadSnapshot()
	pre.wait()
	if ok {
		if err := s.openDroppedSegIndexes(); err != nil {
			s.logger.Warn("index snapshot needs segment indexes that do not open; rebuilding the index from the log", "err", err)
			ok = false
		}
	}
	var acked uint64 // last WAL entry proven acknowledged and held only by the WAL
	if ok && walIndex > lastSealed {
		acked = walIndex
	}
	tail, err := s.openWAL(acked)
	if err != nil {
		return err
	}
	if tail != nil {
		s.w.tornTail = fmt.Sprintf("%s at offset %d: WAL entry %d: %s", tail.file, tail.offset, tail.first, tail.reason)
	}
	if logEnd := s.wal.NextIndex() - 1; ok && walIndex > max(logEnd, lastSealed) {
		// Only in SyncNone mode (openWAL refuses it otherwise): without
		// fsync a tail can be lost, and the log is the truth.
		s.logger.Warn("index snapshot is ahead of the log; rebuilding the index", "snapshot", walIndex, "log", logEnd)
		ok = false
	}
	if ok {
		err = s.replay(ctx, walIndex, lastSealed)
		if errors.Is(err, errReplayGap) {
			s.logger.Warn("index snapshot does not join the log; rebuilding the index", "err", err)
			ok = false
		} else if err != nil {
			return err
		}
	}
	if !ok {
		s.resetState()
		if err := s.replay(ctx, 0, lastSealed); err != nil {
			return err
		}
	}
	if first := s.wal.FirstIndex(); first != 0 && first <= lastSealed {
		if err := s.wal.TruncateFront(min(lastSealed+1, s.wal.NextIndex())); err != nil {
			return fmt.Errorf("engine: open: %w", err)
		}
	}
	return nil
}

// openWAL opens the WAL and returns what its recovery cut from the tail.
//
// A read-only store opens a private copy of the WAL directory, repaired
// there and never in the store. A writable store first verifies a copy of
// the newest WAL file when entries up to acked (proven acknowledged) may
// be in it, and opens (and repairs) the real WAL only when the repair
// would not cut an acknowledged entry: the damaged bytes stay on disk for
// whoever investigates.
func (s *Store) openWAL(acked uint64) (*walTail, error) {
	walOpts := segment.WALOptions{NoSync: s.opts.SyncMode == SyncNone, SegmentSize: s.opts.walFileSize}
	if s.opts.SyncMode == SyncNone {
		acked = 0 // without fsync, acknowledged means nothing
	}
	if s.readOnly {
		c, err := copyWAL(s.walDir(), 0)
		if err != nil {
			return nil, fmt.Errorf("engine: open: %w", err)
		}
		s.tmpWAL = c.dir
		w, tail, err := c.open(s.walDir(), walOpts)
		if err != nil {
			return nil, err
		}
		s.wal = w
		return tail, s.lostAcked(w, tail, acked)
	}
	if acked > 0 {
		lastFile, err := lastWALIndex(s.walDir())
		if err != nil {
			return nil, fmt.Errorf("engine: open: %w", err)
		}
		// When the newest file starts after acked, every entry up to acked
		// is in older files, which recovery never truncates.
		if lastFile == 0 || acked >= lastFile {
			c, err := copyWAL(s.walDir(), lastFile)
			if err != nil {
				return nil, fmt.Errorf("engine: open: %w", err)
			}
			w, tail, err := c.open(s.walDir(), segment.WALOptions{NoSync: true})
			if err == nil {
				err = s.lostAcked(w, tail, acked)
				w.Close()
			}
			os.RemoveAll(c.dir)
			if err != nil {
				return nil, err
			}
		}
	}
	w, rec, err := segment.OpenWAL(s.walDir(), walOpts)
	if err != nil {
		return nil, fmt.Errorf("engine: open: %w", err)
	}
	s.wal = w
	if rec.TruncatedEntries > 0 || rec.TruncatedBytes > 0 {
		s.logger.Warn("repaired the WAL's torn tail", "entries", rec.TruncatedEntries, "bytes", rec.TruncatedBytes, "reason", rec.Reason)
		return &walTail{file: rec.File, offset: rec.Offset, first: w.NextIndex(), reason: rec.Reason}, nil
	}
	return nil, nil
}

// lostAcked returns a *trove.CorruptionError when the recovered WAL w
// (whose recovery cut tail, nil for nothing) lacks an entry up to acked,
// the last one the index snapshot proves acknowledged.
func (s *Store) lostAcked(w *segment.WAL, tail *walTail, acked uint64) error {
	if acked == 0 {
		return nil
	}
	if tail != nil && tail.first <= acked {
		return fmt.Errorf("engine: open: %w", &trove.CorruptionError{File: tail.file, Offset: tail.offset,
			Reason: fmt.Sprintf("engine: WAL entry %d is damaged (%s), but %s shows that entries up to %d were acknowledged", tail.first, tail.reason, s.snapPath(), acked)})
	}
	if end := w.NextIndex() - 1; end < acked {
		return fmt.Errorf("engine: open: %w", &trove.CorruptionError{File: s.walDir(), Offset: -1,
			Reason: fmt.Sprintf("engine: the log ends at WAL entry %d, but %s shows that entries up to %d were acknowledged", end, s.snapPath(), acked)})
	}
	return nil
}

var errReplayGap = errors.New("engine: the log after the snapshot is incomplete")

// resetState forgets everything loaded from a snapshot.
func (s *Store) resetState() {
	if s.ix != nil {
		s.ix.Close()
	}
	s.ix = s.newIndex()
	s.w.mem = nil
	s.w.last = 0
	s.w.snapLast, s.w.snapWAL = 0, 0
	s.w.schemas = nil
	s.w.schemaNums = map[string]uint32{}
	s.w.regKeys = map[string]string{}
	s.regMu.Lock()
	s.registered = nil
	s.regMu.Unlock()
}

// loadSnapshot loads the index snapshot and returns the last WAL entry it
// covers; false when there is none or it is damaged (then the state is
// reset).
func (s *Store) loadSnapshot() (uint64, bool) {
	s.resetState()
	data, err := os.ReadFile(s.snapPath())
	if err != nil {
		if !os.IsNotExist(err) {
			s.logger.Warn("cannot read the index snapshot; rebuilding", "err", err)
			s.w.snapDamage = err
		}
		return 0, false
	}
	ix, meta, err := index.DecodeWith(s.snapPath(), data, index.Options{IDAt: s.idAt})
	if errors.Is(err, index.ErrOldSnapshot) {
		s.logger.Info("index snapshot of an earlier format; rebuilding the index from the log once", "err", err)
		return 0, false
	}
	if err != nil {
		s.logger.Warn("damaged index snapshot; rebuilding the index from the log", "err", err)
		s.w.snapDamage = err
		return 0, false
	}
	var sm snapMeta
	if err := json.Unmarshal(meta, &sm); err != nil || uint64(ix.Last()) != sm.Last {
		s.logger.Warn("damaged index snapshot meta; rebuilding the index from the log")
		s.w.snapDamage = &trove.CorruptionError{File: s.snapPath(), Offset: -1, Reason: "engine: damaged snapshot meta"}
		ix.Close()
		return 0, false
	}
	for i, raw := range sm.Schemas {
		sc, err := trove.NewSchema(raw)
		if err != nil {
			s.logger.Warn("damaged schema in the index snapshot; rebuilding", "err", err)
			ix.Close()
			s.resetState()
			s.w.snapDamage = &trove.CorruptionError{File: s.snapPath(), Offset: -1, Reason: fmt.Sprintf("engine: damaged schema %d: %v", i, err)}
			return 0, false
		}
		s.w.schemas = append(s.w.schemas, sc)
		s.w.schemaNums[string(sc.Raw())] = uint32(i)
	}
	for _, rs := range sm.Registered {
		s.w.regKeys[rs.ID+"\x00"+rs.Version] = string(rs.Schema)
	}
	s.registered = sm.Registered
	s.ix.Close()
	s.ix = ix
	ix.SetIDRuns(s.w.idRuns)
	ix.SetKeyRuns(s.w.keyRuns)
	s.w.last = sm.Last
	s.w.snapLast, s.w.snapWAL = sm.Last, sm.WALIndex
	return sm.WALIndex, true
}

// replay applies the log after WAL entry from to the index (whole segments
// first, then WAL entries) and builds the memtable from the WAL entries
// after lastSealed.
func (s *Store) replay(ctx context.Context, from, lastSealed uint64) error {
	s.recoveryView() // the sealed segments are readable
	next := from + 1
	for _, sg := range s.w.segs {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("engine: open: %w", err)
		}
		m := sg.meta
		if m.LastWALIndex < next {
			continue
		}
		if m.FirstWALIndex != next {
			break // the snapshot ends inside this segment: use the WAL
		}
		err := sg.seg.Scan(func(r segment.Record) error {
			return s.apply([]segment.Record{r}, 0, true, false)
		})
		if err != nil {
			return fmt.Errorf("engine: replay %s: %w", sg.path, err)
		}
		next = m.LastWALIndex + 1
	}
	first, last := s.wal.FirstIndex(), s.wal.LastIndex()
	if next <= last && (first == 0 || first > next) {
		return fmt.Errorf("%w: entry %d is neither sealed nor in the WAL (WAL holds %d-%d)", errReplayGap, next, first, last)
	}
	if next <= lastSealed && last < lastSealed {
		// Everything sealed must have been replayed by now.
		return fmt.Errorf("%w: sealed entries %d-%d not replayed", errReplayGap, next, lastSealed)
	}
	// The memtable starts after the last event position sealed.
	s.w.mem = &memtable{first: 1}
	if n := len(s.w.evSegs); n > 0 {
		s.w.mem.first = s.w.evSegs[n-1].meta.LastPosition + 1
	}
	s.recoveryView()
	start := min(next, lastSealed+1)
	if first == 0 || start > last {
		return nil
	}
	// The memtable keeps its records' bodies, which alias the WAL file
	// Scan read them from: each file is read once, into memory the
	// memtable then holds.
	var stopped error // why fn stopped the scan
	err := s.wal.Scan(start, func(i uint64, recs []segment.Record) error {
		if err := ctx.Err(); err != nil {
			stopped = fmt.Errorf("engine: open: %w", err)
			return stopped
		}
		toIndex, toMem := i >= next, i > lastSealed
		if err := s.apply(recs, i, toIndex, toMem); err != nil {
			stopped = fmt.Errorf("engine: replay WAL entry %d: %w", i, err)
			return stopped
		}
		if toMem {
			s.recoveryView() // its events are readable now
		}
		return nil
	})
	switch {
	case stopped != nil:
		return stopped
	case err != nil:
		return fmt.Errorf("engine: replay: %w", err)
	}
	return nil
}

// openSegments opens the sealed segments at paths (header, footer and
// block table checked), in parallel; on failure it closes those it opened.
func openSegments(paths []string, tables *segment.TableCache) ([]*segment.Segment, error) {
	segs := make([]*segment.Segment, len(paths))
	errs := make([]error, len(paths))
	parallel(len(paths), func(i int) {
		segs[i], errs[i] = segment.OpenSegmentCached(paths[i], tables)
	})
	if err := errors.Join(errs...); err != nil {
		for _, sg := range segs {
			if sg != nil {
				sg.Close()
			}
		}
		return nil, fmt.Errorf("engine: open segment: %w", err)
	}
	return segs, nil
}

// parallel calls fn(0) … fn(n-1) on up to GOMAXPROCS goroutines and
// returns when every call has.
func parallel(n int, fn func(i int)) {
	var wg sync.WaitGroup
	var next atomic.Int64
	for range min(n, runtime.GOMAXPROCS(0)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				fn(i)
			}
		}()
	}
	wg.Wait()
}

// preopening is the opening of the id runs and the segment indexes on
// other goroutines (preopen) while recovery loads the snapshot.
type preopening struct {
	s       *Store
	done    chan struct{}
	runs    runChoice[*index.IDRun]
	keyRuns runChoice[*index.KeyRun]
	idx     map[*sealed]openedIndex // what opening each segment's index gave, until taken
}

type openedIndex struct {
	ix  *index.SegIndex
	err error
}

// preopen starts opening the chain of id runs and the segment index of
// every sealed segment holding events; s.w.pre holds them until they are
// used (wait, then take).
func (s *Store) preopen() *preopening {
	p := &preopening{s: s, done: make(chan struct{}), idx: map[*sealed]openedIndex{}}
	s.w.pre = p
	segs := s.w.evSegs
	go func() {
		defer close(p.done)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.runs = s.chooseIDRuns(segs)
			p.keyRuns = s.chooseKeyRuns(segs)
		}()
		opened := make([]openedIndex, len(segs))
		parallel(len(segs), func(i int) {
			opened[i].ix, opened[i].err = openSegIndex(segs[i], s.opts.NoMmap, s.readOnly)
		})
		for i, sg := range segs {
			p.idx[sg] = opened[i]
		}
		wg.Wait()
	}()
	return p
}

// wait waits for the opening and hands the id runs to the store and its
// index (removing the run files not used).
func (p *preopening) wait() {
	<-p.done
	p.s.useIDRuns(p.runs)
	p.s.useKeyRuns(p.keyRuns)
}

// take returns what opening sg's index gave (wait first), and forgets it;
// nil and nil when it was not opened. p may be nil.
func (p *preopening) take(sg *sealed) (*index.SegIndex, error) {
	if p == nil {
		return nil, nil
	}
	o := p.idx[sg]
	delete(p.idx, sg)
	return o.ix, o.err
}

// close closes the segment indexes opened and not taken (wait first). p
// may be nil.
func (p *preopening) close() {
	if p == nil {
		return
	}
	for sg, o := range p.idx {
		if o.ix != nil {
			o.ix.Close()
		}
		delete(p.idx, sg)
	}
}

// openDroppedSegIndexes gives their segments the segment indexes of the
// positions the loaded snapshot trimmed (index.Index.Trimmed), opened by
// s.w.pre: only they hold those positions' ids, postings and, for the
// dropped columns (index.Index.SealedColumns), columns, so they must open
// as they are (a missing or damaged one cannot be rebuilt without them).
// It hands them to the index at once: replay looks up the ids of earlier
// versions in them.
func (s *Store) openDroppedSegIndexes() error {
	need := uint64(max(s.ix.Trimmed(), s.ix.SealedColumns()))
	var covered uint64
	var open []*sealed
	for _, sg := range s.w.evSegs {
		if covered >= need {
			break
		}
		if sg.meta.FirstPosition != covered+1 {
			return fmt.Errorf("engine: no segment holds position %d", covered+1)
		}
		if sg.idx.Load() == nil {
			open = append(open, sg)
		}
		covered = sg.meta.LastPosition
	}
	if covered < need {
		return fmt.Errorf("engine: the segments end at position %d, the snapshot needs %d", covered, need)
	}
	var failed []error
	for _, sg := range open {
		ix, err := s.w.pre.take(sg)
		if ix == nil && err == nil {
			ix, err = openSegIndex(sg, s.opts.NoMmap, s.readOnly)
		}
		sg.idx.Store(ix)
		if err != nil {
			failed = append(failed, err)
		}
	}
	if err := errors.Join(failed...); err != nil {
		return err
	}
	s.setSegIndexes()
	return nil
}
