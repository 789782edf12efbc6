package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/plugins/internal/sqlevents"
)

// SaveLink adds an outgoing link to source (its latest version when
// source.Version is 0), in one write transaction. A link the source version
// already has is a no-op.
func (s *Store) SaveLink(ctx context.Context, source trove.EventID, link trove.EventLink) error {
	w, _, err := s.pools("save link")
	if err != nil {
		return err
	}
	l, err := trove.ValidateLink(link)
	if err != nil {
		return err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: save link: %w", err)
	}
	defer tx.Rollback()
	src, err := resolveVersion(ctx, tx, source)
	if err != nil {
		return err
	}
	var dup int
	err = tx.QueryRowContext(ctx, `SELECT count(*) FROM links WHERE source_id = ? AND source_version = ? AND type = ? AND target_id = ? AND target_version = ?`,
		src.ID, src.Version, l.Type, l.TargetEvent.ID, l.TargetEvent.Version).Scan(&dup)
	if err != nil {
		return fmt.Errorf("sqlite: save link: %w", err)
	}
	if dup > 0 {
		return nil
	}
	if err := insertLink(ctx, tx, src, l, false); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: save link: %w", err)
	}
	return nil
}

// resolveVersion returns the exact version id names (the latest for 0), or
// ErrNotFound.
func resolveVersion(ctx context.Context, q querier, id trove.EventID) (trove.EventID, error) {
	var v sql.NullInt64
	var err error
	if id.Version == 0 {
		err = q.QueryRowContext(ctx, `SELECT max(version) FROM events WHERE id = ?`, id.ID).Scan(&v)
	} else {
		err = q.QueryRowContext(ctx, `SELECT version FROM events WHERE id = ? AND version = ?`, id.ID, id.Version).Scan(&v)
	}
	if err != nil && err != sql.ErrNoRows {
		return id, fmt.Errorf("sqlite: event %s: %w", id, err)
	}
	if !v.Valid {
		return id, fmt.Errorf("%w: sqlite: event %s", trove.ErrNotFound, id)
	}
	return trove.EventID{ID: id.ID, Version: int(v.Int64)}, nil
}

// GetLinks lists the links of id in save order, each with SourceEvent set.
func (s *Store) GetLinks(ctx context.Context, id trove.EventID, opts trove.LinkOptions) ([]trove.EventLink, error) {
	_, r, err := s.pools("get links")
	if err != nil {
		return nil, err
	}
	tx, err := r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("sqlite: get links: %w", err)
	}
	defer tx.Rollback()
	return s.links(ctx, tx, id, opts)
}

// links selects the links GetLinks returns.
func (s *Store) links(ctx context.Context, q querier, id trove.EventID, opts trove.LinkOptions) ([]trove.EventLink, error) {
	var stmt string
	var args []any
	switch opts.Direction {
	case trove.Incoming:
		stmt = `SELECT source_id, source_version, type, target_id, target_version, metadata FROM links WHERE target_id = ?`
		args = append(args, id.ID)
		if id.Version != 0 {
			stmt += ` AND (target_version = 0 OR target_version = ?)`
			args = append(args, id.Version)
		}
	case "", trove.Outgoing:
		src, err := resolveVersion(ctx, q, id)
		if err != nil {
			return nil, err
		}
		stmt = `SELECT source_id, source_version, type, target_id, target_version, metadata FROM links WHERE source_id = ? AND source_version = ?`
		args = append(args, src.ID, src.Version)
	default:
		return nil, fmt.Errorf("%w: sqlite: link direction %q", trove.ErrInvalid, opts.Direction)
	}
	if opts.Type != "" {
		stmt += ` AND type = ?`
		args = append(args, opts.Type)
	}
	rows, err := q.QueryContext(ctx, stmt+` ORDER BY seq`, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: links of %s: %w", id, err)
	}
	defer rows.Close()
	return sqlevents.ReadLinks(rows, fmt.Sprintf("sqlite: links of %s", id))
}

// GetLinkedEvents returns the events at the other end of GetLinks, each
// once, in link order, skipping dangling targets.
func (s *Store) GetLinkedEvents(ctx context.Context, id trove.EventID, opts trove.LinkOptions) ([]trove.Event, error) {
	_, r, err := s.pools("get linked events")
	if err != nil {
		return nil, err
	}
	tx, err := r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("sqlite: get linked events: %w", err)
	}
	defer tx.Rollback()
	links, err := s.links(ctx, tx, id, opts)
	if err != nil {
		return nil, err
	}
	return sqlevents.LinkedEvents(links, opts.Direction, func(id trove.EventID) (trove.Event, error) { return s.loadEvent(ctx, tx, id) })
}
