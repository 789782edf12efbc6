package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/trovedb/trove"
)

// postgresDSNEnv names the database storage-postgres and its hand-tuned
// peer run on; both are unavailable without it. Each run uses schemas of
// its own, named after the data directory.
const postgresDSNEnv = "TROVE_BENCH_POSTGRES_DSN"

func postgresAvailable() error {
	if os.Getenv(postgresDSNEnv) == "" {
		return fmt.Errorf("set %s to a PostgreSQL database to run it", postgresDSNEnv)
	}
	return nil
}

// pgSchemaFor names the schema of a run on dir.
func pgSchemaFor(prefix, dir string) string {
	sum := sha256.Sum256([]byte(dir))
	return prefix + hex.EncodeToString(sum[:10])
}

// postgresContender is storage-postgres through the public API.
func postgresContender() Contender {
	c := troveContender("storage-postgres", "the Trove PostgreSQL plugin (head row, group commit, COPY, GIN indexes), server from "+postgresDSNEnv,
		true, func(dir string) json.RawMessage {
			b, _ := json.Marshal(map[string]any{"dsn": os.Getenv(postgresDSNEnv), "schema": pgSchemaFor("bench_", dir)})
			return b
		})
	inner := c.Available
	c.Available = func() error { return errors.Join(postgresAvailable(), inner()) }
	c.Size, c.Drop = pgSchemaSize("bench_"), pgDropSchema("bench_")
	return c
}

// pgSchemaSize measures the store of a run on dir: the tables of its
// schema with their indexes and TOAST (the server's WAL not included).
func pgSchemaSize(prefix string) func(ctx context.Context, dir string) (int64, error) {
	return func(ctx context.Context, dir string) (int64, error) {
		conn, err := pgx.Connect(ctx, os.Getenv(postgresDSNEnv))
		if err != nil {
			return 0, err
		}
		defer conn.Close(ctx)
		var n int64
		err = conn.QueryRow(ctx, `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint
	FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
	WHERE s.nspname = $1 AND c.relkind IN ('r', 'm')`, pgSchemaFor(prefix, dir)).Scan(&n)
		return n, err
	}
}

// pgDropSchema deletes the schema of a run on dir, so the server keeps
// nothing of a finished run and a later one on the same path starts empty.
func pgDropSchema(prefix string) func(ctx context.Context, dir string) error {
	return func(ctx context.Context, dir string) error {
		conn, err := pgx.Connect(ctx, os.Getenv(postgresDSNEnv))
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{pgSchemaFor(prefix, dir)}.Sanitize()+` CASCADE`)
		return err
	}
}

// postgresPeer is a hand-tuned PostgreSQL store on the same server: a
// plain table with a bigserial position (gaps and commit-order holes
// allowed) and the same indexes, COPY for batches, a prepared INSERT for
// single saves.
func postgresPeer() Contender {
	return Contender{
		Name: "postgres (hand-tuned)", Kind: kindPeer, Persistent: true,
		About:     "pgx: bigserial positions, COPY for batches, prepared INSERT per save, btree + jsonb_path_ops GIN + tsvector GIN",
		Available: postgresAvailable,
		Open:      openPostgresPeer,
		Size:      pgSchemaSize("peer_"),
		Drop:      pgDropSchema("peer_"),
	}
}

const pgPeerSchema = `
CREATE TABLE IF NOT EXISTS events(
	pos bigserial PRIMARY KEY,
	id text NOT NULL,
	version integer NOT NULL,
	created_ms bigint NOT NULL,
	producer text NOT NULL,
	schema_id text NOT NULL,
	schema_doc text NOT NULL,
	payload jsonb NOT NULL,
	files text,
	links text,
	metadata text,
	tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', coalesce(payload->>'message', ''))) STORED,
	UNIQUE(id, version)
);
CREATE INDEX IF NOT EXISTS events_schema_producer ON events(schema_id, producer, pos);
CREATE INDEX IF NOT EXISTS events_created ON events(created_ms DESC, pos);
CREATE INDEX IF NOT EXISTS events_payload ON events USING gin (payload jsonb_path_ops);
CREATE INDEX IF NOT EXISTS events_tsv ON events USING gin (tsv);
CREATE TABLE IF NOT EXISTS links(source_pos bigint NOT NULL, type text NOT NULL, target_id text NOT NULL);
CREATE INDEX IF NOT EXISTS links_target ON links(target_id, source_pos);
CREATE TABLE IF NOT EXISTS files(id text PRIMARY KEY, hash text NOT NULL, size bigint NOT NULL, data bytea NOT NULL);
`

type pgPeer struct{ pool *pgxpool.Pool }

var (
	_ Store  = (*pgPeer)(nil)
	_ Reader = (*pgPeer)(nil)
)

func openPostgresPeer(ctx context.Context, dir string, _ *slog.Logger) (Store, error) {
	cfg, err := pgxpool.ParseConfig(os.Getenv(postgresDSNEnv))
	if err != nil {
		return nil, err
	}
	schema := pgSchemaFor("peer_", dir)
	cfg.MaxConns = 32
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if _, err := pool.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+schema+`; SET search_path TO `+schema+`;`+pgPeerSchema); err != nil {
		pool.Close()
		return nil, fmt.Errorf("bench: postgres peer schema: %w", err)
	}
	return &pgPeer{pool: pool}, nil
}

func pgNullJSON(v any, set bool) any {
	if !set {
		return nil
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func pgRow(e *trove.Event) []any {
	var meta any
	if len(e.Metadata) > 0 {
		meta = string(e.Metadata)
	}
	return []any{e.ID.ID, e.ID.Version, e.CreatedAt.UnixMilli(), e.Producer, e.Schema.Identity(), string(e.Schema.Raw()),
		string(e.Payload), pgNullJSON(e.Files, len(e.Files) > 0), pgNullJSON(e.Links, len(e.Links) > 0), meta}
}

var pgPeerCols = []string{"id", "version", "created_ms", "producer", "schema_id", "schema_doc", "payload", "files", "links", "metadata"}

func (s *pgPeer) SaveBatch(ctx context.Context, b *Batch) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows := make([][]any, len(b.Events))
		for i := range b.Events {
			rows[i] = pgRow(&b.Events[i])
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"events"}, pgPeerCols, pgx.CopyFromRows(rows)); err != nil {
			return err
		}
		var links [][]any
		for i := range b.Events {
			for _, l := range b.Events[i].Links {
				links = append(links, []any{b.Events[i].ID.ID, l.Type, l.TargetEvent.ID})
			}
		}
		if len(links) > 0 {
			// The source is found by id: COPY returns no positions.
			bt := &pgx.Batch{}
			for _, l := range links {
				bt.Queue(`INSERT INTO links(source_pos, type, target_id) SELECT pos, $2, $3 FROM events WHERE id = $1 AND version = 1`, l...)
			}
			return tx.SendBatch(ctx, bt).Close()
		}
		return nil
	})
}

func (s *pgPeer) Save(ctx context.Context, it *Item) error {
	e := &it.Event
	if len(e.Links) == 0 {
		_, err := s.pool.Exec(ctx, `INSERT INTO events(id, version, created_ms, producer, schema_id, schema_doc, payload, files, links, metadata)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, pgRow(e)...)
		return err
	}
	return s.SaveBatch(ctx, &Batch{Events: []trove.Event{*e}})
}

func (s *pgPeer) SaveFile(ctx context.Context, it *Item) error {
	f := it.Event.Files[0]
	_, err := s.pool.Exec(ctx, `INSERT INTO files(id, hash, size, data) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING`, f.ID, f.Hash, f.Size, it.File)
	return err
}

const pgPeerSelect = `SELECT e.pos, e.id, e.version, e.created_ms, e.producer, e.schema_id, e.payload::text, e.files, e.links, e.metadata FROM events e`

func (s *pgPeer) Get(ctx context.Context, id string) error {
	rows, err := s.pool.Query(ctx, pgPeerSelect+` WHERE e.id = $1 ORDER BY e.version DESC LIMIT 1`, id)
	if err != nil {
		return err
	}
	n, err := pgCount(rows)
	if err == nil && n == 0 {
		return fmt.Errorf("bench: postgres: %s: %w", id, trove.ErrNotFound)
	}
	return err
}

func pgCount(rows pgx.Rows) (int, error) {
	defer rows.Close()
	n := 0
	for rows.Next() {
		var pos, created int64
		var version int
		var id, producer, schema, payload string
		var files, links, meta *string
		if err := rows.Scan(&pos, &id, &version, &created, &producer, &schema, &payload, &files, &links, &meta); err != nil {
			return n, err
		}
		n++
	}
	return n, rows.Err()
}

func (s *pgPeer) Query(ctx context.Context, q trove.EventQuery) (int, error) {
	var where []string
	var args []any
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	order := "e.pos"
	if len(q.Schema) > 1 || len(q.Producer) > 1 || len(q.Links) > 1 || len(q.Sort) > 1 || q.Offset != 0 {
		return 0, errUnsupported
	}
	if len(q.Schema) == 1 {
		where = append(where, "e.schema_id = "+arg(q.Schema[0]))
	}
	if len(q.Producer) == 1 {
		where = append(where, "e.producer = "+arg(q.Producer[0]))
	}
	if tr := q.TimeRange; tr != nil {
		for bound, op := range map[string]string{tr.Start: ">=", tr.End: "<="} {
			if bound == "" {
				continue
			}
			t, err := time.Parse(time.RFC3339Nano, bound)
			if err != nil {
				return 0, errUnsupported
			}
			where = append(where, "e.created_ms "+op+" "+arg(t.UnixMilli()))
		}
	}
	if len(q.Links) == 1 {
		l := q.Links[0]
		if l.TargetEvent == nil || l.Type != "" {
			return 0, errUnsupported
		}
		where = append(where, "e.pos IN (SELECT source_pos FROM links WHERE target_id = "+arg(l.TargetEvent.ID)+")")
	}
	if len(q.Payload) > 0 {
		for k := range q.Payload {
			if strings.Contains(k, ".") {
				return 0, errUnsupported // dotted paths would need nesting
			}
		}
		doc, err := json.Marshal(q.Payload)
		if err != nil {
			return 0, errUnsupported
		}
		where = append(where, "e.payload @> "+arg(string(doc))+"::jsonb")
	}
	if q.Search != "" {
		field, word, ok := strings.Cut(q.Search, ":")
		if !ok || field != "message" || strings.ContainsAny(word, ` "+-`) {
			return 0, errUnsupported
		}
		where = append(where, "e.tsv @@ plainto_tsquery('simple', "+arg(word)+")")
	}
	if len(q.Sort) == 1 {
		if q.Sort[0].Field != "createdAt" || q.Sort[0].Direction != "desc" {
			return 0, errUnsupported
		}
		order = "e.created_ms DESC, e.pos"
	}
	sqlText := pgPeerSelect
	if len(where) > 0 {
		sqlText += " WHERE " + strings.Join(where, " AND ")
	}
	sqlText += " ORDER BY " + order
	if q.Limit != nil {
		sqlText += fmt.Sprintf(" LIMIT %d", *q.Limit)
	}
	rows, err := s.pool.Query(ctx, sqlText, args...)
	if err != nil {
		return 0, err
	}
	return pgCount(rows)
}

func (s *pgPeer) Close(context.Context) error {
	s.pool.Close()
	return nil
}
