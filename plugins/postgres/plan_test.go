package postgres_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/plugins/postgres"
)

// planEvents is the size of the table the plans are checked on.
const planEvents = 100_000

// Every filter is served by its index on a 100k-event table: EXPLAIN of
// the statement QueryEvents runs names the index. Filters select about 1%.
func TestQueryPlansUseIndexes(t *testing.T) {
	schema := schemaFor(t.TempDir())
	s := newStore(t, schema)
	ctx := timeout(t, 10*time.Minute)
	schemas := make([]trove.Schema, 100)
	for i := range schemas {
		schemas[i] = trove.MustSchema(fmt.Sprintf(`{"$id":"plan-%d+v1","type":"object"}`, i))
	}
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	const batch = 1000
	for b := 0; b < planEvents/batch; b++ {
		evs := make([]trove.Event, batch)
		for j := range evs {
			i := b*batch + j
			e := trove.Event{
				ID:        trove.EventID{ID: fmt.Sprintf("ev-%06d", i)},
				Schema:    schemas[i%100],
				Producer:  fmt.Sprintf("producer-%d", i%100),
				CreatedAt: base.Add(time.Duration(i) * time.Second),
				Payload:   json.RawMessage(fmt.Sprintf(`{"group":%d,"n":%d,"text":"word%d common words"}`, i%100, i, i%1000)),
			}
			if i%10 == 0 {
				e.Links = []trove.EventLink{{Type: fmt.Sprintf("type-%d", i%7), TargetEvent: trove.EventID{ID: fmt.Sprintf("ev-%06d", i/100)}}}
			}
			evs[j] = e
		}
		if _, err := s.SaveEvents(ctx, evs); err != nil {
			t.Fatal(err)
		}
	}
	c := conn(t)
	if _, err := c.Exec(ctx, `ANALYZE `+schema+`.events; ANALYZE `+schema+`.links`); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, `SET search_path TO `+schema); err != nil {
		t.Fatal(err)
	}
	explain := func(stmt string, args ...any) string {
		var plan []byte
		if err := c.QueryRow(ctx, `EXPLAIN (FORMAT JSON) `+stmt, args...).Scan(&plan); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
		return string(plan)
	}
	limit, one := 100, 1
	start, end := base.Add(50_000*time.Second), base.Add(50_999*time.Second)
	for _, tc := range []struct {
		name  string
		q     trove.EventQuery
		index string
	}{
		{"schema", trove.EventQuery{Schema: []string{"plan-7+v1"}, Limit: &limit}, "events_schema"},
		{"producer", trove.EventQuery{Producer: []string{"producer-7"}, Limit: &limit}, "events_producer"},
		{"schema and producer", trove.EventQuery{Schema: []string{"plan-7+v1"}, Producer: []string{"producer-7"}, Limit: &limit}, "events_schema_producer"},
		{"time", trove.EventQuery{TimeRange: &trove.TimeRange{Start: start.Format(time.RFC3339), End: end.Format(time.RFC3339)}}, "events_created"},
		{"payload", trove.EventQuery{Payload: map[string]any{"n": json.Number("4242")}}, "events_payload_bucket"},
		{"payload limit", trove.EventQuery{Payload: map[string]any{"text": "word7 common words"}, Limit: &limit}, "events_payload_bucket"},
		{"payload rare limit 1", trove.EventQuery{Payload: map[string]any{"n": json.Number("77777")}, Limit: &one}, "events_payload_bucket"},
		{"search", trove.EventQuery{Search: "word42"}, "events_search"},
		{"search limit", trove.EventQuery{Search: "+word42 common", Limit: &limit}, "events_search"},
		{"links", trove.EventQuery{Links: []trove.LinkCriterion{{Type: "type-3", TargetEvent: &trove.EventID{ID: "ev-000420"}}}}, "links_type"},
		{"link target limit", trove.EventQuery{Links: []trove.LinkCriterion{{TargetEvent: &trove.EventID{ID: "ev-000420"}}}, Limit: &limit}, "links_target"},
	} {
		stmt, args, err := postgres.QuerySQL(tc.q)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if plan := explain(stmt, args...); !strings.Contains(plan, `"`+tc.index+`"`) {
			t.Errorf("%s: the plan does not use %s:\n%s\n%s", tc.name, tc.index, stmt, plan)
		}
		got, err := s.QueryEvents(ctx, tc.q)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(got) == 0 {
			t.Errorf("%s: no results", tc.name)
		}
	}
	// A position window of a payload or search filter walks the primary
	// key, whatever the filter.
	for _, q := range []trove.EventQuery{
		{Payload: map[string]any{"text": "word7 common words"}, Limit: &limit},
		{Payload: map[string]any{"n": json.Number("77777")}, Limit: &one},
		{Search: "+word42 common", Limit: &limit},
	} {
		stmt, args, err := postgres.WalkSQL(q)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range [][2]int64{{0, 1000}, {40_000, 41_000}} { // the first window, read with the head, and a later one
			if plan := explain(stmt, append(args, w[0], w[1])...); !strings.Contains(plan, `"events_pkey"`) {
				t.Errorf("%+v: the window %v does not walk events_pkey:\n%s\n%s", q, w, stmt, plan)
			}
		}
	}
	// Position buckets of a payload term are read through
	// events_payload_bucket, for a common term (1%) as for a rare one.
	for _, q := range []trove.EventQuery{
		{Payload: map[string]any{"group": json.Number("7")}, Limit: &limit},
		{Payload: map[string]any{"n": json.Number("77777")}, Limit: &one},
		{Payload: map[string]any{"group": json.Number("7")}, Schema: []string{"plan-7+v1"}, Limit: &limit},
	} {
		stmt, args, doc, ok, err := postgres.BucketSQL(q)
		if err != nil || !ok {
			t.Fatalf("%+v: no bucket statement (%v)", q, err)
		}
		docs := []string{`{"b":4,"p":` + doc + `}`, `{"b":5,"p":` + doc + `}`}
		if plan := explain(stmt, append(args, int64(4<<13-1), int64(6<<13-1), docs)...); !strings.Contains(plan, `"events_payload_bucket"`) {
			t.Errorf("%+v: the buckets are not read through events_payload_bucket:\n%s\n%s", q, stmt, plan)
		}
	}
	ids64 := make([]string, 64) // the ids of a group of 64 saves
	for i := range ids64 {
		ids64[i] = fmt.Sprintf("ev-%06d", i*1500)
	}
	for _, tc := range []struct {
		name, stmt, index string
		args              []any
	}{
		{"get latest", `SELECT position FROM events e WHERE e.id = $1 ORDER BY e.version DESC LIMIT 1`, "events_id_version_key", []any{"ev-004242"}},
		{"get version", `SELECT position FROM events e WHERE e.id = $1 AND e.version = $2`, "events_id_version_key", []any{"ev-004242", 1}},
		{"links out", `SELECT seq FROM links WHERE source_id = $1 AND source_version = $2 ORDER BY seq`, "links_source", []any{"ev-004240", 1}},
		{"links in", `SELECT seq FROM links WHERE target_id = $1 ORDER BY seq`, "links_target", []any{"ev-000042"}},
		{"log page", `SELECT position FROM events e WHERE e.position > $1 ORDER BY e.position LIMIT 256`, "events_pkey", []any{int64(50_000)}},
		// An append's read of its ids' latest versions (under the head lock,
		// or ahead of it) and its clearing of the superseded latest flags.
		{"latest versions", postgres.LatestVersionsSQL, "events_id_version_key", []any{ids64}},
		{"clear latest", postgres.ClearLatestSQL, "events_id_version_key", []any{"ev-004242", 1}},
	} {
		if plan := explain(tc.stmt, tc.args...); !strings.Contains(plan, `"`+tc.index+`"`) {
			t.Errorf("%s: the plan does not use %s:\n%s", tc.name, tc.index, plan)
		}
	}
}
