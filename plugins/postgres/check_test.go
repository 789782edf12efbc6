package postgres_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/plugins/postgres"
)

// checkedStore fills a store in a schema of its own: versions, links (one
// to an event that is not stored), a file of several chunks and one of
// none, payloads jsonb and tsvectors cannot hold. It returns the schema.
func checkedStore(t *testing.T) string {
	t.Helper()
	schema := schemaFor(t.TempDir())
	s := newStore(t, schema, func(o *postgres.Options) { o.ChunkSize = 1000 })
	ctx := timeout(t, time.Minute)
	for i := range 30 {
		e := ev(fmt.Sprintf("c%02d", i%10), 0, fmt.Sprintf(`{"n":%d,"t":"words here %d"}`, i, i))
		e.ID.Version = i/10 + 1
		if i%3 == 0 {
			e.Links = []trove.EventLink{{Type: "parent", TargetEvent: trove.EventID{ID: "c00"}}}
		}
		if _, err := s.SaveEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	for i, p := range []string{`{"s":"nul \u0000 here"}`, `{"t":"` + strings.Repeat("x", 3000) + `"}`, `{}`} {
		if _, err := s.SaveEvents(ctx, []trove.Event{ev(fmt.Sprintf("odd%d", i), 1, p)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SaveLink(ctx, trove.EventID{ID: "c01"}, trove.EventLink{Type: "relates-to", TargetEvent: trove.EventID{ID: "not-stored"}}); err != nil {
		t.Fatal(err)
	}
	for id, size := range map[string]int{"big": 3500, "empty": 0} {
		if _, err := s.SaveFile(ctx, trove.EventFile{ID: id, ContentType: "application/octet-stream", Filename: id}, bytes.NewReader(bytes.Repeat([]byte("ab"), size/2))); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SaveSchema(ctx, trove.RegisteredSchema{ID: "pg-test", Version: "1", Schema: []byte(`{"type":"object"}`)}); err != nil {
		t.Fatal(err)
	}
	return schema
}

func TestCheckSoundStore(t *testing.T) {
	schema := checkedStore(t)
	rep, err := postgres.Check(timeout(t, time.Minute), postgres.Options{DSN: testDSN, Schema: schema})
	if err != nil {
		t.Fatalf("%v\n%s", err, strings.Join(rep.Problems, "\n"))
	}
	want := postgres.Report{Head: 33, Events: 13, Versions: 33, Links: 11, Dangling: 1, Files: 2, Schemas: 1, Migration: 3}
	rep.Problems = nil
	if fmt.Sprint(rep) != fmt.Sprint(want) {
		t.Errorf("report %+v, want %+v", rep, want)
	}
}

// Each kind of damage is found and named; the check changes nothing.
func TestCheckFindsDamage(t *testing.T) {
	for _, tc := range []struct {
		name, damage, problem string
	}{
		{"hole", `DELETE FROM events WHERE position = 7`, "no event at position 7"},
		{"holes", `DELETE FROM events WHERE position IN (7, 8, 9)`, "no events at positions 7…9"},
		{"head behind", `UPDATE head SET position = 30`, "head: position 30, but the highest event position is 33"},
		{"head ahead", `UPDATE head SET position = 40`, "head: position 40"},
		{"no head", `DELETE FROM head`, "head: 0 rows"},
		{"latest", `UPDATE events SET latest = true WHERE id = 'c03' AND version = 1`, "event c03: 2 rows marked latest"},
		{"version gap", `DELETE FROM events WHERE position = (SELECT max(position) FROM events WHERE id = 'c04' AND version = 2)`, "event c04: 2 rows for versions 1…3"},
		{"links column", `UPDATE events SET links = '[{' WHERE id = 'c00' AND version = 1`, "event c00@1: column links"},
		{"files column", `UPDATE events SET files = 'x' WHERE id = 'c01' AND version = 1`, "event c01@1: column files"},
		{"payload", `UPDATE events SET payload = '{"n":' WHERE id = 'odd0'`, "event odd0@1 at position 31: payload"},
		{"payload json", `UPDATE events SET payload = '{"n":' WHERE id = 'c05' AND version = 1`, "payload_jsonb could not be compared"},
		{"metadata", `UPDATE events SET metadata = '{' WHERE id = 'c05' AND version = 1`, "metadata is not JSON"},
		{"jsonb", `UPDATE events SET payload_jsonb = '{"n":999}' WHERE id = 'c06' AND version = 1`, "payload_jsonb differs from the payload"},
		{"jsonb null", `UPDATE events SET payload_jsonb = NULL WHERE id = 'c06' AND version = 1`, "payload_jsonb is NULL, want set"},
		{"tsvector", `UPDATE events SET search_tsv = 'other'::tsvector WHERE id = 'c07' AND version = 1`, "search_tsv is 'other'"},
		{"tsvector null", `UPDATE events SET search_tsv = NULL WHERE id = 'c07' AND version = 1`, "search_tsv is NULL"},
		{"schema id", `UPDATE events SET schema_id = 'other' WHERE id = 'c08' AND version = 1`, `schema_id "other"`},
		{"schema document", `UPDATE schema_docs SET doc = '{"$id":1}'`, "schema document"},
		{"schema hash", `UPDATE schema_docs SET hash = 'x'`, "its hash column does not match"},
		{"schema missing", `UPDATE events SET schema_pk = 999 WHERE id = 'c09' AND version = 1`, "schema document 999 is not stored"},
		{"link source", `INSERT INTO links (source_id, source_version, type, target_id, target_version, own) VALUES ('ghost', 1, 't', 'c00', 0, false)`, "comes from ghost@1, which is not stored"},
		{"chunk bytes", `UPDATE file_chunks SET data = 'zz' WHERE file_id = 'big' AND n = 1`, "file big: its chunks hold 2502 bytes"},
		{"chunk missing", `DELETE FROM file_chunks WHERE file_id = 'big' AND n = 1`, "file big: chunk 2 follows chunk 0"},
		{"file size", `UPDATE files SET size = 1 WHERE id = 'empty'`, "file empty: its chunks hold 0 bytes"},
		{"migration missing", `DELETE FROM schema_migrations WHERE version = 2`, "version 2 (tsvector_written) is not applied"},
		{"migration unknown", `INSERT INTO schema_migrations (version, name) VALUES (99, 'future')`, "version 99 (future) is not one this build knows"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			schema := checkedStore(t)
			c := conn(t)
			ctx := timeout(t, time.Minute)
			if _, err := c.Exec(ctx, `SET search_path TO `+schema+`; `+tc.damage); err != nil {
				t.Fatal(err)
			}
			var before string
			snapshot := `SELECT md5(string_agg(x::text, ',' ORDER BY x::text)) FROM (SELECT e::text FROM events e UNION ALL SELECT h::text FROM head h UNION ALL SELECT l::text FROM links l) x`
			if err := c.QueryRow(ctx, snapshot).Scan(&before); err != nil {
				t.Fatal(err)
			}
			rep, err := postgres.Check(ctx, postgres.Options{DSN: testDSN, Schema: schema})
			if !errors.Is(err, trove.ErrCorrupt) {
				t.Fatalf("err %v, want ErrCorrupt; problems:\n%s", err, strings.Join(rep.Problems, "\n"))
			}
			if all := strings.Join(rep.Problems, "\n"); !strings.Contains(all, tc.problem) {
				t.Errorf("problems do not mention %q:\n%s", tc.problem, all)
			}
			var after string
			if err := c.QueryRow(ctx, snapshot).Scan(&after); err != nil {
				t.Fatal(err)
			}
			if after != before {
				t.Error("the check changed the store")
			}
		})
	}
}

// A check of a schema that does not exist creates nothing; bad options
// are refused.
func TestCheckCreatesNothing(t *testing.T) {
	ctx := timeout(t, time.Minute)
	schema := schemaFor(t.TempDir())
	_, err := postgres.Check(ctx, postgres.Options{DSN: testDSN, Schema: schema})
	if !errors.Is(err, trove.ErrNotFound) {
		t.Fatalf("err %v, want ErrNotFound", err)
	}
	var n int
	if err := conn(t).QueryRow(ctx, `SELECT count(*) FROM pg_namespace WHERE nspname = $1`, schema).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d schemas %s after the check (%v)", n, schema, err)
	}
	for _, o := range []postgres.Options{{DSN: testDSN, Schema: "Bad-Name"}, {DSN: "host=::nope port=x"}, {DSN: testDSN, Notify: "sometimes"}} {
		if _, err := postgres.Check(ctx, o); !errors.Is(err, trove.ErrInvalid) {
			t.Errorf("%+v: err %v, want ErrInvalid", o, err)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := postgres.Check(cctx, postgres.Options{DSN: testDSN, Schema: checkedStore(t)}); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: err %v", err)
	}
}
