package jsonfile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/trovedb/trove"
)

// SaveEvent saves e (see trove.EventStorage). The event's file is on disk,
// fsynced, when it returns.
func (s *Store) SaveEvent(ctx context.Context, e trove.Event) (trove.Event, error) {
	out, err := s.SaveEvents(ctx, []trove.Event{e})
	if err != nil {
		var be *trove.BatchError
		if errors.As(err, &be) {
			return e, be.Err
		}
		return e, err
	}
	return out[0], nil
}

// SaveEvents saves events atomically: all of them, or none on any error,
// which is then a *trove.BatchError naming the failing event when one event
// is at fault. A batch of more than one new event goes through the batch
// journal, so a crash in the middle leaves all of it or none.
func (s *Store) SaveEvents(ctx context.Context, events []trove.Event) ([]trove.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := s.now()
	st := make([]staged, len(events))
	for i, e := range events {
		p, err := trove.Prepare(e, now)
		if err != nil {
			return nil, &trove.BatchError{Index: i, Err: err}
		}
		st[i] = staged{ev: p, hadTime: !e.CreatedAt.IsZero()}
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	return s.commitWriteLocked(st)
}

// staged is a prepared event waiting to be committed.
type staged struct {
	ev      trove.Event
	hadTime bool
}

// commitWriteLocked checks every staged event against the store and the
// events before it, writes the new ones and publishes them. The caller holds
// writeMu, so the in-memory state cannot change underneath (readers only
// read it). Nothing changes on error.
func (s *Store) commitWriteLocked(events []staged) ([]trove.Event, error) {
	s.mu.RLock()
	err := s.checkLocked("save")
	s.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	out, fresh, err := s.planLocked(events)
	if err != nil {
		return nil, err
	}
	if len(fresh) == 0 {
		return out, nil
	}
	if err := s.persist(fresh); err != nil {
		return nil, err
	}
	s.mu.Lock()
	for _, e := range fresh {
		s.addLocked(e)
	}
	s.notifyLocked()
	s.mu.Unlock()
	for i := range out {
		out[i] = out[i].Clone()
	}
	return out, nil
}

// planLocked validates a batch and assigns positions to its new events. It
// returns the result of every event (new ones with their positions, retries
// as stored) and the new events in position order. The caller holds
// writeMu.
func (s *Store) planLocked(events []staged) (out, fresh []trove.Event, err error) {
	out = make([]trove.Event, len(events))
	pending := map[string][]int{} // indexes into out of new versions per id
	pos := s.mu.lastPos
	for i, st := range events {
		e := st.ev
		stored := s.mu.byID[e.ID.ID]
		batch := pending[e.ID.ID]
		latest := len(stored) + len(batch)
		switch {
		case e.ID.Version <= len(stored):
			prev := stored[e.ID.Version-1].ev
			if !trove.SameEvent(prev, e, st.hadTime) {
				return nil, nil, &trove.BatchError{Index: i, Err: fmt.Errorf("%w: jsonfile: event %s exists with other content", trove.ErrConflict, e.ID)}
			}
			out[i] = prev
		case e.ID.Version <= latest:
			prev := out[batch[e.ID.Version-len(stored)-1]]
			if !trove.SameEvent(prev, e, st.hadTime) {
				return nil, nil, &trove.BatchError{Index: i, Err: fmt.Errorf("%w: jsonfile: event %s appears twice with other content", trove.ErrConflict, e.ID)}
			}
			out[i] = prev
		case e.ID.Version == latest+1:
			pos++
			e.Position = pos
			pending[e.ID.ID] = append(batch, i)
			out[i] = e
			fresh = append(fresh, e)
		default:
			return nil, nil, &trove.BatchError{Index: i, Err: fmt.Errorf("%w: jsonfile: event %s: version %d is not latest+1 (latest is %d)", trove.ErrConflict, e.ID.ID, e.ID.Version, latest)}
		}
	}
	return out, fresh, nil
}

// persist writes new event versions durably. One event is one atomic file
// publish. Several go through the journal: once it is published the batch
// is committed; the event files follow (one syncfs for all), then the
// journal is removed. If a
// write fails, what was written is removed again, so the batch is none.
func (s *Store) persist(fresh []trove.Event) error {
	if len(fresh) == 1 {
		return s.writeEvents(fresh)
	}
	if err := s.writeJournal(fresh); err != nil {
		return err
	}
	if err := s.writeJournaledEvents(fresh); err != nil {
		for _, e := range fresh {
			_ = os.Remove(s.eventPath(e.ID.ID, e.ID.Version))
		}
		if rerr := s.removeJournal(); rerr != nil {
			return errors.Join(err, rerr)
		}
		return err
	}
	return s.removeJournal()
}

// GetEvent returns the latest version of id.ID, or id.Version when set.
func (s *Store) GetEvent(ctx context.Context, id trove.EventID) (trove.Event, error) {
	if err := ctx.Err(); err != nil {
		return trove.Event{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.checkLocked("get event"); err != nil {
		return trove.Event{}, err
	}
	r := s.lookupLocked(id)
	if r == nil {
		return trove.Event{}, fmt.Errorf("%w: jsonfile: event %s", trove.ErrNotFound, id)
	}
	return r.ev.Clone(), nil
}

// lookupLocked finds an event version (the latest for Version 0), or nil.
func (s *Store) lookupLocked(id trove.EventID) *record {
	versions := s.mu.byID[id.ID]
	switch {
	case len(versions) == 0 || id.Version < 0 || id.Version > len(versions):
		return nil
	case id.Version == 0:
		return versions[len(versions)-1]
	}
	return versions[id.Version-1]
}

// outLinks returns r's outgoing links: its own, then those added.
func outLinks(r *record) []trove.EventLink {
	if len(r.added) == 0 {
		return r.ev.Links
	}
	return append(slices.Clip(r.ev.Links), r.added...)
}

// QueryEvents evaluates q with the root package's compiled Query, over the
// smallest candidate list the in-memory indexes give (by schema or
// producer), so its results are exactly the contract's. Without a sort it
// stops as soon as offset+limit events matched.
func (s *Store) QueryEvents(ctx context.Context, q trove.EventQuery) ([]trove.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c, err := q.Compile()
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.checkLocked("query"); err != nil {
		return nil, err
	}
	if c.MatchesNothing() {
		return []trove.Event{}, nil
	}
	want := -1 // matches needed before stopping; -1: all
	if len(c.SortKeys()) == 0 && c.Limit() >= 0 {
		want = c.Offset() + c.Limit()
	}
	var items []trove.Sortable
	for i, r := range s.candidatesLocked(c) {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		if !c.AllVersions() {
			versions := s.mu.byID[r.ev.ID.ID]
			if versions[len(versions)-1] != r {
				continue
			}
		}
		if !c.MatchDecoded(&r.ev, r.payload, outLinks(r)) {
			continue
		}
		items = append(items, trove.Sortable{Event: r.ev, Payload: r.payload})
		if want >= 0 && len(items) >= want {
			break
		}
	}
	c.Sort(items)
	events := make([]trove.Event, len(items))
	for i := range items {
		events[i] = items[i].Event
	}
	events = c.Page(events)
	out := make([]trove.Event, len(events))
	for i, e := range events {
		out[i] = e.Clone()
	}
	return out, nil
}

// candidatesLocked returns, in position order, a superset of the events the
// query can match: the shorter of the schema and producer index lists, or
// the whole log.
func (s *Store) candidatesLocked(c *trove.Query) []*record {
	best := s.mu.log
	try := func(keys map[string]bool, index map[string][]*record) {
		if keys == nil {
			return
		}
		var lists [][]*record
		n := 0
		for k := range keys {
			if l := index[k]; len(l) > 0 {
				lists = append(lists, l)
				n += len(l)
			}
		}
		if n >= len(best) {
			return
		}
		if len(lists) == 1 {
			best = lists[0]
			return
		}
		merged := make([]*record, 0, n)
		for _, l := range lists {
			merged = append(merged, l...)
		}
		slices.SortFunc(merged, func(a, b *record) int {
			switch {
			case a.ev.Position < b.ev.Position:
				return -1
			case a.ev.Position > b.ev.Position:
				return 1
			}
			return 0
		})
		best = merged
	}
	try(c.Schemas(), s.mu.schema)
	try(c.Producers(), s.mu.producer)
	return best
}
