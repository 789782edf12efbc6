package postgres_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/plugins/postgres"
)

// Limited queries in position order with payload or search filters walk
// the log in windows, hand over to the GIN index when the filter turns out
// rare, and answer exactly the prefix (or, descending, the suffix) of the
// unlimited query whichever way they went.
func TestWalkAndHandOverGiveTheSameResults(t *testing.T) {
	s := newStore(t, schemaFor(t.TempDir()))
	ctx := timeout(t, 5*time.Minute)
	const n = 20_000
	for b := 0; b < n/1000; b++ {
		evs := make([]trove.Event, 1000)
		for j := range evs {
			i := b*1000 + j
			// One in 1,000 holds a string jsonb cannot (NUL): no
			// payload_jsonb, so a candidate of every payload term, found
			// by events_payload_unindexed, also in the bucket reads.
			z := ""
			if i%1000 == 7 {
				z = `,"z":"nul \u0000"`
			}
			evs[j] = ev(fmt.Sprintf("w%05d", i), 0, fmt.Sprintf(`{"g":%d,"h":%d,"m":%d,"n":%d,"t":"word%d common"%s}`, i%100, i%50, i%5, i, i%2000, z))
		}
		if _, err := s.SaveEvents(ctx, evs); err != nil {
			t.Fatal(err)
		}
	}
	// New versions clear the latest flag of old ones: windows hold fewer
	// rows than positions.
	for i := 0; i < 300; i++ {
		if _, err := s.SaveEvent(ctx, ev(fmt.Sprintf("w%05d", i*7), 2, fmt.Sprintf(`{"g":%d,"m":%d,"n":%d,"t":"again common"}`, i%100, i%5, i))); err != nil {
			t.Fatal(err)
		}
	}
	var windows, walkedOnly, handedOver, bucketWindows int
	var handOver bool
	postgres.SetWalked(s, func(_ int64, _ int, b, h bool) {
		windows++
		handOver = handOver || h
		if b {
			bucketWindows++
		}
	})
	for _, q := range []trove.EventQuery{
		{Payload: map[string]any{"m": json.Number("3")}},     // 20%
		{Payload: map[string]any{"g": json.Number("42")}},    // 1%
		{Payload: map[string]any{"h": json.Number("7")}},     // 2%: read by buckets
		{Payload: map[string]any{"n": json.Number("12345")}}, // one
		{Payload: map[string]any{"n": json.Number("-1")}},    // none
		{Search: "common"}, // all
		{Search: "word17"}, // 0.05%
		{Search: "again", Payload: map[string]any{"g": json.Number("3")}},
		{Payload: map[string]any{"g": json.Number("42")}, AllVersions: true},
	} {
		all, err := s.QueryEvents(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, desc := range []bool{false, true} {
			q, want := inOrder(q, all, desc)
			for _, lim := range [][2]int{{1, 0}, {100, 0}, {100, 150}, {1000, 0}, {5, 4000}} {
				limit, offset := lim[0], lim[1]
				lq := q
				lq.Limit, lq.Offset = &limit, offset
				windows, handOver = 0, false
				got, err := s.QueryEvents(ctx, lq)
				if err != nil {
					t.Fatal(err)
				}
				exp := want[min(offset, len(want)):min(offset+limit, len(want))]
				if !sameEvents(got, exp) {
					t.Errorf("%+v desc=%v limit %d offset %d: %d events, want %d", q, desc, limit, offset, len(got), len(exp))
				}
				if windows == 0 {
					t.Errorf("%+v: no window walked", lq)
				}
				if handOver {
					handedOver++
				} else {
					walkedOnly++
				}
			}
		}
	}
	if handedOver == 0 || walkedOnly == 0 || bucketWindows == 0 {
		t.Errorf("%d queries handed over to the index, %d walked alone, %d windows read by buckets: want every way exercised", handedOver, walkedOnly, bucketWindows)
	}
}

// inOrder returns q and its results all (in position order) in position
// order, or in descending position order when desc is set.
func inOrder(q trove.EventQuery, all []trove.Event, desc bool) (trove.EventQuery, []trove.Event) {
	want := slices.Clone(all)
	if desc {
		slices.Reverse(want)
		q.Sort = []trove.SortField{{Field: "position", Direction: "desc"}}
	}
	return q, want
}

func sameEvents(a, b []trove.Event) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Position != b[i].Position || a[i].ID != b[i].ID {
			return false
		}
	}
	return true
}

// A limited read of a payload term whose matches are spread evenly reads
// the buckets after its first window in one statement: they are sized for
// what the limit still needs (and a margin), counting of the first bucket
// only the positions the first window did not read. Sized for the whole
// first bucket, a term of 1 in 90 with a limit of 100 took a second
// statement.
func TestBucketsFillTheLimitAtOnce(t *testing.T) {
	s := newStore(t, schemaFor(t.TempDir()))
	ctx := timeout(t, 5*time.Minute)
	const n = 40_000
	densities := []int{60, 90, 120, 200}
	for b := 0; b < n/1000; b++ {
		evs := make([]trove.Event, 1000)
		for j := range evs {
			i := b*1000 + j
			p := "{"
			for k, d := range densities {
				if k > 0 {
					p += ","
				}
				p += fmt.Sprintf(`"e%d":%d`, d, i%d)
			}
			evs[j] = ev(fmt.Sprintf("b%05d", i), 0, p+"}")
		}
		if _, err := s.SaveEvents(ctx, evs); err != nil {
			t.Fatal(err)
		}
	}
	var bucketWindows int
	postgres.SetWalked(s, func(_ int64, _ int, b, _ bool) {
		if b {
			bucketWindows++
		}
	})
	used := 0
	for _, d := range densities {
		q := trove.EventQuery{Payload: map[string]any{fmt.Sprintf("e%d", d): json.Number("0")}}
		all, err := s.QueryEvents(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, desc := range []bool{false, true} {
			q, want := inOrder(q, all, desc)
			for _, limit := range []int{50, 100} {
				lq := q
				lq.Limit = &limit
				bucketWindows = 0
				got, err := s.QueryEvents(ctx, lq)
				if err != nil {
					t.Fatal(err)
				}
				if !sameEvents(got, want[:limit]) {
					t.Errorf("1 in %d, desc=%v, limit %d: %d events, want the first %d", d, desc, limit, len(got), limit)
				}
				if bucketWindows > 1 {
					t.Errorf("1 in %d, desc=%v, limit %d: %d bucket statements, want one", d, desc, limit, bucketWindows)
				}
				used += bucketWindows
			}
		}
	}
	if used == 0 {
		t.Error("no query read buckets")
	}
}
