package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/internal/testservices"
	"github.com/trovedb/trove/plugins/postgres"
)

// saveBatches saves n events in batches of 1,000, with payloads the GIN
// indexes hold (a value and a word each).
func saveBatches(t *testing.T, s *postgres.Store, prefix string, n int) {
	t.Helper()
	ctx := timeout(t, 5*time.Minute)
	for b := 0; b < n; b += 1000 {
		evs := make([]trove.Event, min(1000, n-b))
		for j := range evs {
			i := b + j
			evs[j] = ev(fmt.Sprintf("%s%05d", prefix, i), 0, fmt.Sprintf(`{"n":%d,"t":"word%d"}`, i, i%50))
		}
		if _, err := s.SaveEvents(ctx, evs); err != nil {
			t.Fatal(err)
		}
	}
}

// pendingPages is what gin_clean_pending_list finds to move in the two GIN
// indexes of schema: 0 once the Store moved everything.
func pendingPages(t *testing.T, schema string) int64 {
	t.Helper()
	var a, b int64
	err := conn(t).QueryRow(timeout(t, time.Minute), `SELECT gin_clean_pending_list($1::regclass), gin_clean_pending_list($2::regclass)`,
		schema+".events_payload_bucket", schema+".events_search").Scan(&a, &b)
	if err != nil {
		t.Fatal(err)
	}
	return a + b
}

// A Store moves the GIN pending lists itself once appends pause: after a
// batch ingest nothing is left pending, and queries through the indexes
// find what was saved.
func TestPendingListsMovedAfterAppends(t *testing.T) {
	schema := schemaFor(t.TempDir())
	s := newStore(t, schema)
	saveBatches(t, s, "p", 6000)
	deadline := time.Now().Add(time.Minute)
	for {
		moves, stopped := postgres.PendingMoves(s)
		if stopped {
			t.Fatal("the owner of the indexes was refused gin_clean_pending_list")
		}
		if moves > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no pending-list move within a minute of the appends")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The last move follows the last append by the idle pause.
	deadline = time.Now().Add(time.Minute)
	for pendingPages(t, schema) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("rows still pending a minute after the appends")
		}
		time.Sleep(50 * time.Millisecond)
	}
	ctx := timeout(t, time.Minute)
	limit := 1000
	got, err := s.QueryEvents(ctx, trove.EventQuery{Payload: map[string]any{"t": "word7"}, Limit: &limit})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 120 {
		t.Errorf("payload query: %d events, want 120", len(got))
	}
	got, err = s.QueryEvents(ctx, trove.EventQuery{Search: "word7", Limit: &limit})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 120 {
		t.Errorf("search: %d events, want 120", len(got))
	}
}

// A role that does not own the indexes may not move their pending lists:
// its Store stops trying, and saves and queries go on (the server moves
// the lists inside inserts).
func TestPendingListsRefusedForAnotherRole(t *testing.T) {
	schema := schemaFor(t.TempDir())
	newStore(t, schema) // the owner applies the migrations
	c := conn(t)
	ctx := timeout(t, 5*time.Minute)
	role := "r_" + strings.TrimPrefix(schema, "t_")
	for _, stmt := range []string{
		`CREATE ROLE ` + role + ` LOGIN`,
		`GRANT CREATE ON DATABASE postgres TO ` + role,
		`GRANT USAGE, CREATE ON SCHEMA ` + schema + ` TO ` + role,
		`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ` + schema + ` TO ` + role,
		`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA ` + schema + ` TO ` + role,
	} {
		if _, err := c.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	t.Cleanup(func() {
		ctx := context.Background()
		_, _ = c.Exec(ctx, `DROP OWNED BY `+role)
		_, _ = c.Exec(ctx, `DROP ROLE `+role)
	})
	s := newStore(t, schema, func(o *postgres.Options) {
		o.DSN = strings.Replace(testDSN, "user="+testservices.PostgresUser, "user="+role, 1)
	})
	saveBatches(t, s, "q", 5000)
	deadline := time.Now().Add(time.Minute)
	for {
		moves, stopped := postgres.PendingMoves(s)
		if moves > 0 {
			t.Fatalf("%d moves by a role that does not own the indexes", moves)
		}
		if stopped {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the cleaner did not stop within a minute")
		}
		time.Sleep(20 * time.Millisecond)
	}
	saveBatches(t, s, "r", 1000)
	limit := 1000
	got, err := s.QueryEvents(ctx, trove.EventQuery{Payload: map[string]any{"t": "word7"}, Limit: &limit})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 120 {
		t.Errorf("payload query: %d events, want 120", len(got))
	}
}

// A Store that wrote a tenth of the events table (and at least 10,000
// rows) since its statistics were taken analyzes it once its appends
// pause, so the planner sees a bulk load at once; fewer rows since call
// for no new ANALYZE.
func TestTablesAnalyzedAfterBulkAppends(t *testing.T) {
	schema := schemaFor(t.TempDir())
	s := newStore(t, schema)
	lastAnalyze := func() (events, links bool) {
		t.Helper()
		err := conn(t).QueryRow(timeout(t, time.Minute), `SELECT
	(SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = 'events'),
	(SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = 'links')`, schema).Scan(&events, &links)
		if err != nil {
			t.Fatal(err)
		}
		return events, links
	}
	saveBatches(t, s, "a", 5000)
	time.Sleep(500 * time.Millisecond) // past the idle pause: the lists moved, below analyzeMin
	if n := postgres.Analyzes(s); n != 0 {
		t.Fatalf("%d ANALYZEs after 5,000 rows", n)
	}
	saveBatches(t, s, "b", 7000)
	deadline := time.Now().Add(time.Minute)
	for postgres.Analyzes(s) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no ANALYZE within a minute of 12,000 rows")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if events, links := lastAnalyze(); !events || !links {
		t.Fatalf("analyzed: events %v, links %v", events, links)
	}
	// 1,000 more rows are fewer than analyzeMin: no new ANALYZE.
	saveBatches(t, s, "c", 1000)
	time.Sleep(500 * time.Millisecond)
	if n := postgres.Analyzes(s); n != 1 {
		t.Fatalf("%d ANALYZEs, want 1", n)
	}
}
