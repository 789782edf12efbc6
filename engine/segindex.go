package engine

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/index"
	"github.com/trovedb/trove/internal/fsutil"
	"github.com/trovedb/trove/segment"
)

// Every sealed segment holding events has a segment index beside it
// (index.SegIndex, index/SEGINDEX.md): segments/N.idx for segments/N.seg.
// The seal writes it after the segment (atomic publish) and before the
// writer switches readers to the segment. It is derived data: Open
// rebuilds a missing or damaged one from its segment (a crash between the
// two publishes leaves a segment without one; a store written before
// segment indexes existed has none), and Check rebuilds each in memory and
// compares it with the file.
//
// Opening a segment index checks the sections every reader needs; the
// ones only lookups read (three quarters of the file) are checked when
// first read. A writable store then checks them all on a goroutine of its
// own (checkSegIndexes) and rebuilds a damaged index from its segment,
// as opening used to: a reopen reads a quarter of the indexes' bytes, and
// damage is still found and repaired without a lookup running into it.

// segIndexPath returns the path of the segment index of the segment at
// segPath.
func segIndexPath(segPath string) string { return strings.TrimSuffix(segPath, ".seg") + ".idx" }

// segIndexBuilder builds the segment index of one segment from its event
// records, in position order. prev gives the position of an event's
// previous version (the engine's index knows it).
type segIndexBuilder struct {
	b       *index.SegIndexBuilder
	schemas []trove.Schema
	prev    func(pos uint32) uint32
}

func newSegIndexBuilder(first, last uint64, schemas []trove.Schema, prev func(pos uint32) uint32) *segIndexBuilder {
	b := index.NewSegIndexBuilder(uint32(first))
	b.Grow(int(last - first + 1))
	return &segIndexBuilder{b: b, schemas: schemas, prev: prev}
}

// add adds r when it is an event record.
func (sb *segIndexBuilder) add(r *segment.Record) error {
	if r.Type != recEvent {
		return nil
	}
	h, err := decodeHead(r.Body)
	if err != nil {
		return fmt.Errorf("position %d: %w", r.Position, err)
	}
	if h.schemaNum >= uint32(len(sb.schemas)) {
		return fmt.Errorf("%w: position %d: unknown schema number %d", errRecord, r.Position, h.schemaNum)
	}
	pos := uint32(r.Position)
	return sb.b.Add(pos, sb.prev(pos), index.Doc{ID: h.id, Version: h.version, CreatedAt: r.Time,
		Schema: sb.schemas[h.schemaNum].Identity(), Producer: h.producer, Links: h.links, Payload: h.payload})
}

func (sb *segIndexBuilder) bytes() ([]byte, error) {
	var buf bytes.Buffer
	if err := sb.b.Encode(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeSegIndex builds the segment index of a segment from its records
// and publishes it at path (atomic publish), then opens it.
func writeSegIndex(path string, first, last uint64, scan func(fn func(segment.Record) error) error, schemas []trove.Schema, prev func(uint32) uint32, readOnly, noMmap bool) (*index.SegIndex, error) {
	sb := newSegIndexBuilder(first, last, schemas, prev)
	if err := scan(func(r segment.Record) error { return sb.add(&r) }); err != nil {
		return nil, err
	}
	if readOnly {
		data, err := sb.bytes()
		if err != nil {
			return nil, err
		}
		return index.DecodeSegIndex(path, data)
	}
	err := fsutil.WriteFileAtomic(path, 0o640, func(w io.Writer) error { return sb.b.Encode(w) })
	if err != nil {
		return nil, err
	}
	return loadSegIndex(path, noMmap)
}

// loadSegIndex opens the segment index file at path: mapped, or read into
// memory with noMmap (Options.NoMmap).
func loadSegIndex(path string, noMmap bool) (*index.SegIndex, error) {
	if noMmap {
		return index.ReadSegIndex(path)
	}
	return index.OpenSegIndex(path)
}

// openSegIndex opens the segment index of sg, checked against the
// segment's range; whole checks the sections only lookups read too
// (index.SegIndex.CheckSections), else their first lookup does.
func openSegIndex(sg *sealed, noMmap, whole bool) (*index.SegIndex, error) {
	ix, err := loadSegIndex(segIndexPath(sg.path), noMmap)
	if err != nil {
		return nil, err
	}
	err = segIndexFits(sg, ix)
	if err == nil && whole {
		err = ix.CheckSections()
	}
	if err != nil {
		ix.Close()
		return nil, err
	}
	return ix, nil
}

// segIndexFits checks that ix covers the positions of sg.
func segIndexFits(sg *sealed, ix *index.SegIndex) error {
	if uint64(ix.First()) != sg.meta.FirstPosition || uint64(ix.Last()) != sg.meta.LastPosition {
		return &trove.CorruptionError{File: segIndexPath(sg.path), Offset: 16,
			Reason: fmt.Sprintf("engine: segment index covers positions %d-%d, its segment %d-%d", ix.First(), ix.Last(), sg.meta.FirstPosition, sg.meta.LastPosition)}
	}
	return nil
}

// openSegIndexes opens the segment index of every sealed segment holding
// events, once recovery has replayed the log (the index knows every
// sealed event's previous version), and builds those missing or rebuilds
// those damaged. A read-only store builds them in memory and writes nothing. A
// segment whose index cannot be built (its own damage, which reads and
// Check report) is left without one.
func (s *Store) openSegIndexes() {
	var cols index.Columns
	s.ix.Read(func(r index.Reader) { cols = r.Columns() })
	for _, sg := range s.w.evSegs {
		if sg.idx.Load() != nil {
			continue
		}
		ix, err := s.w.pre.take(sg)
		if ix == nil && err == nil {
			ix, err = openSegIndex(sg, s.opts.NoMmap, s.readOnly)
		}
		if err == nil {
			sg.idx.Store(ix)
			continue
		}
		// A missing index is no damage: a store written before segment
		// indexes existed, or a crash right after the segment's publish.
		if !errors.Is(err, os.ErrNotExist) {
			s.logger.Warn("damaged segment index; rebuilding it from its segment", "err", err)
			s.w.segIdxDamage = append(s.w.segIdxDamage, err)
		}
		if uint64(cols.Last) < sg.meta.LastPosition {
			s.logger.Warn("cannot build a segment index: its events are not indexed", "segment", sg.path)
			continue
		}
		ix, err = writeSegIndex(segIndexPath(sg.path), sg.meta.FirstPosition, sg.meta.LastPosition, sg.seg.Scan, s.w.schemas, cols.Prev, s.readOnly, s.opts.NoMmap)
		if err != nil {
			s.logger.Error("cannot build a segment index", "segment", sg.path, "err", err)
			continue
		}
		s.stats.idxRepairs.Add(1)
		sg.idx.Store(ix)
	}
	s.w.pre.close()
	s.w.pre = nil
	s.setSegIndexes()
}

// setSegIndexes hands the engine's index the segment indexes of the
// sealed log (index.Index.SetSegments).
func (s *Store) setSegIndexes() {
	list := make([]*index.SegIndex, len(s.w.evSegs))
	for i, sg := range s.w.evSegs {
		list[i] = sg.idx.Load()
	}
	s.ix.SetSegments(list)
	s.trimHead()
}

// trimHead finishes on a goroutine of its own, a batch at a time, the trim
// of the index's head that SetSegments starts (index.Index.TrimStep): the
// writer waits for one batch at most, not for all of it.
func (s *Store) trimHead() {
	s.trims.Add(1)
	ix := s.ix // recovery may replace it (and closes the one it drops)
	go func() {
		defer s.trims.Done()
		for ix.TrimStep() {
			runtime.Gosched() // let a writer waiting for the lock have it
		}
	}()
}

// segIndexRepair is a segment index that checkSegIndexes found damaged,
// and its replacement built from the segment, for the writer to put in
// place (finishSegIndexRepair).
type segIndexRepair struct {
	sg       *sealed
	old, new *index.SegIndex
	damage   error
	done     chan struct{} // closed once the writer is done with it
}

// checkSegIndexes starts checking, on a goroutine of its own, the sections
// of every segment index open that opening left to the first lookup
// (index.SegIndex.CheckSections), oldest first. A damaged one is rebuilt
// from its segment and handed to the writer. Lookups that read the
// damage before then fail with a trove.ErrCorrupt error. Close stops the
// check, which starts again at the next open. Call it before the writer
// starts.
func (s *Store) checkSegIndexes() {
	type open struct {
		sg *sealed
		ix *index.SegIndex
	}
	var list []open
	for _, sg := range s.w.evSegs {
		if ix := sg.idx.Load(); ix != nil {
			list = append(list, open{sg, ix})
		}
	}
	schemas := s.w.schemas[:len(s.w.schemas):len(s.w.schemas)] // append-only: the sealed events' are all here
	s.stats.idxUnchecked.Store(int64(len(list)))
	s.checking.Add(1)
	go func() {
		defer s.checking.Done()
		for _, o := range list {
			select {
			case <-s.closedCh:
				return
			default:
			}
			damage := o.ix.CheckSections()
			s.stats.idxUnchecked.Add(-1)
			if damage == nil {
				continue
			}
			s.logger.Warn("damaged segment index; rebuilding it from its segment", "err", damage)
			var cols index.Columns
			s.ix.Read(func(r index.Reader) { cols = r.Columns() })
			m := o.sg.meta
			ix, err := writeSegIndex(segIndexPath(o.sg.path), m.FirstPosition, m.LastPosition, o.sg.seg.Scan, schemas, cols.Prev, false, s.opts.NoMmap)
			if err != nil {
				s.logger.Error("cannot rebuild a segment index; the next open tries again", "segment", o.sg.path, "err", err)
				continue
			}
			s.ix.PrepareSegment(ix)
			r := &segIndexRepair{sg: o.sg, old: o.ix, new: ix, damage: damage, done: make(chan struct{})}
			select {
			case s.repaired <- r:
				<-r.done
			case <-s.closedCh:
				ix.Close()
				return
			}
		}
	}()
}

// finishSegIndexRepair puts a rebuilt segment index in place, on the
// writer. The damaged one stays open until Close: readers may still hold
// it.
func (s *Store) finishSegIndexRepair(r *segIndexRepair) {
	defer close(r.done)
	s.w.segIdxDamage = append(s.w.segIdxDamage, r.damage)
	if !r.sg.idx.CompareAndSwap(r.old, r.new) {
		r.new.Close()
		return
	}
	s.w.retiredIdx = append(s.w.retiredIdx, r.old)
	s.stats.idxRepairs.Add(1)
	s.setSegIndexes()
}

// closeSegIndexes closes the segment indexes of every open segment, and
// those they replaced.
func (s *Store) closeSegIndexes() error {
	var errs []error
	for _, ix := range s.w.retiredIdx {
		errs = append(errs, ix.Close())
	}
	s.w.retiredIdx = nil
	for _, sg := range s.w.segs {
		if ix := sg.idx.Swap(nil); ix != nil {
			errs = append(errs, ix.Close())
		}
	}
	return errors.Join(errs...)
}
