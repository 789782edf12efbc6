package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/plugins/internal/logstream"
	"github.com/trovedb/trove/plugins/internal/sqlevents"
)

// after reads up to pageSize events after position from, at most up to
// position end (0: no bound).
func (s *Store) after(ctx context.Context, from, end uint64) ([]trove.Event, error) {
	_, r, err := s.pools("subscribe")
	if err != nil {
		return nil, err
	}
	tx, err := r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("sqlite: read log: %w", err)
	}
	defer tx.Rollback()
	stmt := `SELECT ` + eventCols + ` FROM events e WHERE e.position > ?`
	args := []any{from}
	if end > 0 {
		stmt += ` AND e.position <= ?`
		args = append(args, end)
	}
	rows, err := tx.QueryContext(ctx, stmt+` ORDER BY e.position LIMIT 256`, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read log: %w", err)
	}
	var page []scanned
	for rows.Next() {
		sr, err := scanEvent(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("sqlite: read log: %w", err)
		}
		page = append(page, sr)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: read log: %w", err)
	}
	return s.resolve(ctx, tx, page)
}

// page is the log as logstream reads it. The channel is taken before
// reading, so a commit in between is not missed.
func (s *Store) page(ctx context.Context, from, end uint64) ([]trove.Event, <-chan struct{}, error) {
	changed := s.changedChan()
	batch, err := s.after(ctx, from, end)
	return batch, changed, err
}

// Subscribe calls fn with every event after position from, then with each
// event as it commits through this Store, until ctx is done or fn fails
// (see logstream). fn runs with no lock or connection held, so it may call
// the store. Commits made through this Store wake it at once; commits made
// by another process on the same database are found within a second.
func (s *Store) Subscribe(ctx context.Context, from uint64, fn func(trove.Event) error) error {
	return logstream.Subscribe(ctx, from, subscribePoll, s.page, fn)
}

// subscribePoll is how often an idle Subscribe looks for events committed by
// another process on the same database, which no in-process signal
// announces.
const subscribePoll = time.Second

// Replay calls fn with every event after position from, up to the last one
// committed when Replay was called.
func (s *Store) Replay(ctx context.Context, from uint64, fn func(trove.Event) error) error {
	_, r, err := s.pools("replay")
	if err != nil {
		return err
	}
	var end uint64
	if err := r.QueryRowContext(ctx, `SELECT coalesce(max(position), 0) FROM events`).Scan(&end); err != nil {
		return fmt.Errorf("sqlite: replay: %w", err)
	}
	return logstream.Replay(ctx, from, end, s.page, fn)
}

// SaveSchema keeps a registered schema: the same (id, version) with the same
// document is a no-op, with another ErrConflict.
func (s *Store) SaveSchema(ctx context.Context, rs trove.RegisteredSchema) error {
	w, _, err := s.pools("save schema")
	if err != nil {
		return err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: save schema: %w", err)
	}
	defer tx.Rollback()
	var doc string
	err = tx.QueryRowContext(ctx, `SELECT doc FROM registered_schemas WHERE id = ? AND version = ?`, rs.ID, rs.Version).Scan(&doc)
	switch {
	case err == nil:
		if trove.JSONEqual([]byte(doc), rs.Schema) {
			return nil
		}
		return fmt.Errorf("%w: sqlite: schema %s version %s is stored with another document", trove.ErrConflict, rs.ID, rs.Version)
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("sqlite: save schema: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO registered_schemas (id, version, doc) VALUES (?, ?, ?)`, rs.ID, rs.Version, string(rs.Schema)); err != nil {
		return fmt.Errorf("sqlite: save schema: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: save schema: %w", err)
	}
	return nil
}

// ListSchemas returns the stored schemas in registration order.
func (s *Store) ListSchemas(ctx context.Context) ([]trove.RegisteredSchema, error) {
	_, r, err := s.pools("list schemas")
	if err != nil {
		return nil, err
	}
	rows, err := r.QueryContext(ctx, `SELECT id, version, doc FROM registered_schemas ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list schemas: %w", err)
	}
	defer rows.Close()
	return sqlevents.ReadSchemas(rows, "sqlite: list schemas")
}
