package memory

import (
	"context"
	"time"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/plugins/internal/saveplan"
	"github.com/trovedb/trove/plugins/internal/txstage"
)

// Begin starts a transaction (see txstage). Staged events are visible to
// nobody until Commit; Commit re-checks them against the store and appends
// them all at once, or none.
func (s *Store) Begin(ctx context.Context) (trove.Tx, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.mu.state.Check("begin"); err != nil {
		return nil, err
	}
	return txstage.New("memory", txStore{s}), nil
}

// txStore is the Store as a txstage.Store.
type txStore struct{ s *Store }

func (t txStore) Now() time.Time { return t.s.now() }

// Check plans staged against the store without changing it.
func (t txStore) Check(ctx context.Context, staged []saveplan.Staged) error {
	t.s.mu.RLock()
	defer t.s.mu.RUnlock()
	if err := t.s.mu.state.Check("transaction save"); err != nil {
		return err
	}
	_, _, err := saveplan.Plan(ctx, "memory", staged, t.s.planLogLocked())
	return err
}

// Commit appends every staged event atomically.
func (t txStore) Commit(ctx context.Context, staged []saveplan.Staged) ([]trove.Event, error) {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	if err := t.s.mu.state.Check("commit"); err != nil {
		return nil, err
	}
	return t.s.commitLocked(staged)
}
