package engine

import (
	"context"
	"fmt"
	"sort"
	"sync/atomic"
	"unsafe"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/index"
	"github.com/trovedb/trove/query"
	"github.com/trovedb/trove/segment"
)

// sealed is an open segment file of the store. Its block table is the
// segment's own (segment.Segment.FindBlock).
type sealed struct {
	id   uint64 // unique within the store
	path string
	seg  *segment.Segment
	meta segment.Meta
	// idx is the segment's index (segindex.go); nil when the segment holds
	// no events or its index could not be built. Set before the segment
	// is published to readers, and again by the writer when the index
	// was found damaged and rebuilt (checkSegIndexes); every index it
	// held is closed by Close.
	idx atomic.Pointer[index.SegIndex]
}

func newSealed(id uint64, path string, seg *segment.Segment) *sealed {
	return &sealed{id: id, path: path, seg: seg, meta: seg.Meta()}
}

// hasEvents reports whether the segment holds any event.
func (sg *sealed) hasEvents() bool { return sg.meta.LastPosition != 0 }

// Memory a cached block holds besides its records' bytes: the block, its
// entry in the cache's ring and its map entry (key, value and the map's
// control byte, with room to spare for the map's load factor).
const (
	recordSize    = int64(unsafe.Sizeof(segment.Record{}))
	blockOverhead = int64(unsafe.Sizeof(block{}) + unsafe.Sizeof(clockEntry{}) + 2*(unsafe.Sizeof(blockKey{})+8+1))
)

// block is a decoded block: its event records in position order.
type block struct {
	first  uint64
	events []segment.Record
	size   int64
	ref    atomic.Bool // read since the cache's hand last passed
}

// readBlock returns block idx of sg, which holds events, through the
// cache.
func (s *Store) readBlock(sg *sealed, idx int) (*block, error) {
	if blk := s.cache.get(sg, idx); blk != nil {
		return blk, nil
	}
	recs, err := sg.seg.ReadBlock(idx)
	if err != nil {
		return nil, err
	}
	first := sg.seg.BlockFirst(idx)
	n := 0
	for i := range recs {
		if recs[i].Type == recEvent {
			n++
		}
	}
	// size is what the cached block keeps alive: the decoded bytes (every
	// record's body and its few header bytes), the records and the
	// cache's own bookkeeping.
	blk := &block{first: first, size: blockOverhead + int64(cap(recs))*recordSize}
	for _, r := range recs {
		blk.size += int64(len(r.Body)) + 4
	}
	if n == len(recs) {
		blk.events = recs // all events: the records as read
	} else {
		// Links and schema records share the block: keep the events
		// alone, in a slice of their own.
		blk.events = make([]segment.Record, 0, n)
		for _, r := range recs {
			if r.Type == recEvent {
				blk.events = append(blk.events, r)
			}
		}
		blk.size += int64(n) * recordSize
	}
	for i := range blk.events {
		if blk.events[i].Position != first+uint64(i) {
			return nil, &trove.CorruptionError{File: sg.path, Offset: -1,
				Reason: fmt.Sprintf("engine: block %d: positions not dense at %d", idx, first+uint64(i))}
		}
	}
	return s.cache.put(sg, idx, blk), nil
}

// record returns the event record at pos in view v.
func (s *Store) record(v *view, pos uint64) (segment.Record, error) {
	if pos == 0 || pos > v.last {
		return segment.Record{}, fmt.Errorf("%w: engine: position %d", trove.ErrNotFound, pos)
	}
	if pos >= v.memFirst {
		i := pos - v.memFirst
		if i < uint64(len(v.memBody)) {
			return segment.Record{Type: recEvent, Position: pos, Time: v.memTime[i], Body: v.memBody[i]}, nil
		}
		return segment.Record{}, fmt.Errorf("%w: engine: position %d", trove.ErrNotFound, pos)
	}
	segs := v.segs
	i := sort.Search(len(segs), func(i int) bool { return segs[i].meta.LastPosition >= pos })
	if i == len(segs) || segs[i].meta.FirstPosition > pos {
		return segment.Record{}, fmt.Errorf("%w: engine: position %d in no segment", trove.ErrNotFound, pos)
	}
	sg := segs[i]
	j, ok := sg.seg.FindBlock(pos)
	if !ok {
		return segment.Record{}, &trove.CorruptionError{File: sg.path, Offset: -1,
			Reason: fmt.Sprintf("engine: position %d missing from its segment", pos)}
	}
	blk, err := s.readBlock(sg, j)
	if err != nil {
		return segment.Record{}, err
	}
	k := pos - blk.first
	if k >= uint64(len(blk.events)) {
		return segment.Record{}, &trove.CorruptionError{File: sg.path, Offset: -1,
			Reason: fmt.Sprintf("engine: position %d missing from block %d", pos, j)}
	}
	return blk.events[k], nil
}

// eventAt returns a copy of the event at pos, owned by the caller.
func (s *Store) eventAt(v *view, pos uint64) (trove.Event, error) {
	rec, err := s.record(v, pos)
	if err != nil {
		return trove.Event{}, err
	}
	e, err := decodeEvent(&rec, v.schemas)
	if err != nil {
		return trove.Event{}, fmt.Errorf("engine: position %d: %w", pos, err)
	}
	return e, nil
}

// getEvent finds an event version without admission (callers hold it).
// The index verifies a candidate position by reading its id back; the
// record read then is kept, so that the event found (the latest version,
// most often the candidate itself) is not read twice.
func (s *Store) getEvent(id trove.EventID) (trove.Event, error) {
	v := s.view.Load()
	var read segment.Record
	p, ok, err := s.ix.FindWith(id.ID, id.Version, uint32(v.last), func(pos uint32) (string, error) {
		rec, err := s.record(v, uint64(pos))
		if err != nil {
			return "", err
		}
		got, err := recordID(&rec)
		if err == nil {
			read = rec
		}
		return got, err
	})
	if err != nil && !ok {
		return trove.Event{}, fmt.Errorf("engine: event %s: %w", id, err)
	}
	if !ok {
		return trove.Event{}, fmt.Errorf("%w: engine: event %s", trove.ErrNotFound, id)
	}
	if read.Position != uint64(p) {
		return s.eventAt(v, uint64(p))
	}
	e, err := decodeEvent(&read, v.schemas)
	if err != nil {
		return trove.Event{}, fmt.Errorf("engine: position %d: %w", p, err)
	}
	return e, nil
}

// GetEvent returns the latest version of id.ID, or version id.Version.
func (s *Store) GetEvent(ctx context.Context, id trove.EventID) (trove.Event, error) {
	if err := ctx.Err(); err != nil {
		return trove.Event{}, err
	}
	if err := s.enter("get event", false); err != nil {
		return trove.Event{}, err
	}
	defer s.leave(false)
	if id.Version < 0 {
		return trove.Event{}, fmt.Errorf("%w: engine: event %s", trove.ErrNotFound, id)
	}
	return s.getEvent(id)
}

// source serves query.Run from the newest view.
type source struct{ s *Store }

var _ query.RawSource = source{}

func (src source) Event(pos uint32) (trove.Event, error) {
	return src.s.eventAt(src.s.view.Load(), uint64(pos))
}

// Payload implements query.RawSource: the payload of the event at pos,
// borrowed from its record (the planner neither modifies nor keeps it), so
// candidates failing a payload test are never decoded whole.
func (src source) Payload(pos uint32) ([]byte, error) {
	rec, err := src.s.record(src.s.view.Load(), uint64(pos))
	if err != nil {
		return nil, err
	}
	r := &reader{b: rec.Body}
	r.uvarint() // schema number
	r.bytes()   // id
	r.uvarint() // version
	r.bytes()   // producer
	p := r.bytes()
	if r.err != nil {
		return nil, fmt.Errorf("engine: position %d: %w", pos, r.err)
	}
	return p, nil
}

// QueryEvents runs q (see trove.EventQuery).
func (s *Store) QueryEvents(ctx context.Context, q trove.EventQuery) ([]trove.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c, err := q.Compile()
	if err != nil {
		return nil, err
	}
	if err := s.enter("query", false); err != nil {
		return nil, err
	}
	defer s.leave(false)
	// The writer indexes a group while it is being written: see only
	// what is committed.
	opts := query.Options{Bounded: true, Last: uint32(s.view.Load().last)}
	if s.srch != nil {
		opts.Searcher = s.srch
	}
	out, err := query.Run(ctx, s.ix, source{s}, c, opts)
	if out == nil && err == nil {
		out = []trove.Event{}
	}
	return out, err
}
