package engine

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"sort"
	"time"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/engine/fulltext"
	"github.com/trovedb/trove/segment"
)

// newSearcher opens the store's search index (package fulltext) in
// search.bleve/, fed from the log by a searchSource. An index that cannot
// be opened is logged, and its searches never help: queries scan.
func newSearcher(s *Store) *fulltext.Index {
	x, err := fulltext.Open(filepath.Join(s.dir, "search.bleve"), s.w.last, newSearchSource(s), s.logger)
	if err != nil {
		s.logger.Warn("search index unavailable; search queries scan", "err", err)
	}
	return x
}

// searchSource is the search index's fulltext.Source: the log as the
// newest view holds it, the payloads read by a searchReader, the store's
// load measured by a loadMeter.
type searchSource struct {
	s    *Store
	rd   searchReader // one Payloads call at a time
	load loadMeter    // one Busy call at a time
}

var _ fulltext.Source = (*searchSource)(nil)

func newSearchSource(s *Store) *searchSource {
	return &searchSource{s: s, load: loadMeter{at: time.Now(), nanos: s.stats.saveNanos.Load()}}
}

// Positions returns the last position of the last sealed segment and the
// last committed one.
func (src *searchSource) Positions() (sealed, last uint64) {
	v := src.s.view.Load()
	if n := len(v.segs); n > 0 {
		sealed = v.segs[n-1].meta.LastPosition
	}
	return sealed, v.last
}

// Payloads reads from…to through the newest view, which holds every
// position an older one did (views only grow, segments are never
// rewritten).
func (src *searchSource) Payloads(from, to uint64, fn func(pos uint64, payload []byte) error) error {
	err := src.rd.each(src.s.view.Load(), from, to, fn)
	if err != nil {
		src.rd.forget()
	}
	return err
}

// Busy reports whether the store is busy saving (see loadMeter).
func (src *searchSource) Busy() bool { return src.load.busyNow(src.s) }

const (
	// searchBusyLoad: the store is busy when save calls took at least this
	// share of the wall time (summed over concurrent calls) over the last
	// searchLoadWindow, or a save is in flight.
	searchBusyLoad   = 0.2
	searchLoadWindow = 250 * time.Millisecond
)

// loadMeter tells whether the store is busy saving, from Store's saveNanos.
type loadMeter struct {
	at    time.Time
	nanos int64
	busy  bool
}

// busyNow reports whether saves are in flight or took at least searchBusyLoad
// of the last window.
func (m *loadMeter) busyNow(s *Store) bool {
	now, n := time.Now(), s.stats.saveNanos.Load()
	if el := now.Sub(m.at); el >= searchLoadWindow {
		m.busy = float64(n-m.nanos) >= searchBusyLoad*float64(el)
		m.at, m.nanos = now, n
	}
	return m.busy || s.stats.saving.Load() > 0
}

// searchReader reads event payloads for the indexer straight from the log:
// sealed blocks with segment.ReadBlock (each once, outside the block
// cache, so that indexing neither fills nor churns it), unsealed ones from
// the view's memtable. It reads a segment through a view of it
// (segment.Full), which it drops for the next one: indexing the whole log
// leaves none of the segments' tables or dictionaries in memory.
type searchReader struct {
	// The segment being read, its view, and the last block read: a batch
	// may end inside it.
	sg   *sealed
	seg  *segment.Segment
	blk  int
	recs []segment.Record
}

// each calls fn with the payload of every position from…to (committed in
// v), in order. The payload aliases a block read for the indexer or a
// memtable body: fn must not modify it.
func (r *searchReader) each(v *view, from, to uint64, fn func(pos uint64, payload []byte) error) error {
	pos := from
	for pos <= to && pos < v.memFirst {
		segs := v.segs
		i := sort.Search(len(segs), func(i int) bool { return segs[i].meta.LastPosition >= pos })
		if i == len(segs) || segs[i].meta.FirstPosition > pos {
			return fmt.Errorf("%w: engine: position %d in no segment", trove.ErrNotFound, pos)
		}
		sg := segs[i]
		if r.sg != sg {
			seg, err := sg.seg.Full()
			if err != nil {
				return err
			}
			r.sg, r.seg, r.blk, r.recs = sg, seg, -1, nil
		}
		j, ok := r.seg.FindBlock(pos)
		if !ok {
			return &trove.CorruptionError{File: sg.path, Offset: -1,
				Reason: fmt.Sprintf("engine: position %d missing from its segment", pos)}
		}
		if r.blk != j {
			recs, err := r.seg.ReadBlock(j)
			if err != nil {
				return err
			}
			r.blk, r.recs = j, recs
		}
		found := false
		for k := range r.recs {
			rec := &r.recs[k]
			if rec.Type != recEvent || rec.Position < pos || rec.Position > to {
				continue
			}
			if rec.Position != pos {
				return &trove.CorruptionError{File: sg.path, Offset: -1,
					Reason: fmt.Sprintf("engine: block %d: positions not dense at %d", j, pos)}
			}
			p, err := recordPayload(rec.Body)
			if err != nil {
				return fmt.Errorf("engine: position %d: %w", pos, err)
			}
			if err := fn(pos, p); err != nil {
				return err
			}
			pos++
			found = true
		}
		if !found {
			return &trove.CorruptionError{File: sg.path, Offset: -1,
				Reason: fmt.Sprintf("engine: position %d missing from block %d", pos, j)}
		}
	}
	for ; pos <= to; pos++ {
		k := pos - v.memFirst
		if pos > v.last || k >= uint64(len(v.memBody)) {
			return fmt.Errorf("%w: engine: position %d", trove.ErrNotFound, pos)
		}
		p, err := recordPayload(v.memBody[k])
		if err != nil {
			return fmt.Errorf("engine: position %d: %w", pos, err)
		}
		if err := fn(pos, p); err != nil {
			return err
		}
	}
	return nil
}

// forget drops the segment view and the block kept between batches.
func (r *searchReader) forget() { *r = searchReader{} }

// recordPayload cuts the payload out of an event record's body (see
// appendEvent): schema number, id, version, producer, then the payload.
func recordPayload(body []byte) ([]byte, error) {
	b := body
	for _, str := range []bool{false, true, false, true} {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, errRecord
		}
		b = b[n:]
		if str {
			if v > uint64(len(b)) {
				return nil, errRecord
			}
			b = b[v:]
		}
	}
	v, n := binary.Uvarint(b)
	if n <= 0 || v > uint64(len(b)-n) {
		return nil, errRecord
	}
	return b[n : n+int(v) : n+int(v)], nil
}
