package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/plugins/internal/saveplan"
	"github.com/trovedb/trove/plugins/internal/sqlevents"
)

// querier is what *sql.DB, *sql.Tx and *sql.Conn share.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// eventCols are the columns scanEvent reads, from events aliased e.
const eventCols = `e.position, e.id, e.version, e.created_at, e.producer, e.schema_pk, e.payload, e.files, e.links, e.metadata`

// scanned is an event row whose schema is not resolved yet.
type scanned = sqlevents.Scanned

// scanEvent reads one row of eventCols.
func scanEvent(sc interface{ Scan(...any) error }) (scanned, error) {
	var (
		r                      scanned
		created                string
		payload                string
		files, links, metadata *string
	)
	err := sc.Scan(&r.Event.Position, &r.Event.ID.ID, &r.Event.ID.Version, &created, &r.Event.Producer, &r.SchemaPK, &payload, &files, &links, &metadata)
	if err != nil {
		return r, err
	}
	if r.Event.CreatedAt, err = trove.ParseTime(created); err != nil {
		return r, corrupt(r.Event.ID, "created_at", err)
	}
	return r, r.Decode(payload, files, links, metadata)
}

// corrupt is the error of an event column that does not decode.
var corrupt = sqlevents.Corrupt

// schema returns the parsed schema document schema_pk, from the cache or q.
// The caller must not hold open rows on q's connection.
func (s *Store) schema(ctx context.Context, q querier, pk int64) (trove.Schema, error) {
	return s.schemas.Get(pk, func() (string, error) {
		var doc string
		if err := q.QueryRowContext(ctx, `SELECT doc FROM schema_docs WHERE schema_pk = ?`, pk).Scan(&doc); err != nil {
			return "", fmt.Errorf("sqlite: schema document %d: %w", pk, err)
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
	var row *sql.Row
	if id.Version == 0 {
		row = q.QueryRowContext(ctx, `SELECT `+eventCols+` FROM events e WHERE e.id = ? ORDER BY e.version DESC LIMIT 1`, id.ID)
	} else {
		row = q.QueryRowContext(ctx, `SELECT `+eventCols+` FROM events e WHERE e.id = ? AND e.version = ?`, id.ID, id.Version)
	}
	r, err := scanEvent(row)
	return sqlevents.One("sqlite", id, r, err, sql.ErrNoRows, func(rows []scanned) ([]trove.Event, error) { return s.resolve(ctx, q, rows) })
}

// GetEvent returns the latest version of id.ID, or id.Version when set.
func (s *Store) GetEvent(ctx context.Context, id trove.EventID) (trove.Event, error) {
	_, r, err := s.pools("get event")
	if err != nil {
		return trove.Event{}, err
	}
	if id.Version < 0 {
		return trove.Event{}, sqlevents.NotFound("sqlite", id)
	}
	return s.loadEvent(ctx, r, id)
}

// SaveEvent saves e (see trove.EventStorage); it is durable when SaveEvent
// returns.
func (s *Store) SaveEvent(ctx context.Context, e trove.Event) (trove.Event, error) {
	return saveplan.SaveOne(ctx, s, e)
}

// SaveEvents saves events in one SQLite transaction: all of them, or none
// on any error, which is then a *trove.BatchError naming the failing event
// when one event is at fault.
func (s *Store) SaveEvents(ctx context.Context, events []trove.Event) ([]trove.Event, error) {
	return saveplan.SaveAll(ctx, events, s.now, s.commit)
}

// commit checks and inserts staged events in one write transaction.
func (s *Store) commit(ctx context.Context, events []saveplan.Staged) ([]trove.Event, error) {
	w, _, err := s.pools("save")
	if err != nil {
		return nil, err
	}
	if len(events) == 0 {
		return []trove.Event{}, nil
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("sqlite: save: %w", err)
	}
	defer tx.Rollback()
	q := newStmtCache(tx)
	defer q.Close()
	ins := &inserter{s: s, q: q, schemaPKs: map[string]int64{}}
	out, fresh, err := s.plan(ctx, q, events, ins)
	if err != nil {
		return nil, err
	}
	if fresh == 0 {
		return out, nil
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("sqlite: save: commit: %w", err)
	}
	s.notify()
	return out, nil
}

// plan checks every staged event against q and the events before it
// (saveplan.Plan). With an inserter it also inserts the new ones in order
// (positions assigned); without one it only checks. It returns the results
// and how many events are new.
func (s *Store) plan(ctx context.Context, q querier, events []saveplan.Staged, ins *inserter) ([]trove.Event, int, error) {
	out, fresh, err := saveplan.Plan(ctx, "sqlite", events, planLog{s: s, q: q, ins: ins})
	return out, len(fresh), err
}

// planLog is the database as saveplan.Plan reads it, through q.
type planLog struct {
	s   *Store
	q   querier
	ins *inserter // nil: only check
}

func (l planLog) Latest(ctx context.Context, id string) (int, error) {
	var v int
	if err := l.q.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM events WHERE id = ?`, id).Scan(&v); err != nil {
		return 0, fmt.Errorf("sqlite: save %s: %w", id, err)
	}
	return v, nil
}

func (l planLog) Stored(ctx context.Context, id trove.EventID) (trove.Event, error) {
	return l.s.loadEvent(ctx, l.q, id)
}

func (l planLog) Append(ctx context.Context, e trove.Event) (uint64, error) {
	if l.ins == nil {
		return 0, nil
	}
	return l.ins.insert(ctx, e)
}

// inserter writes new event versions inside one write transaction.
type inserter struct {
	s         *Store
	q         querier          // the write transaction
	schemaPKs map[string]int64 // by document hash, for this transaction
}

// insert writes e as the latest version of its id and returns its
// position.
func (in *inserter) insert(ctx context.Context, e trove.Event) (uint64, error) {
	pk, err := in.schemaPK(ctx, e.Schema)
	if err != nil {
		return 0, err
	}
	if e.ID.Version > 1 {
		if _, err := in.q.ExecContext(ctx, `UPDATE events SET latest = 0 WHERE id = ? AND version = ?`, e.ID.ID, e.ID.Version-1); err != nil {
			return 0, fmt.Errorf("sqlite: save %s: %w", e.ID, err)
		}
	}
	files, err := jsonOrNull(len(e.Files) > 0, e.Files)
	if err != nil {
		return 0, err
	}
	links, err := jsonOrNull(len(e.Links) > 0, e.Links)
	if err != nil {
		return 0, err
	}
	var metadata any
	if len(e.Metadata) > 0 {
		metadata = string(e.Metadata)
	}
	res, err := in.q.ExecContext(ctx, `INSERT INTO events (id, version, latest, created_at, created_ms, producer, schema_id, schema_pk, payload, files, links, metadata)
VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID.ID, e.ID.Version, trove.FormatTime(e.CreatedAt), e.CreatedAt.UnixMilli(), e.Producer, e.Schema.Identity(), pk, string(e.Payload), files, links, metadata)
	if err != nil {
		return 0, fmt.Errorf("sqlite: save %s: %w", e.ID, err)
	}
	pos, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("sqlite: save %s: %w", e.ID, err)
	}
	for _, l := range e.Links {
		if err := insertLink(ctx, in.q, e.ID, l, true); err != nil {
			return 0, err
		}
	}
	return uint64(pos), nil
}

// schemaPK interns a schema document and returns its key.
func (in *inserter) schemaPK(ctx context.Context, sc trove.Schema) (int64, error) {
	sum := sha256.Sum256(sc.Raw())
	hash := hex.EncodeToString(sum[:])
	if pk, ok := in.schemaPKs[hash]; ok {
		return pk, nil
	}
	if _, err := in.q.ExecContext(ctx, `INSERT INTO schema_docs (hash, identity, doc) VALUES (?, ?, ?) ON CONFLICT (hash) DO NOTHING`,
		hash, sc.Identity(), string(sc.Raw())); err != nil {
		return 0, fmt.Errorf("sqlite: schema document: %w", err)
	}
	var pk int64
	if err := in.q.QueryRowContext(ctx, `SELECT schema_pk FROM schema_docs WHERE hash = ?`, hash).Scan(&pk); err != nil {
		return 0, fmt.Errorf("sqlite: schema document: %w", err)
	}
	in.schemaPKs[hash] = pk
	return pk, nil
}

// insertLink adds one link row.
func insertLink(ctx context.Context, q querier, source trove.EventID, l trove.EventLink, own bool) error {
	var metadata any
	if len(l.Metadata) > 0 {
		metadata = string(l.Metadata)
	}
	if _, err := q.ExecContext(ctx, `INSERT INTO links (source_id, source_version, type, target_id, target_version, metadata, own) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		source.ID, source.Version, l.Type, l.TargetEvent.ID, l.TargetEvent.Version, metadata, own); err != nil {
		return fmt.Errorf("sqlite: link from %s: %w", source, err)
	}
	return nil
}

func jsonOrNull(set bool, v any) (any, error) {
	if !set {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	return string(b), nil
}
