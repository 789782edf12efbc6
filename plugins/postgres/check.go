package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/trovedb/trove"
)

// Report is what Check found.
type Report struct {
	Head      uint64 // the head row's position
	Events    int    // distinct event ids
	Versions  int    // event rows
	Links     int    // link rows
	Dangling  int    // links whose target event is not stored (allowed: reads skip them)
	Files     int    // files, each read back and hashed
	Schemas   int    // distinct schema documents
	Migration int    // the schema's migration version
	// Problems lists every failed check, one line each.
	Problems []string
}

// maxListed bounds the lines one kind of problem adds to Report.Problems.
const maxListed = 20

// Check verifies the store o names without changing it (no migration is
// applied, nothing is created; a schema that does not exist is an error
// wrapping ErrNotFound): the migrations recorded are exactly this build's;
// the head row equals the highest position and positions run 1…head with
// no hole; each id's versions run 1…n with exactly the highest marked
// latest; every event row decodes (payload, files, links, metadata, its
// schema document) and its index columns (payload_jsonb, search_tsv) are
// those the payload gives; every link's source version is stored, and
// links to events that are not are counted as dangling (allowed, as on
// every backend: reads skip them); every schema document parses and
// matches its hash; every file's chunks are numbered 0…n-1 and add up to
// its size and sha256. Problems are listed in Report.Problems and the
// returned error wraps trove.ErrCorrupt. It reads in one REPEATABLE READ
// transaction, so it checks a consistent snapshot while other processes
// write.
func Check(ctx context.Context, o Options) (Report, error) {
	var rep Report
	s, err := New(o)
	if err != nil {
		return rep, err
	}
	cfg, err := s.poolConfig(s.opts.DSN)
	if err != nil {
		return rep, err
	}
	cfg.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return rep, fmt.Errorf("postgres: check: %w", err)
	}
	defer pool.Close()
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, s.opts.Schema).Scan(&exists); err != nil {
		return rep, fmt.Errorf("postgres: check: %w", err)
	}
	if !exists {
		return rep, fmt.Errorf("%w: postgres: check: no schema %s in the database", trove.ErrNotFound, s.opts.Schema)
	}
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return rep, fmt.Errorf("postgres: check: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	c := &checker{s: s, tx: tx, rep: &rep, listed: map[string]int{}}
	for _, step := range []func(context.Context) error{
		c.migrations, c.positions, c.versions, c.rows, c.links, c.schemaDocs, c.files,
	} {
		if err := step(ctx); err != nil {
			return rep, fmt.Errorf("postgres: check: %w", err)
		}
	}
	if len(rep.Problems) > 0 {
		return rep, fmt.Errorf("%w: postgres: %d problems in schema %s", trove.ErrCorrupt, len(rep.Problems), s.opts.Schema)
	}
	return rep, nil
}

// checker holds one Check's transaction and findings.
type checker struct {
	s      *Store
	tx     pgx.Tx
	rep    *Report
	listed map[string]int // problems listed per kind
}

// problem lists one failed check; past maxListed of one kind, a last line
// says how many more there were.
func (c *checker) problem(kind, format string, args ...any) {
	c.listed[kind]++
	switch n := c.listed[kind]; {
	case n <= maxListed:
		c.rep.Problems = append(c.rep.Problems, fmt.Sprintf(format, args...))
	case n == maxListed+1:
		c.rep.Problems = append(c.rep.Problems, fmt.Sprintf("%s: more problems of this kind not listed", kind))
	}
}

// each runs query and calls fn with every row.
func (c *checker) each(ctx context.Context, query string, fn func(pgx.Rows) error, args ...any) error {
	rows, err := c.tx.Query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (c *checker) migrations(ctx context.Context) error {
	steps, err := loadMigrations()
	if err != nil {
		return err
	}
	want := map[int]string{}
	for _, m := range steps {
		want[m.version] = m.name
	}
	seen := map[int]bool{}
	err = c.each(ctx, `SELECT version, name FROM schema_migrations ORDER BY version`, func(r pgx.Rows) error {
		var v int
		var name string
		if err := r.Scan(&v, &name); err != nil {
			return err
		}
		seen[v] = true
		c.rep.Migration = max(c.rep.Migration, v)
		if n, ok := want[v]; !ok {
			c.problem("migrations", "schema_migrations: version %d (%s) is not one this build knows", v, name)
		} else if n != name {
			c.problem("migrations", "schema_migrations: version %d is named %q, this build's is %q", v, name, n)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, m := range steps {
		if !seen[m.version] {
			c.problem("migrations", "schema_migrations: version %d (%s) is not applied (the store opens it, a check does not)", m.version, m.name)
		}
	}
	return nil
}

func (c *checker) positions(ctx context.Context) error {
	var heads int
	var head, maxPos, minPos *int64
	var count int64
	if err := c.tx.QueryRow(ctx, `SELECT (SELECT count(*) FROM head), (SELECT max(position) FROM head WHERE id = 1),
	(SELECT max(position) FROM events), (SELECT min(position) FROM events), (SELECT count(*) FROM events)`).
		Scan(&heads, &head, &maxPos, &minPos, &count); err != nil {
		return err
	}
	if heads != 1 || head == nil {
		c.problem("head", "head: %d rows, want exactly the one with id 1", heads)
	}
	hv, mv := int64(0), int64(0)
	if head != nil {
		hv = *head
		c.rep.Head = uint64(max(hv, 0))
	}
	if maxPos != nil {
		mv = *maxPos
	}
	if head != nil && hv != mv {
		c.problem("head", "head: position %d, but the highest event position is %d", hv, mv)
	}
	if count == mv && (minPos == nil || *minPos == 1) {
		return nil
	}
	// Name the holes (and positions below 1).
	if minPos != nil && *minPos < 1 {
		c.problem("positions", "events: position %d is below 1", *minPos)
	}
	return c.each(ctx, `SELECT prev + 1, position - 1 FROM (
	SELECT position, lag(position, 1, 0::bigint) OVER (ORDER BY position) AS prev FROM events WHERE position >= 1) x
WHERE position > prev + 1 ORDER BY position`, func(r pgx.Rows) error {
		var from, to int64
		if err := r.Scan(&from, &to); err != nil {
			return err
		}
		if from == to {
			c.problem("positions", "events: no event at position %d (positions must run 1…%d with no hole)", from, mv)
		} else {
			c.problem("positions", "events: no events at positions %d…%d (positions must run 1…%d with no hole)", from, to, mv)
		}
		return nil
	})
}

func (c *checker) versions(ctx context.Context) error {
	return c.each(ctx, `SELECT id, count(*), min(version), max(version), count(*) FILTER (WHERE latest),
	max(version) FILTER (WHERE latest) FROM events GROUP BY id`, func(r pgx.Rows) error {
		var id string
		var n, minV, maxV, latest int
		var latestV *int
		if err := r.Scan(&id, &n, &minV, &maxV, &latest, &latestV); err != nil {
			return err
		}
		c.rep.Events++
		c.rep.Versions += n
		if n != maxV || minV != 1 {
			c.problem("versions", "event %s: %d rows for versions %d…%d (want 1…n)", id, n, minV, maxV)
		}
		if latest != 1 || latestV == nil || *latestV != maxV {
			c.problem("versions", "event %s: %d rows marked latest (want exactly version %d)", id, latest, maxV)
		}
		return nil
	})
}

// rows decodes every event row and recomputes its index columns.
func (c *checker) rows(ctx context.Context) error {
	docs := map[int64]bool{} // schema_pk → the document exists and parses
	var pks []int64
	if err := c.each(ctx, `SELECT DISTINCT schema_pk FROM events`, func(r pgx.Rows) error {
		var pk int64
		if err := r.Scan(&pk); err != nil {
			return err
		}
		pks = append(pks, pk)
		return nil
	}); err != nil {
		return err
	}
	identity := map[int64]string{}
	for _, pk := range pks {
		sc, err := c.s.schema(ctx, c.tx, pk)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			c.problem("schema", "events: schema document %d is not stored", pk)
		case err != nil && !errors.Is(err, trove.ErrCorrupt):
			return err
		case err != nil:
			c.problem("schema", "%v", err)
		default:
			docs[pk] = true
			identity[pk] = sc.Identity()
		}
	}
	// payload_jsonb is compared with the payload by the server (jsonb
	// equality); a payload PostgreSQL cannot parse fails that query, and
	// the rows are then read without the comparison, the decoding below
	// naming the damaged ones.
	compare := `CASE WHEN e.payload_jsonb IS NULL THEN NULL ELSE e.payload_jsonb = e.payload::jsonb END`
	sp, err := c.tx.Begin(ctx)
	if err != nil {
		return err
	}
	before, listed := len(c.rep.Problems), maps.Clone(c.listed)
	err = c.eventRows(ctx, sp, compare, docs, identity)
	if err == nil {
		return sp.Commit(ctx)
	}
	if rerr := sp.Rollback(ctx); rerr != nil {
		return errors.Join(err, rerr)
	}
	c.rep.Problems, c.listed = c.rep.Problems[:before], listed
	c.problem("index", "events: payload_jsonb could not be compared with the payloads: %v", err)
	return c.eventRows(ctx, c.tx, `NULL::boolean`, docs, identity)
}

// eventRows reads every event row through q, compare being the SQL that
// tells whether payload_jsonb equals the payload (NULL: not compared).
func (c *checker) eventRows(ctx context.Context, q pgx.Tx, compare string, docs map[int64]bool, identity map[int64]string) error {
	rows, err := q.Query(ctx, `SELECT `+eventCols+`, e.schema_id, e.payload_jsonb IS NULL, `+compare+`, e.search_tsv::text
FROM events e ORDER BY e.position`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := c.eventRow(rows, docs, identity); err != nil {
			return err
		}
	}
	return rows.Err()
}

// eventRow checks one row of eventRows.
func (c *checker) eventRow(r pgx.Rows, docs map[int64]bool, identity map[int64]string) error {
	{
		var schemaID string
		var jsonbNull bool
		var jsonbSame *bool
		var tsv *string
		row, err := scanEvent(r, &schemaID, &jsonbNull, &jsonbSame, &tsv)
		var ce *trove.CorruptionError
		if errors.As(err, &ce) {
			c.problem("rows", "%s", ce.Reason)
			return nil
		}
		if err != nil {
			return err
		}
		e := row.Event
		at := fmt.Sprintf("event %s at position %d", e.ID, e.Position)
		if docs[row.SchemaPK] && identity[row.SchemaPK] != schemaID {
			c.problem("rows", "%s: schema_id %q, its schema document says %q", at, schemaID, identity[row.SchemaPK])
		}
		if _, err := trove.DecodePayload(e.Payload); err != nil {
			c.problem("rows", "%s: payload: %v", at, err)
			return nil
		}
		if len(e.Metadata) > 0 && !json.Valid(e.Metadata) {
			c.problem("rows", "%s: metadata is not JSON", at)
		}
		jb, search := indexValues(e.Payload)
		switch {
		case (jb == nil) != jsonbNull:
			c.problem("index", "%s: payload_jsonb is %s, want %s", at, nullOr(jsonbNull, "set"), nullOr(jb == nil, "set"))
		case jsonbSame != nil && !*jsonbSame:
			c.problem("index", "%s: payload_jsonb differs from the payload", at)
		}
		want := "NULL"
		if v, ok := search.(tsvector); ok {
			want = tsvectorText(v)
		}
		got := "NULL"
		if tsv != nil {
			got = *tsv
		}
		if got != want {
			c.problem("index", "%s: search_tsv is %s, the payload's tokens give %s", at, clip(got), clip(want))
		}
		return nil
	}
}

func (c *checker) links(ctx context.Context) error {
	if err := c.tx.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE NOT EXISTS (
	SELECT 1 FROM events t WHERE t.id = l.target_id AND (l.target_version = 0 OR t.version = l.target_version)))
FROM links l`).Scan(&c.rep.Links, &c.rep.Dangling); err != nil {
		return err
	}
	return c.each(ctx, `SELECT l.seq, l.source_id, l.source_version FROM links l
WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.id = l.source_id AND e.version = l.source_version) ORDER BY l.seq`, func(r pgx.Rows) error {
		var seq int64
		var id string
		var v int
		if err := r.Scan(&seq, &id, &v); err != nil {
			return err
		}
		c.problem("links", "links: link %d comes from %s@%d, which is not stored", seq, id, v)
		return nil
	})
}

func (c *checker) schemaDocs(ctx context.Context) error {
	if err := c.each(ctx, `SELECT schema_pk, hash, doc FROM schema_docs ORDER BY schema_pk`, func(r pgx.Rows) error {
		var pk int64
		var hash, doc string
		if err := r.Scan(&pk, &hash, &doc); err != nil {
			return err
		}
		c.rep.Schemas++
		if sum := sha256.Sum256([]byte(doc)); hex.EncodeToString(sum[:]) != hash {
			c.problem("schema", "schema document %d: its hash column does not match the document", pk)
		}
		if _, err := trove.NewSchema([]byte(doc)); err != nil {
			c.problem("schema", "schema document %d: %v", pk, err)
		}
		return nil
	}); err != nil {
		return err
	}
	return c.each(ctx, `SELECT id, version, doc FROM registered_schemas ORDER BY seq`, func(r pgx.Rows) error {
		var id, version, doc string
		if err := r.Scan(&id, &version, &doc); err != nil {
			return err
		}
		if !json.Valid([]byte(doc)) {
			c.problem("schema", "registered schema %s version %s: the document is not JSON", id, version)
		}
		return nil
	})
}

// files hashes every file's chunks, one chunk in memory at a time.
func (c *checker) files(ctx context.Context) error {
	type file struct {
		id, hash string
		size     int64
	}
	var files []file
	if err := c.each(ctx, `SELECT id, hash, size FROM files ORDER BY id`, func(r pgx.Rows) error {
		var f file
		if err := r.Scan(&f.id, &f.hash, &f.size); err != nil {
			return err
		}
		files = append(files, f)
		return nil
	}); err != nil {
		return err
	}
	for _, f := range files {
		c.rep.Files++
		h := sha256.New()
		var size int64
		next := 0
		if err := c.each(ctx, `SELECT n, data FROM file_chunks WHERE file_id = $1 ORDER BY n`, func(r pgx.Rows) error {
			var n int
			var data []byte
			if err := r.Scan(&n, &data); err != nil {
				return err
			}
			if n != next {
				c.problem("files", "file %s: chunk %d follows chunk %d", f.id, n, next-1)
			}
			next = n + 1
			size += int64(len(data))
			h.Write(data)
			return nil
		}, f.id); err != nil {
			return err
		}
		if sum := "sha256:" + hex.EncodeToString(h.Sum(nil)); size != f.size || sum != f.hash {
			c.problem("files", "file %s: its chunks hold %d bytes hashing to %s, its row says %d bytes, %s", f.id, size, sum, f.size, f.hash)
		}
	}
	return nil
}

// tsvectorText is v as PostgreSQL prints a tsvector: each lexeme quoted,
// space-separated (the tokens hold letters and digits only, so nothing is
// escaped).
func tsvectorText(v tsvector) string {
	var b strings.Builder
	rest := v[4:]
	for len(rest) > 0 {
		i := strings.IndexByte(string(rest), 0)
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("'" + strings.ReplaceAll(strings.ReplaceAll(string(rest[:i]), `\`, `\\`), "'", "''") + "'")
		rest = rest[i+3:]
	}
	return b.String()
}

func nullOr(null bool, what string) string {
	if null {
		return "NULL"
	}
	return what
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
