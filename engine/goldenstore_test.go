package engine

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/trovedb/trove"
)

// The golden store (testdata/store-v1) is a store directory written by the
// engine before sealed segments carried an index of their own: sealed
// segments, an index snapshot and a WAL tail. Opening a copy must answer
// exactly what the engine that wrote it answered (testdata/store-v1.json),
// whatever the engine now keeps beside its segments.
var updateGoldenStore = flag.Bool("update-store", false, "rewrite testdata/store-v1 and its answers")

const goldenStoreDir = "testdata/store-v1"

// goldenStoreEvent returns event i of the golden store: few schemas and
// producers, a payload path of one value per event (high cardinality), a
// path of seven values, links.
func goldenStoreEvent(i int) trove.Event {
	e := trove.Event{
		ID:        trove.EventID{ID: fmt.Sprintf("gs-%05d", i)},
		CreatedAt: time.UnixMilli(1_700_000_000_000 + int64(i)*60_000).UTC(),
		Producer:  fmt.Sprintf("producer-%d", i%3),
		Schema:    testSchema,
		Payload:   []byte(fmt.Sprintf(`{"order":"o-%05d","kind":"k%d","n":%d,"ok":%t,"user":{"tier":"t%d"}}`, i, i%7, i, i%2 == 0, i%4)),
	}
	if i%5 == 1 && i > 1 {
		e.Links = []trove.EventLink{{Type: []string{"parent", "caused-by"}[i%2], TargetEvent: trove.EventID{ID: fmt.Sprintf("gs-%05d", i/2)}}}
	}
	return e
}

const goldenStoreEvents = 3000

// writeGoldenStore writes the golden store into dir: batches of events,
// new versions of some, links added later, small segments so that most of
// the log is sealed.
func writeGoldenStore(t *testing.T, dir string) {
	ctx := context.Background()
	st := openStore(t, dir, Options{SegmentSize: 32 << 10, SearchIndex: "off"})
	for i := 0; i < goldenStoreEvents; i += 100 {
		var evs []trove.Event
		for j := i; j < i+100; j++ {
			evs = append(evs, goldenStoreEvent(j))
		}
		if _, err := st.SaveEvents(ctx, evs); err != nil {
			t.Fatal(err)
		}
		if i%500 == 0 {
			for k := i; k < i+100; k += 9 {
				e := goldenStoreEvent(k)
				e.ID.Version = 2
				e.Payload = []byte(fmt.Sprintf(`{"order":"o-%05d","kind":"k%d","n":%d,"ok":true,"user":{"tier":"t9"}}`, k, (k+1)%7, k))
				if _, err := st.SaveEvent(ctx, e); err != nil {
					t.Fatal(err)
				}
			}
			if err := st.SaveLink(ctx, trove.EventID{ID: fmt.Sprintf("gs-%05d", i+3)}, trove.EventLink{Type: "relates-to", TargetEvent: trove.EventID{ID: "gs-00007"}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A tail that stays in the WAL.
	for j := goldenStoreEvents; j < goldenStoreEvents+30; j++ {
		if _, err := st.SaveEvent(ctx, goldenStoreEvent(j)); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(filepath.Join(dir, "files"))
	os.Remove(filepath.Join(dir, "LOCK"))
}

// goldenStoreQueries are the queries whose answers the golden store keeps.
func goldenStoreQueries() []trove.EventQuery {
	return []trove.EventQuery{
		{},
		{AllVersions: true},
		{Producer: []string{"producer-1"}},
		{Payload: map[string]any{"kind": "k3"}},
		{Payload: map[string]any{"order": "o-01234"}},
		{Payload: map[string]any{"order": "o-00009"}, AllVersions: true},
		{Payload: map[string]any{"user.tier": "t9"}},
		{Payload: map[string]any{"ok": true, "kind": "k2"}, Producer: []string{"producer-0"}},
		{Payload: map[string]any{"n": 2999.0}},
		{Links: []trove.LinkCriterion{{Type: "parent"}}},
		{Links: []trove.LinkCriterion{{TargetEvent: &trove.EventID{ID: "gs-00007"}}}},
		{Links: []trove.LinkCriterion{{}}}, // any link
		{TimeRange: &trove.TimeRange{Start: "2023-11-15T00:00:00Z", End: "2023-11-15T12:00:00Z"}},
		{Sort: []trove.SortField{{Field: "createdAt", Direction: "desc"}}, Limit: trove.Limit(25)},
		{Sort: []trove.SortField{{Field: "position", Direction: "desc"}}, Limit: trove.Limit(10), Offset: 5},
		{Sort: []trove.SortField{{Field: "payload.n", Direction: "desc"}}, Limit: trove.Limit(7)},
	}
}

// goldenAnswers is what the golden store answers: per query the positions
// and ids of the events, and per looked-up id its position and version.
type goldenAnswers struct {
	Queries [][]string `json:"queries"`
	Gets    []string   `json:"gets"`
	Linked  []string   `json:"linked"`
}

func answerGolden(t *testing.T, st *Store) goldenAnswers {
	ctx := context.Background()
	var a goldenAnswers
	for i, q := range goldenStoreQueries() {
		evs, err := st.QueryEvents(ctx, q)
		if err != nil {
			t.Fatalf("query %d: %v", i, err)
		}
		list := []string{}
		for _, e := range evs {
			list = append(list, fmt.Sprintf("%d %s v%d", e.Position, e.ID.ID, e.ID.Version))
		}
		a.Queries = append(a.Queries, list)
	}
	for _, id := range []trove.EventID{{ID: "gs-00000"}, {ID: "gs-00009"}, {ID: "gs-00009", Version: 1}, {ID: "gs-02999"}, {ID: "gs-01501"}, {ID: "gs-99999"}} {
		e, err := st.GetEvent(ctx, id)
		if err != nil {
			a.Gets = append(a.Gets, fmt.Sprintf("%s: %v", id.ID, trove.ErrNotFound))
			continue
		}
		a.Gets = append(a.Gets, fmt.Sprintf("%s: %d v%d %s", id.ID, e.Position, e.ID.Version, e.Payload))
	}
	links, err := st.GetLinks(ctx, trove.EventID{ID: "gs-00007"}, trove.LinkOptions{Direction: trove.Incoming})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		a.Linked = append(a.Linked, fmt.Sprintf("%s %s", l.Type, l.TargetEvent.ID))
	}
	return a
}

func TestGoldenStoreOpensAndAnswers(t *testing.T) {
	answers := goldenStoreDir + ".json"
	if *updateGoldenStore {
		os.RemoveAll(goldenStoreDir)
		writeGoldenStore(t, goldenStoreDir)
		st := openStore(t, copyDir(t, goldenStoreDir), Options{SearchIndex: "off"})
		a := answerGolden(t, st)
		st.Close()
		data, _ := json.MarshalIndent(a, "", " ")
		if err := os.WriteFile(answers, append(data, '\n'), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(answers)
	if err != nil {
		t.Fatal(err)
	}
	var want goldenAnswers
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	for _, search := range []string{"off", "on"} {
		dir := copyDir(t, goldenStoreDir)
		if _, err := Check(context.Background(), dir); err != nil {
			t.Fatalf("check of the golden store: %v", err)
		}
		st := openStore(t, dir, Options{SearchIndex: search})
		got := answerGolden(t, st)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("search %s: the golden store answers\n%v\nwant\n%v", search, got, want)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		// Reopened after the engine wrote what it keeps now: the same.
		st = openStore(t, dir, Options{SearchIndex: search})
		if got := answerGolden(t, st); !reflect.DeepEqual(got, want) {
			t.Errorf("search %s, reopened: the golden store answers\n%v\nwant\n%v", search, got, want)
		}
		if _, err := st.Check(context.Background()); err != nil {
			t.Errorf("check after reopen: %v", err)
		}
		st.Close()
	}
}
