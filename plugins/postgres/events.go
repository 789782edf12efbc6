package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/trovedb/trove"
	"github.com/trovedb/trove/plugins/internal/saveplan"
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
type scanned struct {
	ev       trove.Event
	schemaPK int64
}

// scanEvent reads one row of eventCols, plus extra destinations.
func scanEvent(sc pgx.Row, extra ...any) (scanned, error) {
	var (
		r                      scanned
		pos                    int64
		created                int64
		payload                string
		files, links, metadata *string
	)
	dest := append([]any{&pos, &r.ev.ID.ID, &r.ev.ID.Version, &created, &r.ev.Producer, &r.schemaPK, &payload, &files, &links, &metadata}, extra...)
	if err := sc.Scan(dest...); err != nil {
		return r, err
	}
	r.ev.Position = uint64(pos)
	r.ev.CreatedAt = time.UnixMilli(created).UTC()
	r.ev.Payload = json.RawMessage(payload)
	if files != nil {
		if err := json.Unmarshal([]byte(*files), &r.ev.Files); err != nil {
			return r, corrupt(r.ev.ID, "files", err)
		}
	}
	if links != nil {
		if err := json.Unmarshal([]byte(*links), &r.ev.Links); err != nil {
			return r, corrupt(r.ev.ID, "links", err)
		}
	}
	if metadata != nil {
		r.ev.Metadata = json.RawMessage(*metadata)
	}
	return r, nil
}

func corrupt(id trove.EventID, column string, err error) error {
	return &trove.CorruptionError{File: "events", Offset: -1, Reason: fmt.Sprintf("event %s: column %s: %v", id, column, err)}
}

// schema returns the parsed schema document pk, from the cache or q. The
// caller must not hold open rows on q's connection.
func (s *Store) schema(ctx context.Context, q querier, pk int64) (trove.Schema, error) {
	if v, ok := s.schemas.Load(pk); ok {
		return v.(trove.Schema), nil
	}
	var doc string
	if err := q.QueryRow(ctx, `SELECT doc FROM schema_docs WHERE schema_pk = $1`, pk).Scan(&doc); err != nil {
		return trove.Schema{}, fmt.Errorf("postgres: schema document %d: %w", pk, err)
	}
	sc, err := trove.NewSchema(json.RawMessage(doc))
	if err != nil {
		return trove.Schema{}, &trove.CorruptionError{File: "schema_docs", Offset: -1, Reason: fmt.Sprintf("document %d: %v", pk, err)}
	}
	s.schemas.Store(pk, sc)
	return sc, nil
}

// resolve fills the schemas of scanned rows.
func (s *Store) resolve(ctx context.Context, q querier, rows []scanned) ([]trove.Event, error) {
	out := make([]trove.Event, len(rows))
	for i, r := range rows {
		sc, err := s.schema(ctx, q, r.schemaPK)
		if err != nil {
			return nil, err
		}
		r.ev.Schema = sc
		out[i] = r.ev
	}
	return out, nil
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
	if errors.Is(err, pgx.ErrNoRows) {
		return trove.Event{}, fmt.Errorf("%w: postgres: event %s", trove.ErrNotFound, id)
	}
	if err != nil {
		return trove.Event{}, fmt.Errorf("postgres: event %s: %w", id, err)
	}
	evs, err := s.resolve(ctx, q, []scanned{r})
	if err != nil {
		return trove.Event{}, err
	}
	return evs[0], nil
}

// GetEvent returns the latest version of id.ID, or id.Version when set.
func (s *Store) GetEvent(ctx context.Context, id trove.EventID) (trove.Event, error) {
	q, err := s.reader(ctx, "get event")
	if err != nil {
		return trove.Event{}, err
	}
	if id.Version < 0 {
		return trove.Event{}, fmt.Errorf("%w: postgres: event %s", trove.ErrNotFound, id)
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
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st, err := saveplan.StageAll(events, s.now())
	if err != nil {
		return nil, err
	}
	return s.commit(ctx, st)
}
