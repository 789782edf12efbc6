package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/plugins/internal/saveplan"
	"github.com/trovedb/trove/plugins/internal/txstage"
)

// Begin starts a transaction (see txstage). Staged events are kept by the
// transaction and checked against the database as they are staged; Commit
// saves them all in one SQLite write transaction, re-checking them, so all
// or none is saved and nobody sees them before. No SQLite lock is held
// between calls.
func (s *Store) Begin(ctx context.Context) (trove.Tx, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if _, _, err := s.pools("begin"); err != nil {
		return nil, err
	}
	return txstage.New("sqlite", txStore{s}), nil
}

// txStore is the Store as a txstage.Store.
type txStore struct{ s *Store }

func (t txStore) Now() time.Time { return t.s.now() }

// Check plans staged in a read-only transaction, inserting nothing.
func (t txStore) Check(ctx context.Context, staged []saveplan.Staged) error {
	_, r, err := t.s.pools("transaction save")
	if err != nil {
		return err
	}
	rtx, err := r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("sqlite: transaction save: %w", err)
	}
	defer rtx.Rollback()
	_, _, err = t.s.plan(ctx, rtx, staged, nil)
	return err
}

// Commit saves every staged event in one write transaction.
func (t txStore) Commit(ctx context.Context, staged []saveplan.Staged) ([]trove.Event, error) {
	return t.s.commit(ctx, staged)
}
