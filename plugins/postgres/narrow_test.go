package postgres_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/trovedb/trove"
)

// Payloads jsonb or a tsvector cannot hold, and values SQL compares
// differently, still give exactly the reference results: SQL only narrows.
func TestNarrowingKeepsEveryMatch(t *testing.T) {
	s := newStore(t, schemaFor(t.TempDir()))
	ctx := timeout(t, time.Minute)
	deep := strings.Repeat(`{"d":`, 600) + `1` + strings.Repeat(`}`, 600)
	long := strings.Repeat("x", 3000)
	payloads := []string{
		`{"a":1}`, `{"a":1.0}`, `{"a":1e0}`, `{"a":"1"}`, `{"a":true}`, `{"a":null}`, `{}`, `{"a":[1]}`, `{"a":{"b":1}}`,
		`{"a":1e999999}`, `{"a":1e-999999}`, `{"a":123456789012345678901234567890}`,
		`{"s":"nul \u0000 here","a":1}`, `{"s":"pair \ud83d\ude00 ok"}`,
		`{"x":` + deep + `,"a":1}`,
		`{"t":"disk full on host-7"}`, `{"t":"Disk FULL"}`, `{"t":["disk","full"]}`, `{"t":{"u":"disk"}}`,
		`{"t":"` + long + ` disk"}`, `{"t":"ünïcödé wörds"}`, `{"n":100}`, `{"n":"100"}`, `{"b":false}`, `{"b":"false"}`,
		`{"a.b":1}`, `{"a":{"b":null}}`, `{"k\u0000":1}`,
	}
	for i, p := range payloads {
		if _, err := s.SaveEvent(ctx, ev(fmt.Sprintf("p%d", i), 1, p)); err != nil {
			t.Fatalf("payload %d: %v", i, err)
		}
	}
	all, err := s.QueryEvents(ctx, trove.EventQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(payloads) {
		t.Fatalf("%d events, want %d", len(all), len(payloads))
	}
	queries := []trove.EventQuery{
		{Payload: map[string]any{"a": json.Number("1")}},
		{Payload: map[string]any{"a": json.Number("1.00")}},
		{Payload: map[string]any{"a": json.Number("1e999999")}},
		{Payload: map[string]any{"a": json.Number("1e-999999")}},
		{Payload: map[string]any{"a": json.Number("123456789012345678901234567890")}},
		{Payload: map[string]any{"a": "1"}},
		{Payload: map[string]any{"a": true}},
		{Payload: map[string]any{"a": nil}},
		{Payload: map[string]any{"a.b": json.Number("1")}},
		{Payload: map[string]any{"a.b": nil}},
		{Payload: map[string]any{"s": "nul \u0000 here"}},
		{Payload: map[string]any{"k\u0000": json.Number("1")}},
		{Payload: map[string]any{"x." + strings.TrimSuffix(strings.Repeat("d.", 600), "."): json.Number("1")}},
		{Search: "disk"}, {Search: "DISK full"}, {Search: `"disk full"`}, {Search: "+disk -host"},
		{Search: "t:disk"}, {Search: "t.u:disk"}, {Search: long}, {Search: "wörds"}, {Search: "n:100"},
		{Search: "n:>50"}, {Search: "b:false"}, {Search: "-disk"}, {Search: "nothing disk"},
		{Search: "surrogate"}, {Search: "here"},
	}
	for _, q := range queries {
		c, err := q.Compile()
		if err != nil {
			t.Fatalf("%+v: %v", q, err)
		}
		var want []string
		for i := range all {
			if c.Match(&all[i], nil) {
				want = append(want, all[i].ID.ID)
			}
		}
		got, err := s.QueryEvents(ctx, q)
		if err != nil {
			t.Fatalf("%+v: %v", q, err)
		}
		var ids []string
		for _, e := range got {
			ids = append(ids, e.ID.ID)
		}
		if fmt.Sprint(ids) != fmt.Sprint(want) {
			t.Errorf("query %v %q: got %v, want %v", q.Payload, q.Search, ids, want)
		}
	}
}

// A limited query in position order is answered by its first keyset page
// when that page holds enough matches (or the whole log), and else read
// again page by page in one snapshot: either way its results are the
// unlimited query's, offset and limit applied.
func TestLimitedQueriesPage(t *testing.T) {
	s := newStore(t, schemaFor(t.TempDir()))
	ctx := timeout(t, time.Minute)
	var evs []trove.Event
	for i := range 300 {
		// SQL cannot test a string holding NUL: every row is a candidate,
		// and only one in 37 matches.
		k := `"x"`
		if i%37 == 36 {
			k = `"a\u0000b"`
		}
		e := ev(fmt.Sprintf("e%d", i%250), i/250+1, fmt.Sprintf(`{"k":%s,"n":%d}`, k, i))
		e.Producer = fmt.Sprintf("p%d", i%3)
		evs = append(evs, e)
	}
	for i := 0; i < len(evs); i += 50 {
		if _, err := s.SaveEvents(ctx, evs[i:i+50]); err != nil {
			t.Fatal(err)
		}
	}
	rare := map[string]any{"k": "a\u0000b"}
	for _, q := range []trove.EventQuery{
		{Payload: rare, Limit: trove.Limit(1)},
		{Payload: rare, Limit: trove.Limit(3), Offset: 1},
		{Payload: rare, Limit: trove.Limit(2), Sort: []trove.SortField{{Field: "position", Direction: "desc"}}},
		{Producer: []string{"p1"}, Limit: trove.Limit(5)},
		{Producer: []string{"p2"}, Limit: trove.Limit(20), Offset: 10},
		{Producer: []string{"p0"}, Limit: trove.Limit(500)},
		{Limit: trove.Limit(7), AllVersions: true},
	} {
		all := q
		all.Limit, all.Offset = nil, 0
		want, err := s.QueryEvents(ctx, all)
		if err != nil {
			t.Fatal(err)
		}
		want = want[min(q.Offset, len(want)):]
		want = want[:min(*q.Limit, len(want))]
		got, err := s.QueryEvents(ctx, q)
		if err != nil {
			t.Fatalf("%+v: %v", q, err)
		}
		if len(got) == 0 || positions(got) != positions(want) {
			t.Errorf("%+v: got %s, want %s", q, positions(got), positions(want))
		}
	}
}

func positions(evs []trove.Event) string {
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "%d/%s.%d ", e.Position, e.ID.ID, e.ID.Version)
	}
	return b.String()
}
