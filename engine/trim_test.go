package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/trovedb/trove"
)

// TestTrimmedPostings: once segments are sealed, the in-memory index keeps
// postings of the unsealed head only, and the segment indexes answer for
// the rest. Queries on every posting kind and incoming links (own links of
// sealed events, links added with SaveLink before and after the seal that
// sealed their source) give the answers of a brute-force scan, in save
// order, before and after a reopen (from the snapshot, without it, and
// with a segment index missing).
func TestTrimmedPostings(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	o := Options{SegmentSize: 8 << 10, SearchIndex: "off"}
	st := openStore(t, dir, o)
	var wantIn []string // incoming links of "hub", in save order
	event := func(i int) trove.Event {
		e := testEvent(i)
		if i%4 == 0 {
			e.Links = []trove.EventLink{{Type: []string{"a", "b"}[i%8/4], TargetEvent: trove.EventID{ID: "hub"}}}
			wantIn = append(wantIn, fmt.Sprintf("%s>%s", e.ID.ID, e.Links[0].Type))
		}
		return e
	}
	for i := range 400 {
		if _, err := st.SaveEvent(ctx, event(i)); err != nil {
			t.Fatal(err)
		}
		if i%37 == 36 {
			// An added link from an early event (sealed by now or later).
			src := trove.EventID{ID: testEvent(i / 3).ID.ID}
			if err := st.SaveLink(ctx, src, trove.EventLink{Type: "added", TargetEvent: trove.EventID{ID: "hub"}}); err != nil {
				t.Fatal(err)
			}
			wantIn = append(wantIn, src.ID+">added")
		}
	}
	check := func(st *Store, when string) {
		t.Helper()
		if st.ix.Trimmed() == 0 {
			t.Fatalf("%s: nothing trimmed", when)
		}
		links, err := st.GetLinks(ctx, trove.EventID{ID: "hub"}, trove.LinkOptions{Direction: trove.Incoming})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, l := range links {
			got = append(got, l.SourceEvent.ID+">"+l.Type)
		}
		if !slices.Equal(got, wantIn) {
			t.Fatalf("%s: incoming links\n got %v\nwant %v", when, got, wantIn)
		}
		queries := []trove.EventQuery{
			{Producer: []string{"producer-1"}},
			{Producer: []string{"producer-1", "producer-2"}, Limit: trove.Limit(7)},
			{Payload: map[string]any{"kind": "k3"}},
			{Payload: map[string]any{"kind": "k3"}, Limit: trove.Limit(5), Sort: []trove.SortField{{Field: "position", Direction: "desc"}}},
			{Links: []trove.LinkCriterion{{Type: "a"}}},
			{Links: []trove.LinkCriterion{{Type: "added"}}},
			{Links: []trove.LinkCriterion{{TargetEvent: &trove.EventID{ID: "hub"}}}, Limit: trove.Limit(20)},
			{Links: []trove.LinkCriterion{{}}},
			{Schema: []string{testSchema.Identity()}, Payload: map[string]any{"n": 250.0}},
		}
		for _, q := range queries {
			got, err := st.QueryEvents(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			want := scanQuery(t, st, q)
			if got := eventPositions(got); !slices.Equal(got, want) {
				t.Fatalf("%s: %+v: %d positions, want %d; first difference %s", when, q, len(got), len(want), firstDiff(got, want))
			}
		}
	}
	check(st, "after saving")
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = openStore(t, dir, o)
	check(st, "after a reopen")
	st.Close()
	os.Remove(filepath.Join(dir, "index.snap"))
	st = openStore(t, dir, o)
	check(st, "after a reopen without the snapshot")
	st.Close()
	idx, _ := filepath.Glob(filepath.Join(dir, "segments", "*.idx"))
	if len(idx) < 3 {
		t.Fatalf("%d segment indexes", len(idx))
	}
	os.Remove(idx[1])
	st = openStore(t, dir, o)
	check(st, "after a reopen with a segment index missing")
	st.Close()
}

// scanQuery answers q by checking every stored event against it.
func scanQuery(t *testing.T, st *Store, q trove.EventQuery) []uint64 {
	t.Helper()
	cq, err := q.Compile()
	if err != nil {
		t.Fatal(err)
	}
	var want []uint64
	err = st.Replay(context.Background(), 0, func(e trove.Event) error {
		links, err := st.GetLinks(context.Background(), e.ID, trove.LinkOptions{})
		if err != nil {
			return err
		}
		for i := range links {
			links[i].SourceEvent = nil
		}
		payload, err := trove.DecodePayload(e.Payload)
		if err != nil {
			return err
		}
		if !cq.AllVersions() {
			latest, err := st.GetEvent(context.Background(), trove.EventID{ID: e.ID.ID})
			if err != nil || latest.Position != e.Position {
				return err
			}
		}
		if cq.MatchDecoded(&e, payload, links) {
			want = append(want, e.Position)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(cq.SortKeys()) > 0 && cq.SortKeys()[0].Desc {
		slices.Reverse(want)
	}
	if l := cq.Limit(); l >= 0 && len(want) > l {
		want = want[:l]
	}
	return want
}

func eventPositions(evs []trove.Event) []uint64 {
	out := make([]uint64, len(evs))
	for i, e := range evs {
		out[i] = e.Position
	}
	return out
}

// TestDroppedColumns: with enough sealed events, whole column chunks of
// the in-memory index are dropped and read from the segment indexes: reads
// by id and version, time ranges, createdAt order and Check agree with a
// scan, after a reopen from the snapshot, and after a reopen with a
// segment index of the dropped columns missing (the snapshot is then
// refused and the index rebuilt from the log).
func TestDroppedColumns(t *testing.T) {
	if testing.Short() {
		t.Skip("ingests 40k events")
	}
	ctx := context.Background()
	dir := t.TempDir()
	o := Options{SegmentSize: 256 << 10, SearchIndex: "off"}
	st := openStore(t, dir, o)
	const n = 40_000
	for i := 0; i < n; i += 1000 {
		evs := make([]trove.Event, 0, 1000)
		for k := i; k < i+1000; k++ {
			e := testEvent(k)
			if k%10 == 9 {
				// A second version of an event ten before.
				e = testEvent(k - 9)
				e.ID.Version = 2
			}
			evs = append(evs, e)
		}
		if _, err := st.SaveEvents(ctx, evs); err != nil {
			t.Fatal(err)
		}
	}
	start := time.UnixMilli(1_700_000_000_000 + 5_000_000).UTC()
	queries := []trove.EventQuery{
		{TimeRange: &trove.TimeRange{Start: start.Format(time.RFC3339), End: start.Add(time.Hour).Format(time.RFC3339)}},
		{Producer: []string{"producer-2"}, Sort: []trove.SortField{{Field: "createdAt", Direction: "desc"}}, Limit: trove.Limit(30)},
		{Payload: map[string]any{"kind": "k4"}, AllVersions: true, Limit: trove.Limit(50), Sort: []trove.SortField{{Field: "position", Direction: "desc"}}},
	}
	check := func(st *Store, when string) {
		t.Helper()
		if st.ix.SealedColumns() == 0 {
			t.Fatalf("%s: no column chunk dropped", when)
		}
		for _, k := range []int{0, 10, 12345, 20000, 39990} {
			for v := 1; v <= 2-min(k%10, 1); v++ { // k%10 == 0: two versions
				e, err := st.GetEvent(ctx, trove.EventID{ID: testEvent(k).ID.ID, Version: v})
				if err != nil {
					t.Fatalf("%s: get %d@%d: %v", when, k, v, err)
				}
				if want := testEvent(k).CreatedAt; !e.CreatedAt.Equal(want) || e.ID.Version != v {
					t.Fatalf("%s: get %d@%d: %+v", when, k, v, e.ID)
				}
			}
		}
		for _, q := range queries {
			got, err := st.QueryEvents(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			want := scanQuery(t, st, q)
			if q.Sort != nil && q.Sort[0].Field == "createdAt" {
				want = byCreatedDesc(t, st, want, q)
			}
			if got := eventPositions(got); !slices.Equal(got, want) {
				t.Fatalf("%s: %+v: %d positions, want %d; first difference %s", when, q, len(got), len(want), firstDiff(got, want))
			}
		}
	}
	check(st, "after saving")
	st.Close()
	if _, err := Check(ctx, dir); err != nil {
		t.Fatalf("check: %v", err)
	}
	st = openStore(t, dir, o)
	check(st, "after a reopen")
	st.Close()
	idx, _ := filepath.Glob(filepath.Join(dir, "segments", "*.idx"))
	os.Remove(idx[0])
	st = openStore(t, dir, o)
	check(st, "after a reopen without the first segment index")
	st.Close()
	if _, err := os.Stat(idx[0]); err != nil {
		t.Fatalf("the missing segment index is not rebuilt: %v", err)
	}
}

// byCreatedDesc orders the whole scan of q by createdAt, newest first (ties
// by position), and pages it.
func byCreatedDesc(t *testing.T, st *Store, _ []uint64, q trove.EventQuery) []uint64 {
	t.Helper()
	all := q
	all.Sort, all.Limit = nil, nil
	pos := scanQuery(t, st, all)
	created := map[uint64]int64{}
	for _, p := range pos {
		e, err := st.eventAt(st.view.Load(), p)
		if err != nil {
			t.Fatal(err)
		}
		created[p] = e.CreatedAt.UnixMilli()
	}
	slices.SortStableFunc(pos, func(a, b uint64) int {
		if created[a] != created[b] {
			return int(created[b] - created[a])
		}
		return int(a) - int(b)
	})
	return pos[:min(len(pos), *q.Limit)]
}

func firstDiff(a, b []uint64) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("at %d: %d, want %d", i, a[i], b[i])
		}
	}
	return fmt.Sprintf("at %d (one ends)", min(len(a), len(b)))
}
