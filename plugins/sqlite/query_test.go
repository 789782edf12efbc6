package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/trovedb/trove"
)

// TestPagerNeverOverflows feeds the pager offsets near math.MaxInt: it
// drops every match and holds none, instead of wrapping offset+limit to a
// negative count that meant "read and hold everything".
func TestPagerNeverOverflows(t *testing.T) {
	cases := []struct {
		name       string
		skip, keep int
		matches    int
		kept       []int // indexes of the matches kept
		full       bool  // the page is complete after the matches
	}{
		{"first page", 0, 3, 10, []int{0, 1, 2}, true},
		{"middle page", 4, 2, 10, []int{4, 5}, true},
		{"short last page", 8, 5, 10, []int{8, 9}, false},
		{"offset past the end", 20, 5, 10, nil, false},
		{"offset MaxInt-3, limit 10", math.MaxInt - 3, 10, 1000, nil, false},
		{"offset MaxInt, limit MaxInt", math.MaxInt, math.MaxInt, 1000, nil, false},
		{"offset 0, limit MaxInt", 0, math.MaxInt, 5, []int{0, 1, 2, 3, 4}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := pager{skip: tc.skip, keep: tc.keep}
			var kept []int
			for i := 0; i < tc.matches && !p.full(); i++ {
				if p.take() {
					kept = append(kept, i)
				}
			}
			if fmt.Sprint(kept) != fmt.Sprint(tc.kept) || p.full() != tc.full {
				t.Fatalf("kept %v (full %v), want %v (full %v)", kept, p.full(), tc.kept, tc.full)
			}
		})
	}
}

// TestQueryHugeOffset pages a store with offsets near math.MaxInt and
// ordinary ones, in position order and in a native sort: huge offsets give
// an empty page, ordinary ones exactly the page of the whole result.
func TestQueryHugeOffset(t *testing.T) {
	ctx := context.Background()
	s, err := New(Options{Path: filepath.Join(t.TempDir(), "trove.db")})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Initialize(ctx, nil); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(ctx)
	sc := trove.MustSchema(`{"$id":"page+v1","type":"object"}`)
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var batch []trove.Event
	for i := range 50 {
		batch = append(batch, trove.Event{
			ID:        trove.EventID{ID: fmt.Sprintf("e%02d", i)},
			CreatedAt: base.Add(time.Duration((i*7)%50) * time.Minute),
			Schema:    sc,
			Payload:   json.RawMessage(fmt.Sprintf(`{"i":%d,"odd":%v}`, i, i%2 == 1)),
		})
	}
	if _, err := s.SaveEvents(ctx, batch); err != nil {
		t.Fatal(err)
	}
	sorts := map[string][]trove.SortField{
		"position":       nil,
		"createdAt desc": {{Field: "createdAt", Direction: "desc"}},
	}
	for name, sort := range sorts {
		filters := map[string]map[string]any{"all": nil, "odd": {"odd": true}}
		for fname, payload := range filters {
			all, err := s.QueryEvents(ctx, trove.EventQuery{Sort: sort, Payload: payload})
			if err != nil {
				t.Fatal(err)
			}
			for _, pg := range [][2]int{{0, 5}, {3, 4}, {len(all) - 2, 10}, {len(all), 1}, {math.MaxInt - 3, 10}, {math.MaxInt, math.MaxInt}, {1, math.MaxInt}} {
				got, err := s.QueryEvents(ctx, trove.EventQuery{Sort: sort, Payload: payload, Offset: pg[0], Limit: trove.Limit(pg[1])})
				if err != nil {
					t.Fatalf("%s/%s offset %d limit %d: %v", name, fname, pg[0], pg[1], err)
				}
				var want []trove.Event
				if pg[0] < len(all) {
					want = all[pg[0]:]
					if pg[1] < len(want) {
						want = want[:pg[1]]
					}
				}
				if idsOf(got) != idsOf(want) {
					t.Fatalf("%s/%s offset %d limit %d: %s, want %s", name, fname, pg[0], pg[1], idsOf(got), idsOf(want))
				}
			}
		}
	}
}

func idsOf(events []trove.Event) string {
	s := ""
	for _, e := range events {
		s += e.ID.ID + " "
	}
	return s
}
