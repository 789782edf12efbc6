package jsonfile

import (
	"context"
	"time"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/plugins/internal/saveplan"
	"github.com/trovedb/trove/plugins/internal/txstage"
)

// Begin starts a transaction (see txstage). Staged events are visible to
// nobody until Commit; Commit re-checks them against the store and saves
// them as one batch (through the journal), so all or none is saved, also
// across a crash.
func (s *Store) Begin(ctx context.Context) (trove.Tx, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.checkLocked("begin"); err != nil {
		return nil, err
	}
	return txstage.New("jsonfile", txStore{s}), nil
}

// txStore is the Store as a txstage.Store.
type txStore struct{ s *Store }

func (t txStore) Now() time.Time { return t.s.now() }

// Check plans staged against the store without changing it; writeMu keeps
// the store still meanwhile.
func (t txStore) Check(ctx context.Context, staged []saveplan.Staged) error {
	t.s.writeMu.Lock()
	defer t.s.writeMu.Unlock()
	t.s.mu.RLock()
	err := t.s.checkWriteLocked("transaction save")
	t.s.mu.RUnlock()
	if err != nil {
		return err
	}
	_, _, err = t.s.planLocked(staged)
	return err
}

// Commit saves every staged event atomically.
func (t txStore) Commit(ctx context.Context, staged []saveplan.Staged) ([]trove.Event, error) {
	t.s.writeMu.Lock()
	defer t.s.writeMu.Unlock()
	return t.s.commitWriteLocked(staged)
}
