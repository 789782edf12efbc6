package txstage

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/plugins/internal/saveplan"
)

// Store is what a transaction needs from its backend.
type Store interface {
	// Now is the clock createdAt defaults come from.
	Now() time.Time
	// Check reports whether staged would commit now, changing nothing; after
	// Shutdown it is ErrClosed.
	Check(ctx context.Context, staged []saveplan.Staged) error
	// Commit saves staged atomically and returns the results in order.
	Commit(ctx context.Context, staged []saveplan.Staged) ([]trove.Event, error)
}

// Tx is a transaction of a Store.
type Tx struct {
	pkg   string
	store Store

	mu struct {
		sync.Mutex
		staged []saveplan.Staged // the prepared events, in save order
		done   bool              // committed or rolled back
	}
}

var _ trove.Tx = (*Tx)(nil)

// New starts a transaction on s; pkg starts its error texts.
func New(pkg string, s Store) *Tx { return &Tx{pkg: pkg, store: s} }

// SaveEvent stages e, checking it against the store and the events staged
// before it, and returns it prepared (no position yet).
func (t *Tx) SaveEvent(ctx context.Context, e trove.Event) (trove.Event, error) {
	if err := ctx.Err(); err != nil {
		return e, err
	}
	st, err := saveplan.Stage(e, t.store.Now())
	if err != nil {
		return e, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mu.done {
		return e, t.errDone()
	}
	staged := t.mu.staged
	if err := t.store.Check(ctx, append(staged[:len(staged):len(staged)], st)); err != nil {
		return e, saveplan.Unbatch(err)
	}
	t.mu.staged = append(t.mu.staged, st)
	return st.Event, nil
}

// Commit saves every staged event atomically.
func (t *Tx) Commit(ctx context.Context) ([]trove.Event, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mu.done {
		return nil, t.errDone()
	}
	t.mu.done = true
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out, err := t.store.Commit(ctx, t.mu.staged)
	if err != nil {
		return nil, saveplan.Unbatch(err)
	}
	return out, nil
}

// Rollback discards the staged events.
func (t *Tx) Rollback(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.mu.done = true
	t.mu.staged = nil
	return nil
}

func (t *Tx) errDone() error { return fmt.Errorf("%s: transaction: %w", t.pkg, trove.ErrClosed) }
