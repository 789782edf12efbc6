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
	defer s.saveEnd(s.saveBegin())
	r, err := s.stage([]trove.Event{e}, nil, nil, now(), false)
	if err != nil {
		return e, err
	}
	resp := s.submit(ctx, "save event", r)
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
	defer s.saveEnd(s.saveBegin())
	r, err := s.stage(events, nil, nil, now(), true)
	if err != nil {
		return nil, err
	}
	resp := s.submit(ctx, "save events", r)
	return resp.events, resp.err
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
	s       *Store
	staged  []trove.Event // prepared
	hadTime []bool        // per staged event: the caller gave createdAt
	done    bool
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
	hadTime := !e.CreatedAt.IsZero()
	if err := t.check(p, hadTime); err != nil {
		return e, err
	}
	t.staged = append(t.staged, p)
	t.hadTime = append(t.hadTime, hadTime)
	// The caller owns the answer: the staged event, which Commit encodes
	// and answers with, shares no memory with it.
	return p.Clone(), nil
}

// check reports a conflict of the prepared event e with the committed
// state or the staged events; the writer checks again at commit.
func (t *tx) check(e trove.Event, hadTime bool) error {
	committed, err := t.s.committedLatest(e.ID.ID)
	if err != nil {
		return err
	}
	latest := committed
	for _, o := range t.staged {
		if o.ID.ID == e.ID.ID && o.ID.Version > latest {
			latest = o.ID.Version
		}
	}
	switch trove.ClassifyVersion(e.ID.Version, committed, latest) {
	case trove.VersionStored:
		stored, err := t.s.getEvent(e.ID)
		if err != nil {
			return err
		}
		if !trove.SameEvent(stored, e, hadTime) {
			return trove.ConflictOtherContent("engine", e.ID, false)
		}
	case trove.VersionPending:
		i := slices.IndexFunc(t.staged, func(o trove.Event) bool { return o.ID == e.ID })
		if i >= 0 && !trove.SameEvent(t.staged[i], e, hadTime) {
			return trove.ConflictOtherContent("engine", e.ID, true)
		}
	case trove.VersionGap:
		return trove.ConflictVersionGap("engine", e.ID, latest)
	}
	return nil
}

// committedLatest returns the latest version of id that the current view
// holds (0 when none). The index may already hold a newer version of a
// group whose WAL entry is being written: that one is not committed, and
// the view cannot read it.
func (s *Store) committedLatest(id string) (int, error) {
	v := s.view.Load() // before the index, which holds at least v's events
	ver, err := s.latestVersion(id)
	if err != nil || ver == 0 {
		return 0, err
	}
	p, ver, ok := s.ix.Latest(id)
	if !ok || uint64(p) <= v.last {
		return ver, nil
	}
	q, found, err := s.ix.Find(id, 0, uint32(v.last))
	if err != nil && !found {
		return 0, fmt.Errorf("engine: event %s: %w", id, err)
	}
	if !found {
		return 0, nil
	}
	stored, err := s.eventAt(v, uint64(q))
	if err != nil {
		return 0, err
	}
	return stored.ID.Version, nil
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
	defer t.s.saveEnd(t.s.saveBegin())
	info := make([]stageInfo, len(t.staged))
	for i, h := range t.hadTime {
		info[i].hadTime = h
	}
	r, err := t.s.stage(nil, t.staged, info, time.Time{}, true)
	if err != nil {
		return nil, err
	}
	resp := t.s.submit(ctx, "commit", r)
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
	t.staged, t.hadTime = nil, nil
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
