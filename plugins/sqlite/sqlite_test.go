package sqlite_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/plugins/sqlite"
)

var noteSchema = trove.MustSchema(`{"$id":"note+v1","type":"object"}`)

func open(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.New(sqlite.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Initialize(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return s
}

func note(id string, payload string) trove.Event {
	return trove.Event{ID: trove.EventID{ID: id}, Schema: noteSchema, Payload: json.RawMessage(payload)}
}

func ids(events []trove.Event) string {
	var out []string
	for _, e := range events {
		out = append(out, e.ID.ID)
	}
	return strings.Join(out, " ")
}

// rawDB opens the database file with a plain connection, as any SQLite
// client would.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestOptionsRequirePath(t *testing.T) {
	if _, err := trove.NewPlugin(sqlite.Name, json.RawMessage(`{}`)); !errors.Is(err, trove.ErrInvalid) {
		t.Fatalf("no path: got %v, want ErrInvalid", err)
	}
}

func TestMigrationsAreRecorded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trove.db")
	s := open(t, path)
	ctx := context.Background()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	db := rawDB(t, path)
	var version int
	var name, applied string
	if err := db.QueryRow(`SELECT version, name, applied_at FROM schema_migrations`).Scan(&version, &name, &applied); err != nil {
		t.Fatal(err)
	}
	if version != 1 || name == "" {
		t.Fatalf("schema_migrations: %d %q %q", version, name, applied)
	}
	var mode string
	if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode: %q, %v", mode, err)
	}
	// Reopening applies nothing twice.
	s = open(t, path)
	s.Shutdown(ctx)
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("migrations after reopen: %d, %v", n, err)
	}
	// A database from a newer build is refused.
	if _, err := db.Exec(`INSERT INTO schema_migrations VALUES (99, 'future', '2030-01-01T00:00:00.000Z')`); err != nil {
		t.Fatal(err)
	}
	s2, _ := sqlite.New(sqlite.Options{Path: path})
	if err := s2.Initialize(ctx, nil); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("Initialize on a newer schema: %v", err)
	}
}

func TestDatabaseIsReadableWithPlainSQL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trove.db")
	s := open(t, path)
	ctx := context.Background()
	for i, id := range []string{"a", "b", "c"} {
		e := note(id, fmt.Sprintf(`{"author":{"name":"Jane"},"n":%d}`, i))
		e.Links = []trove.EventLink{{Type: "parent", TargetEvent: trove.EventID{ID: "root"}}}
		if _, err := s.SaveEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.SaveEvent(ctx, trove.Event{ID: trove.EventID{ID: "a", Version: 2}, Schema: noteSchema, Payload: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	db := rawDB(t, path)
	var docs, latest, links int
	var name string
	if err := db.QueryRow(`SELECT count(*) FROM schema_docs`).Scan(&docs); err != nil || docs != 1 {
		t.Fatalf("schema documents: %d, %v (want 1: interned)", docs, err)
	}
	if err := db.QueryRow(`SELECT count(*) FROM events WHERE latest = 1`).Scan(&latest); err != nil || latest != 3 {
		t.Fatalf("latest rows: %d, %v", latest, err)
	}
	if err := db.QueryRow(`SELECT count(*) FROM links WHERE target_id = 'root' AND own = 1`).Scan(&links); err != nil || links != 3 {
		t.Fatalf("links: %d, %v", links, err)
	}
	if err := db.QueryRow(`SELECT json_extract(payload, '$.author.name') FROM events WHERE id = 'b'`).Scan(&name); err != nil || name != "Jane" {
		t.Fatalf("payload: %q, %v", name, err)
	}
}

func TestSQLInjectionIsInert(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trove.db")
	s := open(t, path)
	ctx := context.Background()
	evil := []string{
		`x'); DROP TABLE events; --`,
		`x" OR 1=1 --`,
		`'; DELETE FROM events; --`,
		`a') OR json_extract(payload, '$x`,
		`a\"b`,
		"a\x00b",
	}
	for i, key := range evil {
		payload, _ := json.Marshal(map[string]any{key: "v", "i": i})
		if _, err := s.SaveEvent(ctx, trove.Event{ID: trove.EventID{ID: key}, Producer: key, Schema: noteSchema, Payload: payload}); err != nil {
			t.Fatalf("save %q: %v", key, err)
		}
	}
	if _, err := s.SaveEvent(ctx, note("plain", `{"a":"v"}`)); err != nil {
		t.Fatal(err)
	}
	for i, key := range evil {
		// A payload key: only the event that has it matches.
		got, err := s.QueryEvents(ctx, trove.EventQuery{Payload: map[string]any{key: "v"}})
		if err != nil || len(got) != 1 || got[0].ID.ID != key {
			t.Errorf("payload key %q: %q, %v", key, ids(got), err)
		}
		// The key as a value.
		got, err = s.QueryEvents(ctx, trove.EventQuery{Payload: map[string]any{"a": key}})
		if err != nil || len(got) != 0 {
			t.Errorf("payload value %q: %q, %v", key, ids(got), err)
		}
		// Ids and producers.
		e, err := s.GetEvent(ctx, trove.EventID{ID: key})
		if err != nil || e.ID.ID != key {
			t.Errorf("get %q: %v, %v", key, e.ID, err)
		}
		got, err = s.QueryEvents(ctx, trove.EventQuery{Producer: []string{key}, Schema: []string{key, "note+v1"}})
		if err != nil || len(got) != 1 || got[0].ID.ID != key {
			t.Errorf("producer %q: %q, %v", key, ids(got), err)
		}
		got, err = s.QueryEvents(ctx, trove.EventQuery{Links: []trove.LinkCriterion{{Type: key, TargetEvent: &trove.EventID{ID: key}}}})
		if err != nil || len(got) != 0 {
			t.Errorf("links %q: %q, %v", key, ids(got), err)
		}
		if err := s.SaveLink(ctx, trove.EventID{ID: key}, trove.EventLink{Type: key, TargetEvent: trove.EventID{ID: key}}); err != nil {
			t.Errorf("save link %q: %v", key, err)
		}
		ls, err := s.GetLinks(ctx, trove.EventID{ID: key}, trove.LinkOptions{Direction: trove.Incoming, Type: key})
		if err != nil || len(ls) != 1 {
			t.Errorf("incoming links of %q: %d, %v", key, len(ls), err)
		}
		// Sort fields are checked, never spliced.
		if _, err := s.QueryEvents(ctx, trove.EventQuery{Sort: []trove.SortField{{Field: key}}}); !errors.Is(err, trove.ErrInvalid) {
			t.Errorf("sort field %q: %v, want ErrInvalid", key, err)
		}
		got, err = s.QueryEvents(ctx, trove.EventQuery{Sort: []trove.SortField{{Field: "payload." + key, Direction: "desc"}}, Limit: trove.Limit(1)})
		if err != nil || len(got) != 1 {
			t.Errorf("sort by payload.%q: %q, %v", key, ids(got), err)
		}
		if _, err := s.QueryEvents(ctx, trove.EventQuery{Sort: []trove.SortField{{Field: "id", Direction: key}}}); !errors.Is(err, trove.ErrInvalid) {
			t.Errorf("sort direction %q: %v, want ErrInvalid", key, err)
		}
		// File ids are validated before any SQL.
		if _, err := s.SaveFile(ctx, trove.EventFile{ID: key}, strings.NewReader("x")); !errors.Is(err, trove.ErrInvalid) {
			t.Errorf("file id %q: %v, want ErrInvalid", key, err)
		}
		if _, err := s.GetFile(ctx, key); !errors.Is(err, trove.ErrInvalid) {
			t.Errorf("get file %q: %v, want ErrInvalid", key, err)
		}
		_ = i
	}
	all, err := s.QueryEvents(ctx, trove.EventQuery{})
	if err != nil || len(all) != len(evil)+1 {
		t.Fatalf("after the attempts: %d events, %v", len(all), err)
	}
	s.Shutdown(ctx)
	db := rawDB(t, path)
	for _, table := range []string{"events", "links", "files", "schema_docs", "registered_schemas", "schema_migrations"} {
		if _, err := db.Exec(`SELECT count(*) FROM ` + table); err != nil {
			t.Errorf("table %s: %v", table, err)
		}
	}
}

func TestPayloadTypesInSQL(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "trove.db"))
	ctx := context.Background()
	events := map[string]string{
		"int":      `{"v":1}`,
		"real":     `{"v":1.0}`,
		"exp":      `{"v":1e0}`,
		"str":      `{"v":"1"}`,
		"true":     `{"v":true}`,
		"null":     `{"v":null}`,
		"missing":  `{"w":1}`,
		"object":   `{"v":{"x":1}}`,
		"array":    `{"v":[1]}`,
		"big":      `{"v":9007199254740993}`,
		"bigreal":  `{"v":9007199254740993.0}`,
		"huge":     `{"v":123456789012345678901234567890}`,
		"nested":   `{"v":{"w":"1"}}`,
		"fraction": `{"v":0.1}`,
	}
	for _, id := range []string{"int", "real", "exp", "str", "true", "null", "missing", "object", "array", "big", "bigreal", "huge", "nested", "fraction"} {
		if _, err := s.SaveEvent(ctx, note(id, events[id])); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		path  string
		value any
		want  string
	}{
		{"v", json.Number("1"), "int real exp"},
		{"v", 1.0, "int real exp"},
		{"v", "1", "str"},
		{"v", true, "true"},
		{"v", false, ""},
		{"v", nil, "null"},
		{"v", json.Number("9007199254740993"), "big bigreal"},
		{"v", json.Number("9007199254740992"), ""},
		{"v", json.Number("123456789012345678901234567890"), "huge"},
		{"v", json.Number("0.1"), "fraction"},
		{"v.w", "1", "nested"},
		{"w", json.Number("1"), "missing"},
	}
	for _, c := range cases {
		got, err := s.QueryEvents(ctx, trove.EventQuery{Payload: map[string]any{c.path: c.value}})
		if err != nil || ids(got) != c.want {
			t.Errorf("%s = %v: got %q (%v), want %q", c.path, c.value, ids(got), err, c.want)
		}
	}
}

func TestReopenKeepsEverything(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trove.db")
	ctx := context.Background()
	s := open(t, path)
	if _, err := s.SaveEvents(ctx, []trove.Event{note("a", `{}`), note("b", `{}`)}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveSchema(ctx, trove.RegisteredSchema{ID: "s", Version: "1", Schema: json.RawMessage(`{"type":"object"}`)}); err != nil {
		t.Fatal(err)
	}
	s.Shutdown(ctx)
	s = open(t, path)
	e, err := s.SaveEvent(ctx, note("c", `{}`))
	if err != nil || e.Position != 3 {
		t.Fatalf("position after reopen: %d, %v", e.Position, err)
	}
	regs, err := s.ListSchemas(ctx)
	if err != nil || len(regs) != 1 {
		t.Fatalf("schemas: %+v, %v", regs, err)
	}
}

func TestCheck(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trove.db")
	ctx := context.Background()
	s := open(t, path)
	if _, err := s.SaveEvents(ctx, []trove.Event{note("a", `{}`), note("b", `{}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SaveFile(ctx, trove.EventFile{ID: "f"}, strings.NewReader("hello")); err != nil {
		t.Fatal(err)
	}
	s.Shutdown(ctx)
	rep, err := sqlite.Check(ctx, path)
	if err != nil || rep.Events != 2 || rep.Versions != 2 || rep.Files != 1 || rep.Schemas != 1 || len(rep.Problems) != 0 {
		t.Fatalf("Check of a sound database: %+v, %v", rep, err)
	}
	db := rawDB(t, path)
	if _, err := db.Exec(`UPDATE events SET latest = 0 WHERE id = 'a'; UPDATE file_chunks SET data = CAST('jello' AS BLOB)`); err != nil {
		t.Fatal(err)
	}
	rep, err = sqlite.Check(ctx, path)
	if !errors.Is(err, trove.ErrCorrupt) || len(rep.Problems) != 2 {
		t.Fatalf("Check of a damaged database: %+v, %v", rep, err)
	}
}

func TestFilesInSmallChunks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trove.db")
	ctx := context.Background()
	s, err := sqlite.New(sqlite.Options{Path: path, ChunkSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Initialize(ctx, nil); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(ctx)
	for _, c := range []struct{ id, data string }{{"empty", ""}, {"one", "abc"}, {"exact", "abcd"}, {"many", "hello, chunked world"}} {
		f, err := s.SaveFile(ctx, trove.EventFile{ID: c.id}, strings.NewReader(c.data))
		if err != nil || f.Size != int64(len(c.data)) {
			t.Fatalf("save %s: %+v, %v", c.id, f, err)
		}
		// Saving again: the same bytes are the stored file, others conflict.
		if again, err := s.SaveFile(ctx, trove.EventFile{ID: c.id}, strings.NewReader(c.data)); err != nil || again.Hash != f.Hash {
			t.Fatalf("save %s again: %+v, %v", c.id, again, err)
		}
		if _, err := s.SaveFile(ctx, trove.EventFile{ID: c.id}, strings.NewReader(c.data+"!!!!!")); !errors.Is(err, trove.ErrConflict) {
			t.Fatalf("save %s with other bytes: %v", c.id, err)
		}
		rc, err := s.GetFileData(ctx, c.id)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		if err != nil || string(b) != c.data {
			t.Fatalf("read %s: %q, %v", c.id, b, err)
		}
		if sk, ok := rc.(io.Seeker); ok && len(c.data) > 6 {
			if _, err := sk.Seek(6, io.SeekStart); err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(rc)
			if string(b) != c.data[6:] {
				t.Fatalf("read %s from 6: %q", c.id, b)
			}
		}
		rc.Close()
	}
	db := rawDB(t, path)
	var blobs, files int
	db.QueryRow(`SELECT count(*) FROM blobs`).Scan(&blobs)
	db.QueryRow(`SELECT count(*) FROM files`).Scan(&files)
	if blobs != files || files != 4 {
		t.Fatalf("%d blobs for %d files: the blobs of refused saves must be dropped", blobs, files)
	}
}
