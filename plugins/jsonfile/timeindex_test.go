package jsonfile

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/trovedb/trove"
)

// TestTimeIndexWalkMatchesFullSort runs queries sorted on createdAt with a
// limit through the time-index walk and through a full sort of the
// candidates, on events with many equal timestamps, several versions and
// links, and wants the same answers.
func TestTimeIndexWalkMatchesFullSort(t *testing.T) {
	ctx := context.Background()
	s, err := New(Options{Directory: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Initialize(ctx, nil); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(ctx)
	rng := rand.New(rand.NewPCG(7, 11))
	base := time.Date(2025, 4, 15, 8, 0, 0, 0, time.UTC)
	schemas := []trove.Schema{trove.MustSchema(`{"$id":"a"}`), trove.MustSchema(`{"$id":"b"}`)}
	var batch []trove.Event
	versions := map[string]int{}
	for i := range 300 {
		id := fmt.Sprintf("e%d", rng.IntN(120))
		versions[id]++
		e := trove.Event{
			ID:        trove.EventID{ID: id, Version: versions[id]},
			CreatedAt: base.Add(time.Duration(rng.IntN(40)) * time.Minute), // many ties
			Producer:  fmt.Sprintf("p%d", rng.IntN(3)),
			Schema:    schemas[rng.IntN(2)],
			Payload:   json.RawMessage(fmt.Sprintf(`{"n":%d}`, rng.IntN(5))),
		}
		if rng.IntN(4) == 0 {
			e.Links = []trove.EventLink{{Type: "ref", TargetEvent: trove.EventID{ID: fmt.Sprintf("e%d", rng.IntN(10))}}}
		}
		batch = append(batch, e)
		_ = i
	}
	if _, err := s.SaveEvents(ctx, batch); err != nil {
		t.Fatal(err)
	}
	for i := range 400 {
		q := trove.EventQuery{
			Sort:        []trove.SortField{{Field: "createdAt", Direction: []string{"asc", "desc"}[rng.IntN(2)]}},
			Limit:       trove.Limit(rng.IntN(30)),
			Offset:      rng.IntN(10),
			AllVersions: rng.IntN(2) == 0,
		}
		switch rng.IntN(5) {
		case 0:
			q.Schema = []string{"a"}
		case 1:
			q.Payload = map[string]any{"n": rng.IntN(5)}
		case 2:
			q.TimeRange = &trove.TimeRange{
				Start: trove.FormatTime(base.Add(time.Duration(rng.IntN(20)) * time.Minute)),
				End:   trove.FormatTime(base.Add(time.Duration(20+rng.IntN(20)) * time.Minute)),
			}
		case 3:
			q.Links = []trove.LinkCriterion{{TargetEvent: &trove.EventID{ID: fmt.Sprintf("e%d", rng.IntN(10))}}}
		}
		s.walkAbove = 0
		walked, err := s.QueryEvents(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		s.walkAbove = 1 << 30
		sorted, err := s.QueryEvents(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		pos := func(es []trove.Event) []uint64 {
			var out []uint64
			for _, e := range es {
				out = append(out, e.Position)
			}
			return out
		}
		if !slices.Equal(pos(walked), pos(sorted)) {
			qj, _ := json.Marshal(q)
			t.Fatalf("query %d %s:\nwalked %v\nsorted %v", i, qj, pos(walked), pos(sorted))
		}
	}
}
