package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/trovedb/trove"
	"github.com/trovedb/trove/plugins/internal/sqlevents"
)

// SaveLink adds an outgoing link to source (its latest version when
// source.Version is 0). A link the source version already has (same type
// and target, saved with the event or added before) is a no-op that keeps
// the first one's metadata.
func (s *Store) SaveLink(ctx context.Context, source trove.EventID, link trove.EventLink) error {
	pool, err := s.pool("save link")
	if err != nil {
		return err
	}
	l, err := trove.ValidateLink(link)
	if err != nil {
		return err
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		src, err := resolveVersion(ctx, tx, source)
		if err != nil {
			return err
		}
		// Concurrent SaveLinks of one source version (from any process)
		// take turns, so the check below sees every link committed before.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, linkLockKey(src)); err != nil {
			return fmt.Errorf("postgres: link from %s: %w", src, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO links (source_id, source_version, type, target_id, target_version, metadata, own)
SELECT $1::text, $2::integer, $3::text, $4::text, $5::integer, $6::text, $7::boolean
WHERE NOT EXISTS (SELECT 1 FROM links WHERE source_id = $1 AND source_version = $2 AND type = $3 AND target_id = $4 AND target_version = $5)`,
			linkRow(src, l, false)...); err != nil {
			return fmt.Errorf("postgres: link from %s: %w", src, err)
		}
		return nil
	})
	if err == nil {
		s.wrote(ctx, pool)
	}
	return err
}

// linkLockKey is the advisory lock key of a source version's links.
func linkLockKey(src trove.EventID) int64 {
	sum := sha256.Sum256([]byte(fmt.Sprintf("trove link %s@%d", src.ID, src.Version)))
	return int64(binary.BigEndian.Uint64(sum[:8]))
}

// resolveVersion returns the exact version id names (the latest for 0), or
// ErrNotFound.
func resolveVersion(ctx context.Context, q querier, id trove.EventID) (trove.EventID, error) {
	var v *int
	var err error
	if id.Version == 0 {
		err = q.QueryRow(ctx, `SELECT max(version) FROM events WHERE id = $1`, id.ID).Scan(&v)
	} else {
		err = q.QueryRow(ctx, `SELECT version FROM events WHERE id = $1 AND version = $2`, id.ID, id.Version).Scan(&v)
	}
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return id, fmt.Errorf("postgres: event %s: %w", id, err)
	}
	if v == nil {
		return id, fmt.Errorf("%w: postgres: event %s", trove.ErrNotFound, id)
	}
	return trove.EventID{ID: id.ID, Version: *v}, nil
}

// GetLinks lists the links of id in save order, each with SourceEvent set.
func (s *Store) GetLinks(ctx context.Context, id trove.EventID, opts trove.LinkOptions) ([]trove.EventLink, error) {
	q, err := s.reader(ctx, "get links")
	if err != nil {
		return nil, err
	}
	return s.links(ctx, q, id, opts)
}

// links selects the links GetLinks returns.
func (s *Store) links(ctx context.Context, q querier, id trove.EventID, opts trove.LinkOptions) ([]trove.EventLink, error) {
	var stmt string
	var args []any
	switch opts.Direction {
	case trove.Incoming:
		stmt = `SELECT source_id, source_version, type, target_id, target_version, metadata FROM links WHERE target_id = $1`
		args = append(args, id.ID)
		if id.Version != 0 {
			stmt += ` AND (target_version = 0 OR target_version = $2)`
			args = append(args, id.Version)
		}
	case "", trove.Outgoing:
		src, err := resolveVersion(ctx, q, id)
		if err != nil {
			return nil, err
		}
		stmt = `SELECT source_id, source_version, type, target_id, target_version, metadata FROM links WHERE source_id = $1 AND source_version = $2`
		args = append(args, src.ID, src.Version)
	default:
		return nil, fmt.Errorf("%w: postgres: link direction %q", trove.ErrInvalid, opts.Direction)
	}
	if opts.Type != "" {
		args = append(args, opts.Type)
		stmt += fmt.Sprintf(` AND type = $%d`, len(args))
	}
	rows, err := q.Query(ctx, stmt+` ORDER BY seq`, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: links of %s: %w", id, err)
	}
	defer rows.Close()
	return sqlevents.ReadLinks(rows, fmt.Sprintf("postgres: links of %s", id))
}

// GetLinkedEvents returns the events at the other end of GetLinks, each
// once, in link order, skipping dangling targets. It reads in one
// snapshot.
func (s *Store) GetLinkedEvents(ctx context.Context, id trove.EventID, opts trove.LinkOptions) ([]trove.Event, error) {
	q, err := s.reader(ctx, "get linked events")
	if err != nil {
		return nil, err
	}
	tx, err := q.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("postgres: get linked events: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	links, err := s.links(ctx, tx, id, opts)
	if err != nil {
		return nil, err
	}
	return sqlevents.LinkedEvents(links, opts.Direction, func(id trove.EventID) (trove.Event, error) { return s.loadEvent(ctx, tx, id) })
}
