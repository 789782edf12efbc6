package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/trovedb/trove"
)

// TestSearch checks search queries against brute force while the bleve
// index covers a prefix of the log and the rest is scanned.
func TestSearch(t *testing.T) {
	st := openStore(t, t.TempDir(), Options{SegmentSize: 16 << 10, BlockSize: 2 << 10})
	defer st.Close()
	ctx := context.Background()
	r := rand.New(rand.NewPCG(7, 8))
	texts := []string{"Disk full on /dev/sda1", "disk-full again", "all good", "FULL moon", "caf\u00e9 au lait", "don't panic", "3.14 is pi", "x"}
	var all []trove.Event
	for i := range 500 {
		if i == 450 {
			indexAllThenHold(t, st)
		}
		p := map[string]any{
			"status":  []string{"failed", "ok", "pending"}[r.IntN(3)],
			"message": texts[r.IntN(len(texts))],
			"amount":  json.Number([]string{"1", "100", "100.5", "1e3", "99.999", "-5", "123456789012345678901"}[r.IntN(7)]),
			"flag":    r.IntN(2) == 0,
			"user":    map[string]any{"name": []string{"Jane", "john smith", "J. Doe"}[r.IntN(3)], "tags": []any{"a b", r.IntN(3)}},
		}
		b, _ := json.Marshal(p)
		e := testEvent(i)
		e.Payload = b
		saved, err := st.SaveEvent(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, saved)
	}
	if st.srch.UpTo() == 0 || uint64(st.srch.UpTo()) >= st.Last() {
		t.Fatalf("search index covers %d of %d events: want a prefix", st.srch.UpTo(), st.Last())
	}
	queries := []string{
		"status:failed", "+status:failed -flag:true", `message:"disk full"`, "disk", "full -status:ok",
		"amount:>100", "amount:>=100", "amount:<=1e3", "amount:100", "amount:1000", "amount:123456789012345678901",
		"flag:true", "flag:FALSE", "user.name:jane", "user.name:smith", `"j doe"`, "user.tags:a", "user.tags:2",
		"caf\u00e9", "don", "pi", "3", "-status:pending", "status:ok status:pending", "+amount:<0 +flag:false", "moon user.name:john",
	}
	for _, s := range queries {
		q := trove.EventQuery{Search: s}
		c, err := q.Compile()
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		want := bruteForce(c, all)
		got, err := st.QueryEvents(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(positions(got), want) {
			t.Errorf("search %q:\n got %v\nwant %v", s, positions(got), want)
		}
		if _, _, ok := st.srch.Search(ctx, c.SearchQuery()); !ok && s != "-status:pending" {
			t.Errorf("search %q: the bleve index did not answer", s)
		}
		// Pages in position order are planned window by window, each
		// window's candidates from the index's range search.
		for _, eq := range []trove.EventQuery{
			{Search: s, Limit: trove.Limit(3)},
			{Search: s, Limit: trove.Limit(2), Offset: 1, Sort: []trove.SortField{{Field: "position", Direction: "desc"}}},
		} {
			c, err := eq.Compile()
			if err != nil {
				t.Fatal(err)
			}
			want := bruteForce(c, all)
			got, err := st.QueryEvents(ctx, eq)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(positions(got), want) {
				js, _ := json.Marshal(eq)
				t.Errorf("%s:\n got %v\nwant %v", js, positions(got), want)
			}
		}
		if bm, _, ok := st.srch.SearchRange(ctx, c.SearchQuery(), 100, 200); ok {
			full, _, _ := st.srch.Search(ctx, c.SearchQuery())
			full.RemoveRange(0, 100)
			full.RemoveRange(200, 1<<32)
			if !bm.Equals(full) {
				t.Errorf("search %q: range 100…199 gives %v, the whole search %v there", s, bm, full)
			}
		}
	}
	// Reopening keeps the search index and what it covers.
	st.srch.Resume()
	upTo := st.srch.UpTo()
	dir := st.Dir()
	st.Close()
	st2 := openStore(t, dir, Options{SegmentSize: 16 << 10, BlockSize: 2 << 10})
	defer st2.Close()
	if st2.srch.UpTo() < upTo {
		t.Fatalf("reopened search index covers %d, had %d", st2.srch.UpTo(), upTo)
	}
	got, err := st2.QueryEvents(ctx, trove.EventQuery{Search: "status:failed"})
	if err != nil || len(got) == 0 {
		t.Fatalf("after reopen: %d results, %v", len(got), err)
	}
}

// TestSearchTerms checks payload equalities on paths past the index's
// high-cardinality guard, which the bleve index narrows over the prefix it
// covers, and searches on strings bleve's dynamic mapping would take for
// dates, against brute force.
func TestSearchTerms(t *testing.T) {
	st := openStore(t, t.TempDir(), Options{SegmentSize: 16 << 10, BlockSize: 2 << 10, MaxPathValues: 4})
	defer st.Close()
	ctx := context.Background()
	r := rand.New(rand.NewPCG(3, 4))
	whens := []string{"2025-01-02", "2025-01-02T10:00:00Z", "Jan 2 2025", "2025"}
	var all []trove.Event
	for i := range 400 {
		if i == 350 {
			indexAllThenHold(t, st)
		}
		p := map[string]any{
			"trace": fmt.Sprintf("T-%d-x", r.IntN(40)),
			"when":  whens[r.IntN(len(whens))],
			"n":     json.Number([]string{"1", "1.0", "2", "3.5", "1e400", "7"}[r.IntN(6)]),
			"flag":  r.IntN(2) == 0,
			"_all":  []string{"a", "b"}[r.IntN(2)],
			// The name of the field the index keeps positions in.
			"_trove_pos": []any{"zebra", 3, 250}[r.IntN(3)],
			"deep":       map[string]any{"k": fmt.Sprintf("v%d", r.IntN(9)), "esc": []string{"a\"b", "été", ""}[r.IntN(3)]},
		}
		b, _ := json.Marshal(p)
		e := testEvent(i)
		e.Payload = b
		saved, err := st.SaveEvent(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, saved)
	}
	defer st.srch.Resume()
	if st.srch.UpTo() == 0 || uint64(st.srch.UpTo()) >= st.Last() {
		t.Fatalf("search index covers %d of %d events: want a prefix", st.srch.UpTo(), st.Last())
	}
	queries := []trove.EventQuery{
		{Payload: map[string]any{"trace": "T-5-x"}},
		{Payload: map[string]any{"trace": "t-5-X"}},
		{Payload: map[string]any{"trace": "T-7-x", "flag": false}},
		{Payload: map[string]any{"trace": "T-7-x"}, Limit: trove.Limit(1)},
		{Payload: map[string]any{"trace": "T-7-x"}, Limit: trove.Limit(2), Sort: []trove.SortField{{Field: "position", Direction: "desc"}}},
		{Payload: map[string]any{"when": "2025-01-02"}},
		{Payload: map[string]any{"when": "2025-01-02T10:00:00Z"}},
		{Payload: map[string]any{"when": "2025"}},
		{Payload: map[string]any{"n": 1}},
		{Payload: map[string]any{"n": json.Number("1e400")}},
		{Payload: map[string]any{"n": 3.5, "trace": "T-1-x"}},
		{Payload: map[string]any{"flag": true, "trace": "T-2-x"}},
		{Payload: map[string]any{"_all": "a", "trace": "T-3-x"}},
		{Payload: map[string]any{"deep.k": "v3", "trace": "T-4-x"}},
		{Payload: map[string]any{"deep.esc": "a\"b"}},
		{Payload: map[string]any{"deep.esc": "été"}},
		{Payload: map[string]any{"deep.esc": ""}},
		{Search: "_trove_pos:zebra"},
		{Search: "zebra", Limit: trove.Limit(2)},
		{Search: "_trove_pos:3", Limit: trove.Limit(2)},
		{Search: "_trove_pos:>200", Limit: trove.Limit(2)},
		{Search: "when:2025"},
		{Search: "when:jan"},
		{Search: `when:"2025 01 02"`},
	}
	for _, eq := range queries {
		c, err := eq.Compile()
		if err != nil {
			t.Fatalf("%+v: %v", eq, err)
		}
		want := bruteForce(c, all)
		got, err := st.QueryEvents(ctx, eq)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(positions(got), want) {
			js, _ := json.Marshal(eq)
			t.Errorf("%s:\n got %v\nwant %v", js, positions(got), want)
		}
	}
	// The bleve index narrows a high-cardinality equality to a superset of
	// its matches, far fewer than the covered events.
	c, _ := trove.EventQuery{Payload: map[string]any{"trace": "T-5-x"}}.Compile()
	bm, upTo, ok := st.srch.SearchTerms(ctx, c.PayloadTerms())
	if !ok || upTo == 0 {
		t.Fatal("SearchTerms did not answer")
	}
	n := 0
	for _, e := range all {
		if e.Position <= uint64(upTo) && c.Match(&e, nil) {
			n++
			if !bm.Contains(uint32(e.Position)) {
				t.Errorf("SearchTerms misses position %d", e.Position)
			}
		}
	}
	if n == 0 || bm.GetCardinality() > uint64(2*n) {
		t.Errorf("SearchTerms: %d candidates for %d matches", bm.GetCardinality(), n)
	}
}

// indexAllThenHold has the search index cover every event saved so far,
// then pauses it, so that events saved after it stay outside
// the index (scanned) until it resumes.
func indexAllThenHold(t *testing.T, st *Store) {
	t.Helper()
	for {
		more, err := st.srch.Step(true)
		if err != nil {
			t.Fatal(err)
		}
		if !more {
			break
		}
	}
	st.srch.Pause()
}

func positions(evs []trove.Event) []uint64 {
	out := make([]uint64, len(evs))
	for i, e := range evs {
		out[i] = e.Position
	}
	return out
}

// bruteForce is what a query must return over all: every event it
// matches, sorted and paged as it asks, by position.
func bruteForce(c *trove.CompiledQuery, all []trove.Event) []uint64 {
	var matches []trove.Event
	for _, e := range all {
		if c.Match(&e, nil) {
			matches = append(matches, e)
		}
	}
	c.SortEvents(matches)
	return positions(c.Page(matches))
}
