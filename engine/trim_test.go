package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

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
			if !slices.Equal(eventPositions(got), want) {
				t.Fatalf("%s: %+v:\n got %v\nwant %v", when, q, eventPositions(got), want)
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
