package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/trovedb/trove"
)

// SaveEvent saves e durably (see trove.EventStorage). In SyncNone mode
// "durable" means handed to the OS.
func (s *Store) SaveEvent(ctx context.Context, e trove.Event) (trove.Event, error) {
	p, err := trove.Prepare(e, now())
	if err != nil {
		return e, err
	}
	resp := s.submit(ctx, "save event", &request{kind: reqEvents, events: []staged{{ev: p, hadTime: !e.CreatedAt.IsZero()}}})
	if resp.err != nil {
		return e, resp.err
	}
	return resp.events[0], nil
}

// SaveEvents saves events atomically, as one WAL entry: all of them or, on
// any error, none (a *trove.BatchError names the failing event).
func (s *Store) SaveEvents(ctx context.Context, events []trove.Event) ([]trove.Event, error) {
	if len(events) == 0 {
		return []trove.Event{}, nil
	}
	st, err := prepareAll(events, now())
	if err != nil {
		return nil, err
	}
	resp := s.submit(ctx, "save events", &request{kind: reqEvents, events: st, batch: true})
	return resp.events, resp.err
}

// prepareParallelMin is the batch size from which prepareAll splits the
// work (validation, JSON compaction) across two goroutines.
const prepareParallelMin = 256

// prepareAll prepares a batch for the writer (trove.Prepare each event,
// all with the same clock t). Large batches are prepared by two
// goroutines; the error returned is always the first failing event's.
func prepareAll(events []trove.Event, t time.Time) ([]staged, error) {
	st := make([]staged, len(events))
	prep := func(lo, hi int) error {
		for i := lo; i < hi; i++ {
			e := events[i]
			p, err := trove.Prepare(e, t)
			if err != nil {
				return &trove.BatchError{Index: i, Err: err}
			}
			st[i] = staged{ev: p, hadTime: !e.CreatedAt.IsZero()}
		}
		return nil
	}
	if len(events) < prepareParallelMin {
		return st, prep(0, len(events))
	}
	mid := len(events) / 2
	var second error
	done := make(chan struct{})
	go func() {
		defer close(done)
		second = prep(mid, len(events))
	}()
	first := prep(0, mid)
	<-done
	if first != nil {
		return nil, first
	}
	if second != nil {
		return nil, second
	}
	return st, nil
}

// Begin starts a transaction (see trove.Tx).
func (s *Store) Begin(ctx context.Context) (trove.Tx, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := s.enter("begin", true); err != nil {
		return nil, err
	}
	s.leave(true)
	return &tx{s: s}, nil
}

// tx stages events in memory; Commit sends them as one request.
type tx struct {
	s      *Store
	staged []staged
	done   bool
}

// SaveEvent stages e after checking it against the store and the events
// staged before it.
func (t *tx) SaveEvent(ctx context.Context, e trove.Event) (trove.Event, error) {
	if t.done {
		return e, closedErr("transaction")
	}
	p, err := trove.Prepare(e, now())
	if err != nil {
		return e, err
	}
	st := staged{ev: p, hadTime: !e.CreatedAt.IsZero()}
	if err := t.check(st); err != nil {
		return e, err
	}
	t.staged = append(t.staged, st)
	return p, nil
}

// check reports a conflict of st with the committed state or the staged
// events; the writer checks again at commit.
func (t *tx) check(st staged) error {
	e := st.ev
	latest := 0
	if _, v, ok := t.s.ix.Latest(e.ID.ID); ok {
		latest = v
	}
	committed := latest
	for _, o := range t.staged {
		if o.ev.ID.ID == e.ID.ID && o.ev.ID.Version > latest {
			latest = o.ev.ID.Version
		}
	}
	switch {
	case e.ID.Version <= committed:
		stored, err := t.s.getEvent(e.ID)
		if err != nil {
			return err
		}
		if !trove.SameEvent(stored, e, st.hadTime) {
			return fmt.Errorf("%w: engine: event %s exists with other content", trove.ErrConflict, e.ID)
		}
	case e.ID.Version <= latest:
		i := slices.IndexFunc(t.staged, func(o staged) bool { return o.ev.ID == e.ID })
		if i >= 0 && !trove.SameEvent(t.staged[i].ev, e, st.hadTime) {
			return fmt.Errorf("%w: engine: event %s staged twice with other content", trove.ErrConflict, e.ID)
		}
	case e.ID.Version != latest+1:
		return fmt.Errorf("%w: engine: event %s: version %d is not latest+1 (latest is %d)",
			trove.ErrConflict, e.ID.ID, e.ID.Version, latest)
	}
	return nil
}

// Commit saves every staged event atomically.
func (t *tx) Commit(ctx context.Context) ([]trove.Event, error) {
	if t.done {
		return nil, closedErr("transaction")
	}
	t.done = true
	if len(t.staged) == 0 {
		return []trove.Event{}, nil
	}
	resp := t.s.submit(ctx, "commit", &request{kind: reqEvents, events: t.staged, batch: true})
	if resp.err != nil {
		var be *trove.BatchError
		if errors.As(resp.err, &be) && errors.Is(be.Err, trove.ErrConflict) {
			return nil, fmt.Errorf("engine: commit: %w", be)
		}
		return nil, resp.err
	}
	return resp.events, nil
}

// Rollback discards the staged events.
func (t *tx) Rollback(ctx context.Context) error {
	t.done = true
	t.staged = nil
	return nil
}

// SaveSchema stores a registered schema (see trove.SchemaStore).
func (s *Store) SaveSchema(ctx context.Context, rs trove.RegisteredSchema) error {
	return s.submit(ctx, "save schema", &request{kind: reqSchema, schema: rs}).err
}

// ListSchemas returns the stored schemas in registration order.
func (s *Store) ListSchemas(ctx context.Context) ([]trove.RegisteredSchema, error) {
	if err := s.enter("list schemas", false); err != nil {
		return nil, err
	}
	defer s.leave(false)
	s.regMu.RLock()
	defer s.regMu.RUnlock()
	return slices.Clone(s.registered), nil
}
