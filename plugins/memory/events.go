package memory

import (
	"context"
	"fmt"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/plugins/internal/linkbook"
	"github.com/trovedb/trove/plugins/internal/saveplan"
)

// SaveEvent saves e (see trove.EventStorage).
func (s *Store) SaveEvent(ctx context.Context, e trove.Event) (trove.Event, error) {
	return saveplan.SaveOne(ctx, s, e)
}

// SaveEvents saves events atomically: all of them, or none on any error,
// which is then a *trove.BatchError naming the failing event.
func (s *Store) SaveEvents(ctx context.Context, events []trove.Event) ([]trove.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	batch, err := saveplan.StageAll(events, s.now())
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.mu.state.Check("save"); err != nil {
		return nil, err
	}
	return s.commitLocked(batch)
}

// planLog is the store as saveplan.Plan reads it; the caller holds s.mu.
// Append only numbers the new events: commitLocked stores them once the
// whole batch has passed.
type planLog struct {
	s    *Store
	last uint64 // the last position given
}

func (s *Store) planLogLocked() *planLog { return &planLog{s: s, last: uint64(len(s.mu.log))} }

func (l *planLog) Latest(_ context.Context, id string) (int, error) {
	return len(l.s.mu.byID[id]), nil
}

func (l *planLog) Stored(_ context.Context, id trove.EventID) (trove.Event, error) {
	return l.s.mu.byID[id.ID][id.Version-1].ev, nil
}

func (l *planLog) Append(context.Context, trove.Event) (uint64, error) {
	l.last++
	return l.last, nil
}

// commitLocked checks every staged event against the store and the events
// before it, then appends the new ones. Nothing changes on error.
func (s *Store) commitLocked(events []saveplan.Staged) ([]trove.Event, error) {
	out, fresh, err := saveplan.Plan(context.Background(), "memory", events, s.planLogLocked())
	if err != nil {
		return nil, err
	}
	// Every event is valid: append the new ones in order (Plan numbered
	// them from len(log)+1).
	for _, i := range fresh {
		e := out[i]
		e.Schema = s.internLocked(e.Schema)
		payload, _ := trove.DecodePayload(e.Payload)
		r := &record{ev: e, payload: payload}
		s.mu.log = append(s.mu.log, r)
		s.mu.byID[e.ID.ID] = append(s.mu.byID[e.ID.ID], r)
		for _, l := range e.Links {
			s.mu.links = append(s.mu.links, linkbook.Entry{Source: e.ID, Link: l})
		}
	}
	// Every result, new or retry, is now stored: hand out copies.
	for i := range out {
		out[i] = s.lookupLocked(out[i].ID).ev.Clone()
	}
	if len(fresh) > 0 {
		s.mu.state.Notify()
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
	if err := s.mu.state.Check("get event"); err != nil {
		return trove.Event{}, err
	}
	r := s.lookupLocked(id)
	if r == nil {
		return trove.Event{}, fmt.Errorf("%w: memory: event %s", trove.ErrNotFound, id)
	}
	return r.ev.Clone(), nil
}

// lookupLocked finds an event version (the latest for Version 0), or nil.
func (s *Store) lookupLocked(id trove.EventID) *record {
	r, _ := saveplan.PickVersion(s.mu.byID[id.ID], id)
	return r
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
	if err := s.mu.state.Check("query"); err != nil {
		return nil, err
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
