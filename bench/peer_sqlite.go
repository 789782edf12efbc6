package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/trovedb/trove"
	_ "modernc.org/sqlite" // the pure-Go SQLite driver
)

// sqlitePeer is SQLite tuned by hand, the way a careful user would set it
// up instead of Trove: WAL journal, synchronous=FULL (durable commits),
// one writer connection and a pool of readers, prepared statements,
// batches of 1,000 in one transaction, indexes for every query shape of
// the benchmark (schema+producer, createdAt, link target, expression
// indexes on json_extract of status and traceId) and an FTS5 table over the
// free text.
func sqlitePeer() Contender {
	return Contender{
		Name: "sqlite (hand-tuned)", Kind: kindPeer, Persistent: true,
		About: "modernc.org/sqlite: WAL, synchronous=FULL, prepared statements, 1,000-event transactions, " +
			"indexes incl. json_extract expression indexes, FTS5 for search",
		Available: func() error { return nil },
		Open:      openSQLite,
	}
}

const sqliteSchema = `
CREATE TABLE IF NOT EXISTS schemas(id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events(
	pos INTEGER PRIMARY KEY,
	id TEXT NOT NULL,
	version INTEGER NOT NULL,
	created_at INTEGER NOT NULL,
	producer TEXT NOT NULL,
	schema_id TEXT NOT NULL,
	payload TEXT NOT NULL,
	files TEXT,
	links TEXT,
	metadata TEXT,
	UNIQUE(id, version)
);
CREATE INDEX IF NOT EXISTS events_schema_producer ON events(schema_id, producer);
CREATE INDEX IF NOT EXISTS events_created ON events(created_at DESC, pos);
CREATE INDEX IF NOT EXISTS events_status ON events(json_extract(payload, '$.status'));
CREATE INDEX IF NOT EXISTS events_trace ON events(json_extract(payload, '$.traceId'));
CREATE TABLE IF NOT EXISTS links(source_pos INTEGER NOT NULL, type TEXT NOT NULL, target_id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS links_target ON links(target_id, source_pos);
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(message, content='', tokenize='unicode61');
CREATE TABLE IF NOT EXISTS files(id TEXT PRIMARY KEY, hash TEXT NOT NULL, size INTEGER NOT NULL, data BLOB NOT NULL);
`

func openSQLite(ctx context.Context, dir string, _ *slog.Logger) (Store, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	dsn := "file:" + filepath.Join(dir, "events.db") +
		"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(OFF)"
	w, err := sql.Open("sqlite", dsn+"&_txlock=immediate")
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	if _, err := w.ExecContext(ctx, sqliteSchema); err != nil {
		w.Close()
		return nil, fmt.Errorf("bench: sqlite schema: %w", err)
	}
	r, err := sql.Open("sqlite", dsn+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, err
	}
	r.SetMaxOpenConns(4)
	s := &sqliteStore{w: w, r: r}
	if s.get, err = r.PrepareContext(ctx, `SELECT pos, id, version, created_at, producer, schema_id, payload, files, links, metadata
		FROM events WHERE id = ? ORDER BY version DESC LIMIT 1`); err != nil {
		s.Close(ctx)
		return nil, err
	}
	// The writes are prepared once, on the one writer connection; each
	// transaction uses them through tx.StmtContext.
	for _, p := range []struct {
		st  **sql.Stmt
		sql string
	}{
		{&s.insSchema, `INSERT OR IGNORE INTO schemas(id, doc) VALUES(?, ?)`},
		{&s.ins, `INSERT INTO events(id, version, created_at, producer, schema_id, payload, files, links, metadata)
		VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)`},
		{&s.insLink, `INSERT INTO links(source_pos, type, target_id) VALUES(?, ?, ?)`},
		{&s.insFTS, `INSERT INTO fts(rowid, message) VALUES(?, json_extract(?, '$.message'))`},
		{&s.insFile, `INSERT OR IGNORE INTO files(id, hash, size, data) VALUES(?, ?, ?, ?)`},
	} {
		if *p.st, err = w.PrepareContext(ctx, p.sql); err != nil {
			s.Close(ctx)
			return nil, err
		}
	}
	return s, nil
}

type sqliteStore struct {
	w, r *sql.DB
	get  *sql.Stmt
	// Prepared on w.
	insSchema, ins, insLink, insFTS, insFile *sql.Stmt
}

var (
	_ Store  = (*sqliteStore)(nil)
	_ Reader = (*sqliteStore)(nil)
)

func nullJSON(b []byte) any {
	if len(b) == 0 || string(b) == "null" || string(b) == "[]" {
		return nil
	}
	return string(b)
}

func (s *sqliteStore) SaveBatch(ctx context.Context, b *Batch) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	insSchema := tx.StmtContext(ctx, s.insSchema)
	ins := tx.StmtContext(ctx, s.ins)
	insLink := tx.StmtContext(ctx, s.insLink)
	insFTS := tx.StmtContext(ctx, s.insFTS)
	seen := map[string]bool{}
	for i := range b.Events {
		e := &b.Events[i]
		sid := e.Schema.Identity()
		if !seen[sid] {
			seen[sid] = true
			if _, err := insSchema.ExecContext(ctx, sid, string(e.Schema.Raw())); err != nil {
				return err
			}
		}
		var files, links []byte
		if len(e.Files) > 0 {
			files, _ = json.Marshal(e.Files)
		}
		if len(e.Links) > 0 {
			links, _ = json.Marshal(e.Links)
		}
		res, err := ins.ExecContext(ctx, e.ID.ID, e.ID.Version, e.CreatedAt.UnixMilli(), e.Producer, sid,
			string(e.Payload), nullJSON(files), nullJSON(links), nullJSON(e.Metadata))
		if err != nil {
			return err
		}
		pos, err := res.LastInsertId()
		if err != nil {
			return err
		}
		for _, l := range e.Links {
			if _, err := insLink.ExecContext(ctx, pos, l.Type, l.TargetEvent.ID); err != nil {
				return err
			}
		}
		if _, err := insFTS.ExecContext(ctx, pos, string(e.Payload)); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func (s *sqliteStore) Save(ctx context.Context, it *Item) error {
	return s.SaveBatch(ctx, &Batch{Events: []trove.Event{it.Event}})
}

// SaveFile stores the file's bytes as a row of the files table, one
// transaction (durable at commit).
func (s *sqliteStore) SaveFile(ctx context.Context, it *Item) error {
	f := it.Event.Files[0]
	_, err := s.insFile.ExecContext(ctx, f.ID, f.Hash, f.Size, it.File)
	return err
}

// sqliteRow is an event as the peer hands it out: its columns, undecoded.
type sqliteRow struct {
	pos, version, created         int64
	id, producer, schema, payload string
	files, links, metadata        sql.NullString
}

func scanRow(sc interface{ Scan(...any) error }) (sqliteRow, error) {
	var r sqliteRow
	err := sc.Scan(&r.pos, &r.id, &r.version, &r.created, &r.producer, &r.schema, &r.payload, &r.files, &r.links, &r.metadata)
	return r, err
}

func (s *sqliteStore) Get(ctx context.Context, id string) error {
	_, err := scanRow(s.get.QueryRowContext(ctx, id))
	if err == sql.ErrNoRows {
		return fmt.Errorf("bench: sqlite: %s: %w", id, trove.ErrNotFound)
	}
	return err
}

// Query translates the query shapes of the benchmark to SQL: one schema,
// one producer, a time range, one link target, one payload scalar, a
// search for one field:word, sort by createdAt desc, limit. The dataset
// has one version per id, so "latest version only" needs no clause.
func (s *sqliteStore) Query(ctx context.Context, q trove.EventQuery) (int, error) {
	var where []string
	var args []any
	from := "events e"
	order := "e.pos"
	if len(q.Schema) > 1 || len(q.Producer) > 1 || len(q.Links) > 1 || len(q.Payload) > 1 || len(q.Sort) > 1 || q.Offset != 0 {
		return 0, errUnsupported
	}
	if len(q.Schema) == 1 {
		where, args = append(where, "e.schema_id = ?"), append(args, q.Schema[0])
	}
	if len(q.Producer) == 1 {
		where, args = append(where, "e.producer = ?"), append(args, q.Producer[0])
	}
	if tr := q.TimeRange; tr != nil {
		if tr.Start != "" {
			t, err := time.Parse(time.RFC3339Nano, tr.Start)
			if err != nil {
				return 0, errUnsupported
			}
			where, args = append(where, "e.created_at >= ?"), append(args, t.UnixMilli())
		}
		if tr.End != "" {
			t, err := time.Parse(time.RFC3339Nano, tr.End)
			if err != nil {
				return 0, errUnsupported
			}
			where, args = append(where, "e.created_at <= ?"), append(args, t.UnixMilli())
		}
	}
	if len(q.Links) == 1 {
		l := q.Links[0]
		if l.TargetEvent == nil || l.Type != "" {
			return 0, errUnsupported
		}
		where = append(where, "e.pos IN (SELECT source_pos FROM links WHERE target_id = ?)")
		args = append(args, l.TargetEvent.ID)
	}
	for k, v := range q.Payload {
		if strings.ContainsAny(k, `'"$[]`) {
			return 0, errUnsupported
		}
		where, args = append(where, "json_extract(e.payload, '$."+k+"') = ?"), append(args, v)
	}
	if q.Search != "" {
		field, word, ok := strings.Cut(q.Search, ":")
		if !ok || field != "message" || strings.ContainsAny(word, ` "+-`) {
			return 0, errUnsupported
		}
		where = append(where, "e.pos IN (SELECT rowid FROM fts WHERE fts MATCH ?)")
		args = append(args, `message:"`+word+`"`)
	}
	if len(q.Sort) == 1 {
		if q.Sort[0].Field != "createdAt" || q.Sort[0].Direction != "desc" {
			return 0, errUnsupported
		}
		order = "e.created_at DESC, e.pos"
	}
	sqlText := "SELECT e.pos, e.id, e.version, e.created_at, e.producer, e.schema_id, e.payload, e.files, e.links, e.metadata FROM " + from
	if len(where) > 0 {
		sqlText += " WHERE " + strings.Join(where, " AND ")
	}
	sqlText += " ORDER BY " + order
	if q.Limit != nil {
		sqlText += fmt.Sprintf(" LIMIT %d", *q.Limit)
	}
	rows, err := s.r.QueryContext(ctx, sqlText, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		if _, err := scanRow(rows); err != nil {
			return n, err
		}
		n++
	}
	return n, rows.Err()
}

func (s *sqliteStore) Close(context.Context) error {
	for _, st := range []*sql.Stmt{s.get, s.insSchema, s.ins, s.insLink, s.insFTS, s.insFile} {
		if st != nil {
			st.Close()
		}
	}
	err := s.r.Close()
	if werr := s.w.Close(); err == nil {
		err = werr
	}
	return err
}
