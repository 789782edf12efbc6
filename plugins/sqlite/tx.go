package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"sync"

	"github.com/trovedb/trove"
)

// Begin starts a transaction. Staged events are kept by the transaction and
// checked against the database as they are staged; Commit saves them all in
// one SQLite write transaction, re-checking them, so all or none is saved
// and nobody sees them before. No SQLite lock is held between calls.
func (s *Store) Begin(ctx context.Context) (trove.Tx, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if _, _, err := s.pools("begin"); err != nil {
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
		return e, fmt.Errorf("sqlite: transaction: %w", trove.ErrClosed)
	}
	_, r, err := t.s.pools("transaction save")
	if err != nil {
		return e, err
	}
	rtx, err := r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return e, fmt.Errorf("sqlite: transaction save: %w", err)
	}
	defer rtx.Rollback()
	if _, _, err := t.s.plan(ctx, rtx, append(t.staged[:len(t.staged):len(t.staged)], st), nil); err != nil {
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
		return nil, fmt.Errorf("sqlite: transaction: %w", trove.ErrClosed)
	}
	t.done = true
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out, err := t.s.commit(ctx, t.staged)
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
