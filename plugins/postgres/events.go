package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/trovedb/trove"
	"github.com/trovedb/trove/plugins/internal/saveplan"
	"github.com/trovedb/trove/plugins/internal/sqlevents"
)

// querier is what a pool, a connection and a transaction share.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// eventCols are the columns scanEvent reads, from events aliased e.
const eventCols = `e.position, e.id, e.version, e.created_ms, e.producer, e.schema_pk, e.payload, e.files, e.links, e.metadata`

// scanned is an event row whose schema is not resolved yet.
type scanned = sqlevents.Scanned

// scanEvent reads one row of eventCols, plus extra destinations.
func scanEvent(sc pgx.Row, extra ...any) (scanned, error) {
	var (
		r                      scanned
		pos                    int64
		created                int64
		payload                string
		files, links, metadata *string
	)
	dest := append([]any{&pos, &r.Event.ID.ID, &r.Event.ID.Version, &created, &r.Event.Producer, &r.SchemaPK, &payload, &files, &links, &metadata}, extra...)
	if err := sc.Scan(dest...); err != nil {
		return r, err
	}
	r.Event.Position = uint64(pos)
	r.Event.CreatedAt = time.UnixMilli(created).UTC()
	return r, r.Decode(payload, files, links, metadata)
}

// corrupt is the error of an event column that does not decode.
var corrupt = sqlevents.Corrupt

// schema returns the parsed schema document pk, from the cache or q. The
// caller must not hold open rows on q's connection.
func (s *Store) schema(ctx context.Context, q querier, pk int64) (trove.Schema, error) {
	return s.schemas.Get(pk, func() (string, error) {
		var doc string
		if err := q.QueryRow(ctx, `SELECT doc FROM schema_docs WHERE schema_pk = $1`, pk).Scan(&doc); err != nil {
			return "", fmt.Errorf("postgres: schema document %d: %w", pk, err)
		}
		return doc, nil
	})
}

// resolve fills the schemas of scanned rows.
func (s *Store) resolve(ctx context.Context, q querier, rows []scanned) ([]trove.Event, error) {
	return sqlevents.Resolve(rows, func(pk int64) (trove.Schema, error) { return s.schema(ctx, q, pk) })
}

// loadEvent reads one event version (the latest for version 0), or
// ErrNotFound.
func (s *Store) loadEvent(ctx context.Context, q querier, id trove.EventID) (trove.Event, error) {
	var row pgx.Row
	if id.Version == 0 {
		row = q.QueryRow(ctx, `SELECT `+eventCols+` FROM events e WHERE e.id = $1 ORDER BY e.version DESC LIMIT 1`, id.ID)
	} else {
		row = q.QueryRow(ctx, `SELECT `+eventCols+` FROM events e WHERE e.id = $1 AND e.version = $2`, id.ID, id.Version)
	}
	r, err := scanEvent(row)
	return sqlevents.One("postgres", id, r, err, pgx.ErrNoRows, func(rows []scanned) ([]trove.Event, error) { return s.resolve(ctx, q, rows) })
}

// GetEvent returns the latest version of id.ID, or id.Version when set.
func (s *Store) GetEvent(ctx context.Context, id trove.EventID) (trove.Event, error) {
	q, err := s.reader(ctx, "get event")
	if err != nil {
		return trove.Event{}, err
	}
	if id.Version < 0 {
		return trove.Event{}, sqlevents.NotFound("postgres", id)
	}
	return s.loadEvent(ctx, q, id)
}

// SaveEvent saves e (see trove.EventStorage); it is durable when SaveEvent
// returns.
func (s *Store) SaveEvent(ctx context.Context, e trove.Event) (trove.Event, error) {
	return saveplan.SaveOne(ctx, s, e)
}

// SaveEvents saves events in one PostgreSQL transaction: all of them, or
// none on any error, which is then a *trove.BatchError naming the failing
// event when one event is at fault.
func (s *Store) SaveEvents(ctx context.Context, events []trove.Event) ([]trove.Event, error) {
	return saveplan.SaveAll(ctx, events, s.now, s.commit)
}
