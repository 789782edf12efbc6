package engine

import (
	"container/list"
	"context"
	"fmt"
	"sort"
	"sync"
	"unsafe"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/query"
	"github.com/trovedb/trove/segment"
)

// sealed is an open segment file of the store. Its block table is the
// segment's own (segment.Segment.FindBlock).
type sealed struct {
	id   uint64 // unique within the store, for the block cache
	path string
	seg  *segment.Segment
	meta segment.Meta
}

func newSealed(id uint64, path string, seg *segment.Segment) *sealed {
	return &sealed{id: id, path: path, seg: seg, meta: seg.Meta()}
}

// hasEvents reports whether the segment holds any event.
func (sg *sealed) hasEvents() bool { return sg.meta.LastPosition != 0 }

// Memory a cached block holds besides its records' bytes.
const (
	recordSize    = int64(unsafe.Sizeof(segment.Record{}))
	blockOverhead = int64(unsafe.Sizeof(block{})+unsafe.Sizeof(cacheItem{})+unsafe.Sizeof(list.Element{})) + 64 // + the map entry
)

// block is a decoded block: its event records in position order.
type block struct {
	first  uint64
	events []segment.Record
	size   int64
}

// readBlock returns block idx of sg, which holds events, through the
// cache.
func (s *Store) readBlock(sg *sealed, idx int) (*block, error) {
	key := cacheKey{seg: sg.id, block: idx}
	if blk := s.cache.get(key); blk != nil {
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
	// record's body and its few header bytes), the events' Record values
	// and the cache's own bookkeeping.
	blk := &block{first: first, events: make([]segment.Record, 0, n), size: blockOverhead + int64(n)*recordSize}
	for _, r := range recs {
		blk.size += int64(len(r.Body)) + 4
		if r.Type == recEvent {
			blk.events = append(blk.events, r)
		}
	}
	for i := range blk.events {
		if blk.events[i].Position != first+uint64(i) {
			return nil, &trove.CorruptionError{File: sg.path, Offset: -1,
				Reason: fmt.Sprintf("engine: block %d: positions not dense at %d", idx, first+uint64(i))}
		}
	}
	s.cache.put(key, blk)
	return blk, nil
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
func (s *Store) getEvent(id trove.EventID) (trove.Event, error) {
	v := s.view.Load()
	p, ok, err := s.ix.Find(id.ID, id.Version, uint32(v.last))
	if err != nil && !ok {
		return trove.Event{}, fmt.Errorf("engine: event %s: %w", id, err)
	}
	if !ok {
		return trove.Event{}, fmt.Errorf("%w: engine: event %s", trove.ErrNotFound, id)
	}
	return s.eventAt(v, uint64(p))
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

// blockCache keeps decoded blocks, least recently used out first.
type blockCache struct {
	max int64
	mu  struct {
		sync.Mutex
		size  int64
		items map[cacheKey]*list.Element
		lru   list.List // of *cacheItem, front = most recent
	}
}

type cacheKey struct {
	seg   uint64
	block int
}

type cacheItem struct {
	key cacheKey
	blk *block
}

func newBlockCache(max int64) *blockCache {
	c := &blockCache{max: max}
	c.mu.items = map[cacheKey]*list.Element{}
	return c
}

func (c *blockCache) get(k cacheKey) *block {
	if c.max < 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.mu.items[k]; ok {
		c.mu.lru.MoveToFront(el)
		return el.Value.(*cacheItem).blk
	}
	return nil
}

func (c *blockCache) put(k cacheKey, b *block) {
	if c.max < 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.mu.items[k]; ok {
		return
	}
	c.mu.items[k] = c.mu.lru.PushFront(&cacheItem{key: k, blk: b})
	c.mu.size += b.size
	for c.mu.size > c.max && c.mu.lru.Len() > 1 {
		el := c.mu.lru.Back()
		it := el.Value.(*cacheItem)
		c.mu.lru.Remove(el)
		delete(c.mu.items, it.key)
		c.mu.size -= it.blk.size
	}
}
