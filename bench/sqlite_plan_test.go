package main

import (
	"context"
	"strings"
	"testing"
)

// The hand-tuned SQLite peer must answer every query shape of the
// benchmark through an index, or it would not be the best-practice setup
// the report claims.
func TestHandTunedSQLiteUsesItsIndexes(t *testing.T) {
	ctx := context.Background()
	st, err := openSQLite(ctx, t.TempDir(), quietLog)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(ctx)
	s := st.(*sqliteStore)
	plans := map[string]string{
		"SELECT pos FROM events e WHERE json_extract(e.payload, '$.status') = 'failed' ORDER BY e.pos LIMIT 100": "events_status",
		"SELECT pos FROM events e WHERE json_extract(e.payload, '$.traceId') = 't-1' LIMIT 1":                    "events_trace",
		"SELECT pos FROM events e WHERE e.schema_id = 'a' AND e.producer = 'b' ORDER BY e.pos LIMIT 100":         "events_schema_producer",
		"SELECT pos FROM events e WHERE e.created_at >= 1 AND e.created_at <= 2 ORDER BY e.pos LIMIT 100":        "events_created",
		"SELECT pos FROM events e ORDER BY e.created_at DESC, e.pos LIMIT 20":                                    "events_created",
		"SELECT pos FROM events e WHERE e.pos IN (SELECT source_pos FROM links WHERE target_id = 'x') LIMIT 100": "links_target",
	}
	for q, index := range plans {
		rows, err := s.r.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		if !strings.Contains(strings.Join(plan, "; "), index) {
			t.Errorf("%s\nplan %q does not use %s", q, plan, index)
		}
	}
}
