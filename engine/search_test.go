package engine

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/trovedb/trove"
)

// TestSearch checks search queries against brute force while the bleve
// index covers the sealed part of the log and the rest is scanned.
func TestSearch(t *testing.T) {
	st := openStore(t, t.TempDir(), Options{SegmentSize: 16 << 10, BlockSize: 2 << 10})
	defer st.Close()
	ctx := context.Background()
	r := rand.New(rand.NewPCG(7, 8))
	texts := []string{"Disk full on /dev/sda1", "disk-full again", "all good", "FULL moon", "caf\u00e9 au lait", "don't panic", "3.14 is pi", "x"}
	var all []trove.Event
	for i := range 500 {
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
	for {
		more, err := st.srch.step()
		if err != nil {
			t.Fatal(err)
		}
		if !more {
			break
		}
	}
	if st.srch.upTo.Load() == 0 || uint64(st.srch.upTo.Load()) >= st.Last() {
		t.Fatalf("search index covers %d of %d events: want a sealed prefix", st.srch.upTo.Load(), st.Last())
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
		var want []uint64
		for _, e := range all {
			if c.Match(&e, nil) {
				want = append(want, e.Position)
			}
		}
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
	}
	// Reopening keeps the search index and what it covers.
	upTo := st.srch.upTo.Load()
	dir := st.Dir()
	st.Close()
	st2 := openStore(t, dir, Options{SegmentSize: 16 << 10, BlockSize: 2 << 10})
	defer st2.Close()
	if st2.srch.upTo.Load() < upTo {
		t.Fatalf("reopened search index covers %d, had %d", st2.srch.upTo.Load(), upTo)
	}
	got, err := st2.QueryEvents(ctx, trove.EventQuery{Search: "status:failed"})
	if err != nil || len(got) == 0 {
		t.Fatalf("after reopen: %d results, %v", len(got), err)
	}
}

func positions(evs []trove.Event) []uint64 {
	out := make([]uint64, len(evs))
	for i, e := range evs {
		out[i] = e.Position
	}
	return out
}
