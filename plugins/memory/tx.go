package memory

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/trovedb/trove"
)

// Begin starts a transaction. Staged events are visible to nobody until
// Commit; Commit re-checks them against the store and appends them all at
// once, or none.
func (s *Store) Begin(ctx context.Context) (trove.Tx, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.mu.closed {
		return nil, errClosed("begin")
	}
	return &tx{s: s}, nil
}

// tx is a transaction of a Store.
type tx struct {
	s  *Store
	mu sync.Mutex // guards staged and done
	// staged are the prepared events, in save order.
	staged []staged
	done   bool
}

// SaveEvent stages e, checking it against the store and the events staged
// before it.
func (t *tx) SaveEvent(ctx context.Context, e trove.Event) (trove.Event, error) {
	p, err := trove.Prepare(e, t.s.now())
	if err != nil {
		return e, err
	}
	st := newStaged(p, !e.CreatedAt.IsZero())
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return e, fmt.Errorf("memory: transaction: %w", trove.ErrClosed)
	}
	t.s.mu.RLock()
	closed := t.s.mu.closed
	var checkErr error
	if !closed {
		checkErr = t.s.checkLocked(append(t.staged[:len(t.staged):len(t.staged)], st))
	}
	t.s.mu.RUnlock()
	if closed {
		return e, errClosed("transaction save")
	}
	if checkErr != nil {
		return e, checkErr
	}
	t.staged = append(t.staged, st)
	return p, nil
}

// checkLocked reports whether events would commit, without changing the
// store. The caller holds s.mu (read or write).
func (s *Store) checkLocked(events []staged) error {
	// The same checks as commitLocked, counting new versions per id instead
	// of appending them.
	pending := map[string]int{}
	for i, st := range events {
		e := st.ev
		stored := s.mu.byID[e.ID.ID]
		latest := len(stored) + pending[e.ID.ID]
		switch {
		case e.ID.Version <= len(stored):
			if !trove.SameEvent(stored[e.ID.Version-1].ev, e, st.hadTime) {
				return fmt.Errorf("%w: memory: event %s exists with other content", trove.ErrConflict, e.ID)
			}
		case e.ID.Version <= latest:
			prev := findStaged(events[:i], e.ID)
			if !trove.SameEvent(prev, e, st.hadTime) {
				return fmt.Errorf("%w: memory: event %s staged twice with other content", trove.ErrConflict, e.ID)
			}
		case e.ID.Version == latest+1:
			pending[e.ID.ID]++
		default:
			return fmt.Errorf("%w: memory: event %s: version %d is not latest+1 (latest is %d)", trove.ErrConflict, e.ID.ID, e.ID.Version, latest)
		}
	}
	return nil
}

func findStaged(events []staged, id trove.EventID) trove.Event {
	for _, st := range events {
		if st.ev.ID == id {
			return st.ev
		}
	}
	return trove.Event{}
}

// Commit appends every staged event atomically.
func (t *tx) Commit(ctx context.Context) ([]trove.Event, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return nil, fmt.Errorf("memory: transaction: %w", trove.ErrClosed)
	}
	t.done = true
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	if t.s.mu.closed {
		return nil, errClosed("commit")
	}
	out, err := t.s.commitLocked(t.staged)
	if err != nil {
		var be *trove.BatchError
		if asBatch(err, &be) {
			return nil, be.Err
		}
		return nil, err
	}
	return out, nil
}

// Rollback discards the staged events.
func (t *tx) Rollback(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.done = true
	t.staged = nil
	return nil
}

func asBatch(err error, be **trove.BatchError) bool { return errors.As(err, be) }
