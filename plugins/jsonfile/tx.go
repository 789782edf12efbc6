package jsonfile

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/trovedb/trove"
)

// Begin starts a transaction. Staged events are visible to nobody until
// Commit; Commit re-checks them against the store and saves them as one
// batch (through the journal), so all or none is saved, also across a
// crash.
func (s *Store) Begin(ctx context.Context) (trove.Tx, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.checkLocked("begin"); err != nil {
		return nil, err
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
	if err := ctx.Err(); err != nil {
		return e, err
	}
	p, err := trove.Prepare(e, t.s.now())
	if err != nil {
		return e, err
	}
	st := staged{ev: p, hadTime: !e.CreatedAt.IsZero()}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return e, fmt.Errorf("jsonfile: transaction: %w", trove.ErrClosed)
	}
	// planLocked only reads the store; writeMu keeps it still meanwhile.
	t.s.writeMu.Lock()
	t.s.mu.RLock()
	err = t.s.checkLocked("transaction save")
	t.s.mu.RUnlock()
	if err == nil {
		_, _, err = t.s.planLocked(append(t.staged[:len(t.staged):len(t.staged)], st))
	}
	t.s.writeMu.Unlock()
	if err != nil {
		return e, unwrapBatch(err)
	}
	t.staged = append(t.staged, st)
	return p, nil
}

// Commit saves every staged event atomically.
func (t *tx) Commit(ctx context.Context) ([]trove.Event, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return nil, fmt.Errorf("jsonfile: transaction: %w", trove.ErrClosed)
	}
	t.done = true
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t.s.writeMu.Lock()
	defer t.s.writeMu.Unlock()
	out, err := t.s.commitWriteLocked(t.staged)
	if err != nil {
		return nil, unwrapBatch(err)
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

func unwrapBatch(err error) error {
	var be *trove.BatchError
	if errors.As(err, &be) {
		return be.Err
	}
	return err
}
