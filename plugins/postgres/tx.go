package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/trovedb/trove"
	"github.com/trovedb/trove/plugins/internal/saveplan"
	"github.com/trovedb/trove/plugins/internal/txstage"
)

// Begin starts a transaction (see txstage). Staged events are kept by the
// transaction and checked against the database as they are staged; Commit
// saves them all in one append transaction, re-checking them, so all or
// none is saved and nobody sees them before. No database lock is held
// between calls.
func (s *Store) Begin(ctx context.Context) (trove.Tx, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if _, err := s.pool("begin"); err != nil {
		return nil, err
	}
	return txstage.New("postgres", txStore{s}), nil
}

// txStore is the Store as a txstage.Store.
type txStore struct{ s *Store }

func (t txStore) Now() time.Time { return t.s.now() }

// Check plans staged in a read-only transaction, inserting nothing.
func (t txStore) Check(ctx context.Context, staged []saveplan.Staged) error {
	pool, err := t.s.pool("transaction save")
	if err != nil {
		return err
	}
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("postgres: transaction save: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	_, _, err = saveplan.Plan(ctx, "postgres", staged, checkLog{s: t.s, q: tx})
	return err
}

// Commit saves every staged event in one append transaction.
func (t txStore) Commit(ctx context.Context, staged []saveplan.Staged) ([]trove.Event, error) {
	return t.s.commit(ctx, staged)
}

// checkLog is the committed database as a plan that only checks sees it.
type checkLog struct {
	s *Store
	q querier
}

func (l checkLog) Latest(ctx context.Context, id string) (int, error) {
	var v int
	if err := l.q.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM events WHERE id = $1`, id).Scan(&v); err != nil {
		return 0, fmt.Errorf("postgres: save %s: %w", id, err)
	}
	return v, nil
}

func (l checkLog) Stored(ctx context.Context, id trove.EventID) (trove.Event, error) {
	return l.s.loadEvent(ctx, l.q, id)
}

func (l checkLog) Append(context.Context, trove.Event) (uint64, error) { return 0, nil }
