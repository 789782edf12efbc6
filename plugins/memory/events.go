package memory

import (
	"context"
	"fmt"
	"slices"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/internal/linkbook"
)

// SaveEvent saves e (see trove.EventStorage).
func (s *Store) SaveEvent(ctx context.Context, e trove.Event) (trove.Event, error) {
	out, err := s.SaveEvents(ctx, []trove.Event{e})
	if err != nil {
		var be *trove.BatchError
		if asBatch(err, &be) {
			return e, be.Err
		}
		return e, err
	}
	return out[0], nil
}

// SaveEvents saves events atomically: all of them, or none on any error,
// which is then a *trove.BatchError naming the failing event.
func (s *Store) SaveEvents(ctx context.Context, events []trove.Event) ([]trove.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := s.now()
	batch := make([]staged, len(events))
	for i, e := range events {
		p, err := trove.Prepare(e, now)
		if err != nil {
			return nil, &trove.BatchError{Index: i, Err: err}
		}
		batch[i] = newStaged(p, !e.CreatedAt.IsZero())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return nil, errClosed("save")
	}
	return s.commitLocked(batch)
}

// staged is a prepared event waiting to be committed.
type staged struct {
	ev      trove.Event
	hadTime bool
}

func newStaged(p trove.Event, hadTime bool) staged { return staged{ev: p, hadTime: hadTime} }

// commitLocked checks every staged event against the store and the events
// before it, then appends the new ones. Nothing changes on error.
func (s *Store) commitLocked(events []staged) ([]trove.Event, error) {
	out := make([]trove.Event, len(events))
	pending := map[string][]trove.Event{} // new versions per id, in this batch
	fresh := make([]bool, len(events))
	for i, st := range events {
		e := st.ev
		stored := s.mu.byID[e.ID.ID]
		batch := pending[e.ID.ID]
		latest := len(stored) + len(batch)
		switch {
		case e.ID.Version <= len(stored):
			prev := stored[e.ID.Version-1].ev
			if !trove.SameEvent(prev, e, st.hadTime) {
				return nil, &trove.BatchError{Index: i, Err: fmt.Errorf("%w: memory: event %s exists with other content", trove.ErrConflict, e.ID)}
			}
			out[i] = prev.Clone()
		case e.ID.Version <= latest:
			prev := batch[e.ID.Version-len(stored)-1]
			if !trove.SameEvent(prev, e, st.hadTime) {
				return nil, &trove.BatchError{Index: i, Err: fmt.Errorf("%w: memory: event %s appears twice with other content", trove.ErrConflict, e.ID)}
			}
			out[i] = prev // its position is filled below
		case e.ID.Version == latest+1:
			pending[e.ID.ID] = append(batch, e)
			fresh[i] = true
			out[i] = e
		default:
			return nil, &trove.BatchError{Index: i, Err: fmt.Errorf("%w: memory: event %s: version %d is not latest+1 (latest is %d)", trove.ErrConflict, e.ID.ID, e.ID.Version, latest)}
		}
	}
	// Every event is valid: append the new ones in order.
	for i := range events {
		if !fresh[i] {
			continue
		}
		e := out[i]
		e.Schema = s.internLocked(e.Schema)
		e.Position = uint64(len(s.mu.log)) + 1
		payload, _ := trove.DecodePayload(e.Payload)
		r := &record{ev: e, payload: payload}
		s.mu.log = append(s.mu.log, r)
		s.mu.byID[e.ID.ID] = append(s.mu.byID[e.ID.ID], r)
		for _, l := range e.Links {
			s.mu.links = append(s.mu.links, linkbook.Entry{Source: e.ID, Link: l})
		}
		out[i] = e.Clone()
	}
	// Retries of events new in this batch take the position just assigned.
	for i := range events {
		if out[i].Position == 0 {
			out[i] = s.mu.byID[out[i].ID.ID][out[i].ID.Version-1].ev.Clone()
		}
	}
	if slices.Contains(fresh, true) {
		close(s.mu.changed)
		s.mu.changed = make(chan struct{})
	}
	return out, nil
}

// internLocked returns the store's copy of a schema document, so each
// distinct document is held once.
func (s *Store) internLocked(sc trove.Schema) trove.Schema {
	key := string(sc.Raw())
	if have, ok := s.mu.schemas[key]; ok {
		return have
	}
	s.mu.schemas[key] = sc
	return sc
}

// GetEvent returns the latest version of id.ID, or id.Version when set.
func (s *Store) GetEvent(ctx context.Context, id trove.EventID) (trove.Event, error) {
	if err := ctx.Err(); err != nil {
		return trove.Event{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.mu.closed {
		return trove.Event{}, errClosed("get event")
	}
	r := s.lookupLocked(id)
	if r == nil {
		return trove.Event{}, fmt.Errorf("%w: memory: event %s", trove.ErrNotFound, id)
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

// outLinksLocked returns r's outgoing links: its own, then those added.
func outLinksLocked(r *record) []trove.EventLink { return linkbook.Outgoing(r.ev.Links, r.added) }

// QueryEvents evaluates q over every stored event with the root package's
// compiled Query, so its semantics are exactly the contract's.
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
	if s.mu.closed {
		return nil, errClosed("query")
	}
	if c.MatchesNothing() {
		return []trove.Event{}, nil
	}
	var items []trove.Sortable
	for _, r := range s.mu.log {
		if !c.AllVersions() {
			versions := s.mu.byID[r.ev.ID.ID]
			if versions[len(versions)-1] != r {
				continue
			}
		}
		if !c.MatchDecoded(&r.ev, r.payload, outLinksLocked(r)) {
			continue
		}
		items = append(items, trove.Sortable{Event: r.ev, Payload: r.payload})
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
