package engine

import (
	"fmt"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/index"
	"github.com/trovedb/trove/segment"
)

// The index keeps no event ids: it finds an id by a hash and verifies a
// candidate position by reading the id back from the log (index.Options.IDAt),
// for positions the store has declared readable (index.Index.Readable): the
// ones the newest view holds. publish declares them; recovery publishes
// views as it replays (recoveryView), so that replay can verify too.

// newIndex returns an empty index reading ids through the store.
func (s *Store) newIndex() *index.Index {
	ix := index.New(index.Options{MaxPathValues: s.opts.MaxPathValues, IDAt: s.idAt})
	ix.SetIDRuns(s.w.idRuns)
	ix.SetKeyRuns(s.w.keyRuns)
	return ix
}

// idAt returns the id of the event at pos, read through the newest view.
// The index calls it holding its lock: it must not call the index.
func (s *Store) idAt(pos uint32) (string, error) {
	v := s.view.Load()
	if v == nil {
		return "", fmt.Errorf("engine: id at position %d: %w", pos, trove.ErrNotFound)
	}
	rec, err := s.record(v, uint64(pos))
	if err != nil {
		return "", err
	}
	return recordID(&rec)
}

// recordID returns the id of an event record.
func recordID(rec *segment.Record) (string, error) {
	r := &reader{b: rec.Body}
	r.uvarint() // schema number
	id := r.str()
	if r.err != nil {
		return "", fmt.Errorf("engine: id at position %d: %w", rec.Position, r.err)
	}
	return id, nil
}

// recoveryView publishes, during recovery, a view of what is readable so
// far: every sealed segment and the memtable replayed up to now; and
// declares it readable to the index. Nothing else reads views before Open
// returns.
func (s *Store) recoveryView() {
	last := uint64(0)
	if n := len(s.w.evSegs); n > 0 {
		last = s.w.evSegs[n-1].meta.LastPosition
	}
	v := &view{segs: s.w.evSegs[:len(s.w.evSegs):len(s.w.evSegs)], memFirst: last + 1, last: last, changed: make(chan struct{})}
	if m := s.w.mem; m != nil {
		v.memFirst = m.first
		v.memBody = m.bodies[:len(m.bodies):len(m.bodies)]
		v.memTime = m.times[:len(m.times):len(m.times)]
		v.last = max(last, m.first+uint64(len(m.bodies))-1)
	}
	if old := s.view.Swap(v); old != nil {
		close(old.changed)
	}
	s.ix.Readable(uint32(v.last))
}
