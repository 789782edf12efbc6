package postgres_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/plugins/postgres"
)

// A walk remembers how common its filter was, and the next walk of the
// same filter starts from it: a 1% payload term reads its position
// buckets in its first statement, a 0.1% one goes to the GIN index at
// once, a common one walks one window sized for the limit. A remembered
// share that is wrong changes how rows are read, never the result.
func TestWalksStartFromRememberedRates(t *testing.T) {
	s := newStore(t, schemaFor(t.TempDir()))
	ctx := timeout(t, 5*time.Minute)
	const n = 60_000 // large enough that buckets beat the GIN index for 1%
	for b := 0; b < n/1000; b++ {
		evs := make([]trove.Event, 1000)
		for j := range evs {
			i := b*1000 + j
			// late: only in the last 2,000 positions.
			evs[j] = ev(fmt.Sprintf("r%05d", i), 0, fmt.Sprintf(`{"r":%d,"k":%d,"c":%d,"late":%t,"t":"w%d"}`, i%100, i%1000, i%5, i >= n-2000 && i%50 == 0, i%50))
		}
		if _, err := s.SaveEvents(ctx, evs); err != nil {
			t.Fatal(err)
		}
	}
	type step struct {
		window            int64
		buckets, handOver bool
	}
	var steps []step
	postgres.SetWalked(s, func(w int64, _ int, b, h bool) { steps = append(steps, step{w, b, h}) })
	limit := 100
	read := func(q trove.EventQuery, desc bool) []trove.Event {
		t.Helper()
		all, err := s.QueryEvents(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		q, want := inOrder(q, all, desc)
		q.Limit = &limit
		steps = steps[:0]
		got, err := s.QueryEvents(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if !sameEvents(got, want[:min(limit, len(want))]) {
			t.Fatalf("%+v desc=%v: %d events, not the first %d of %d", q, desc, len(got), limit, len(want))
		}
		return got
	}
	rare := trove.EventQuery{Payload: map[string]any{"r": json.Number("7")}} // 1%
	for _, desc := range []bool{false, true} {
		// Reading the whole result above walked nothing; a fresh Store
		// knows nothing of the filter.
		if desc {
			if err := postgres.SetRate(s, rare, 0, 0); err != nil {
				t.Fatal(err)
			}
		}
		read(rare, desc)
		if len(steps) < 2 || steps[0].buckets || steps[0].window != 1000 || !steps[1].buckets {
			t.Fatalf("rare term, desc=%v, nothing remembered: steps %v, want a window of 1,000 then buckets", desc, steps)
		}
		if r, ok, _ := postgres.Rate(s, rare); !ok || r < 0.005 || r > 0.02 {
			t.Fatalf("rare term, desc=%v: remembered %v %v, want about 0.01", desc, r, ok)
		}
		read(rare, desc)
		if len(steps) != 1 || !steps[0].buckets {
			t.Fatalf("rare term, desc=%v, remembered: steps %v, want one bucket read", desc, steps)
		}
	}
	rarer := trove.EventQuery{Payload: map[string]any{"k": json.Number("3")}} // 0.1%
	read(rarer, false)
	if last := steps[len(steps)-1]; len(steps) != 1 || !last.handOver {
		t.Fatalf("0.1%% term, nothing remembered: steps %v, want one window, then the GIN index", steps)
	}
	read(rarer, false)
	if len(steps) != 1 || steps[0] != (step{handOver: true}) {
		t.Fatalf("0.1%% term, remembered: steps %v, want the GIN index at once", steps)
	}
	common := trove.EventQuery{Payload: map[string]any{"c": json.Number("3")}} // 20%
	read(common, false)
	first := steps[0].window
	read(common, false)
	if len(steps) != 1 || steps[0].buckets || steps[0].window >= first {
		t.Fatalf("common term, remembered: steps %v, want one window smaller than the first (%d)", steps, first)
	}
	search := trove.EventQuery{Search: "w7"} // 2%
	read(search, false)
	read(search, false)
	if steps[0].window == 1000 {
		t.Fatalf("search term, remembered: steps %v, want the first window sized from the rate", steps)
	}
	// Wrong shares: a rare term taken for a common one, a common one for
	// one the GIN index serves best, or for one read by buckets, a term
	// found only at the end taken for one spread over the log, a log
	// taken for much shorter or longer. Each answers the same.
	late := trove.EventQuery{Payload: map[string]any{"late": true}}
	for _, c := range []struct {
		q    trove.EventQuery
		rate float64
		head int64
	}{
		{rare, 0.9, n},
		{common, 0.0001, n},
		{common, 0.01, n},
		{late, 0.01, n},
		{rare, 0.01, 10},
		{rarer, 0.001, 1 << 40},
	} {
		for _, desc := range []bool{false, true} {
			if err := postgres.SetRate(s, c.q, c.rate, c.head); err != nil {
				t.Fatal(err)
			}
			read(c.q, desc)
		}
	}
}
