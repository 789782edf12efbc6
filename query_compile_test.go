package trove

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func mustQuery(t *testing.T, js string) *CompiledQuery {
	t.Helper()
	var q EventQuery
	if err := json.Unmarshal([]byte(js), &q); err != nil {
		t.Fatalf("unmarshal %s: %v", js, err)
	}
	c, err := q.Compile()
	if err != nil {
		t.Fatalf("compile %s: %v", js, err)
	}
	return c
}

func TestQueryInvalid(t *testing.T) {
	for _, js := range []string{
		`{"limit":-1}`,
		`{"offset":-3}`,
		`{"sort":[{"field":"nope"}]}`,
		`{"sort":[{"field":"createdAt","direction":"up"}]}`,
		`{"sort":[{"field":"payload."}]}`,
		`{"payload":{"a":{"b":1}}}`,
		`{"payload":{"a":[1]}}`,
		`{"payload":{"a..b":1}}`,
		`{"timeRange":{"start":"yesterday"}}`,
		`{"timeRange":{"end":"2025-13-01"}}`,
		`{"search":"wild*"}`,
	} {
		var q EventQuery
		err := json.Unmarshal([]byte(js), &q)
		if err == nil {
			_, err = q.Compile()
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", js, err)
		}
	}
	for _, js := range []string{`{"schema":5}`, `{"producer":{"a":1}}`, `{"payload":[1]}`, `{"limit":"x"}`} {
		var q EventQuery
		if err := json.Unmarshal([]byte(js), &q); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", js, err)
		}
	}
}

func TestQueryStringLists(t *testing.T) {
	q := mustQuery(t, `{"schemaId":"a","producer":[]}`)
	if !q.Schemas()["a"] || len(q.Schemas()) != 1 {
		t.Errorf("schemaId alias: %v", q.Schemas())
	}
	if q.Producers() == nil || !q.MatchesNothing() {
		t.Error("an empty producer list must match nothing")
	}
	if mustQuery(t, `{}`).Schemas() != nil {
		t.Error("absent schema must be no filter")
	}
	// A round trip through JSON keeps an empty list empty.
	var q2 EventQuery
	b, _ := json.Marshal(q.Source())
	if err := json.Unmarshal(b, &q2); err != nil || q2.Producer == nil || len(q2.Producer) != 0 {
		t.Errorf("round trip %s: %v %#v", b, err, q2.Producer)
	}
}

func event(t *testing.T, pos uint64, created string, payload string) Event {
	t.Helper()
	ts, err := ParseTime(created)
	if err != nil {
		t.Fatal(err)
	}
	return Event{ID: EventID{ID: "e", Version: 1}, Position: pos, CreatedAt: ts, Producer: "p",
		Schema: MustSchema(`{"$id":"s"}`), Payload: json.RawMessage(payload)}
}

func TestQueryTimeBounds(t *testing.T) {
	e := event(t, 1, "2025-04-15T23:59:59.999Z", `{}`)
	cases := []struct {
		q    string
		want bool
	}{
		{`{"timeRange":{"start":"2025-04-15","end":"2025-04-15"}}`, true},
		{`{"timeRange":{"end":"2025-04-15T23:59:59.999Z"}}`, true},
		{`{"timeRange":{"start":"2025-04-16"}}`, false},
		{`{"timeRange":{"start":"2025-04-16T01:59:59.999+02:00"}}`, true},
		{`{"timeRange":{"start":"2025-04-16T02:00:00+02:00"}}`, false},
		{`{"timeRange":{"end":"2025-04-15T23:59:59.998Z"}}`, false},
	}
	for _, c := range cases {
		if got := mustQuery(t, c.q).Match(&e, nil); got != c.want {
			t.Errorf("%s: %v, want %v", c.q, got, c.want)
		}
	}
}

func TestQueryPayloadEquality(t *testing.T) {
	e := event(t, 1, "2025-01-01T00:00:00Z", `{"n":1,"f":2.5,"s":"1","b":false,"z":null,"o":{"k":"v"},"a":[1]}`)
	cases := []struct {
		q    string
		want bool
	}{
		{`{"payload":{"n":1}}`, true},
		{`{"payload":{"n":1.0}}`, true},
		{`{"payload":{"n":1e0}}`, true},
		{`{"payload":{"n":"1"}}`, false},
		{`{"payload":{"s":1}}`, false},
		{`{"payload":{"s":"1"}}`, true},
		{`{"payload":{"f":2.50}}`, true},
		{`{"payload":{"b":false}}`, true},
		{`{"payload":{"b":null}}`, false},
		{`{"payload":{"z":null}}`, true},
		{`{"payload":{"missing":null}}`, false},
		{`{"payload":{"o":"v"}}`, false},
		{`{"payload":{"o.k":"v"}}`, true},
		{`{"payload":{"a":1}}`, false},
		{`{"payload":{"o.k":"v","n":2}}`, false},
	}
	for _, c := range cases {
		if got := mustQuery(t, c.q).Match(&e, nil); got != c.want {
			t.Errorf("%s: %v, want %v", c.q, got, c.want)
		}
	}
	// Go values work as query values too.
	q, err := EventQuery{Payload: map[string]any{"n": 1, "f": 2.5, "b": false}}.Compile()
	if err != nil || !q.Match(&e, nil) {
		t.Errorf("Go scalars: %v", err)
	}
}

func TestQueryLinks(t *testing.T) {
	links := []EventLink{{Type: "parent", TargetEvent: EventID{ID: "x"}}}
	e := event(t, 1, "2025-01-01T00:00:00Z", `{}`)
	cases := []struct {
		q     string
		links []EventLink
		want  bool
	}{
		{`{"links":[{"type":"parent"}]}`, links, true},
		{`{"links":[{"targetEvent":{"id":"x"}}]}`, links, true},
		{`{"links":[{"type":"parent","targetEvent":{"id":"y"}}]}`, links, false},
		{`{"links":[{}]}`, links, true},
		{`{"links":[{}]}`, nil, false},
		{`{"links":[]}`, nil, true},
		{`{"links":[{"type":"parent"},{"type":"child"}]}`, links, false},
	}
	for _, c := range cases {
		if got := mustQuery(t, c.q).Match(&e, c.links); got != c.want {
			t.Errorf("%s: %v, want %v", c.q, got, c.want)
		}
	}
}

func TestQuerySortAndPage(t *testing.T) {
	evs := []Event{
		event(t, 1, "2025-01-01T00:00:03Z", `{"v":2}`),
		event(t, 2, "2025-01-01T00:00:01Z", `{"v":"x"}`),
		event(t, 3, "2025-01-01T00:00:02Z", `{}`),
		event(t, 4, "2025-01-01T00:00:02Z", `{"v":10}`),
		event(t, 5, "2025-01-01T00:00:02Z", `{"v":{"o":1}}`),
	}
	order := func(q string) []uint64 {
		c := mustQuery(t, q)
		es := append([]Event(nil), evs...)
		c.SortEvents(es)
		es = c.Page(es)
		var ps []uint64
		for _, e := range es {
			ps = append(ps, e.Position)
		}
		return ps
	}
	check := func(q string, want ...uint64) {
		t.Helper()
		got := order(q)
		if len(got) != len(want) {
			t.Errorf("%s: %v, want %v", q, got, want)
			return
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%s: %v, want %v", q, got, want)
				return
			}
		}
	}
	check(`{}`, 1, 2, 3, 4, 5)
	check(`{"sort":[{"field":"createdAt"}]}`, 2, 3, 4, 5, 1)
	check(`{"sort":[{"field":"createdAt","direction":"desc"}]}`, 1, 3, 4, 5, 2)
	check(`{"sort":[{"field":"payload.v"}]}`, 1, 4, 2, 3, 5)
	check(`{"sort":[{"field":"payload.v","direction":"desc"}]}`, 2, 4, 1, 3, 5)
	check(`{"sort":[{"field":"position","direction":"desc"}],"offset":1,"limit":2}`, 4, 3)
	check(`{"limit":0}`)
	check(`{"offset":10}`)
}

func TestEventJSONShape(t *testing.T) {
	e := Event{ID: EventID{ID: "a", Version: 1}, Position: 3,
		CreatedAt: time.Date(2025, 4, 15, 8, 54, 58, 123456789, time.FixedZone("x", 3600)),
		Producer:  "web", Schema: MustSchema(`{"$id":"doc+v1","type":"object"}`), Payload: json.RawMessage(`{"a":1}`)}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":{"id":"a","version":1},"position":3,"createdAt":"2025-04-15T07:54:58.123Z","producer":"web","schema":{"$id":"doc+v1","type":"object"},"payload":{"a":1},"files":[],"links":[]}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	var back Event
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Schema.Identity() != "doc+v1" || !back.CreatedAt.Equal(e.CreatedAt.Truncate(time.Millisecond)) || back.Metadata != nil {
		t.Errorf("round trip: %+v", back)
	}
}

func TestSchemaIdentity(t *testing.T) {
	if s := MustSchema(`{"id":"doc","version":"1.0.0"}`); !s.IsReference() || s.Identity() != "doc" || s.RefVersion() != "1.0.0" {
		t.Errorf("reference: %+v", s)
	}
	if s := MustSchema(`{"id":"doc","version":2}`); !s.IsReference() || s.RefVersion() != "2" {
		t.Errorf("numeric reference version: %+v", s)
	}
	if s := MustSchema(`{"$id":"a","id":"b","type":"object"}`); s.IsReference() || s.Identity() != "a" {
		t.Errorf("$id wins: %+v", s)
	}
	for _, anon := range []string{`{}`, `{"type":"object"}`, `{"$id":"","type":"object"}`} {
		if s, err := NewSchema(json.RawMessage(anon)); err != nil || s.Identity() != "" || s.IsReference() {
			t.Errorf("NewSchema(%s) = %+v, %v: want an anonymous document", anon, s, err)
		}
	}
	for _, bad := range []string{`[]`, `"x"`, `null`, `{"$id":1}`} {
		if _, err := NewSchema(json.RawMessage(bad)); !errors.Is(err, ErrInvalid) {
			t.Errorf("NewSchema(%s) = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestPrepareAndValidateFileID(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 678901234, time.UTC)
	e, err := Prepare(Event{Schema: MustSchema(`{"$id":"s"}`), Payload: json.RawMessage(` { "a" : 1 } `)}, now)
	if err != nil {
		t.Fatal(err)
	}
	if e.ID.ID == "" || e.ID.Version != 1 || e.Producer != DefaultProducer || FormatTime(e.CreatedAt) != "2025-01-02T03:04:05.678Z" || string(e.Payload) != `{"a":1}` {
		t.Errorf("defaults: %+v", e)
	}
	for _, bad := range []Event{
		{Schema: MustSchema(`{"$id":"s"}`), Payload: json.RawMessage(`[1]`)},
		{Payload: json.RawMessage(`{}`)},
		{Schema: MustSchema(`{"$id":"s"}`), Payload: json.RawMessage(`{}`), Files: []EventFile{{ID: "../x"}}},
		{Schema: MustSchema(`{"$id":"s"}`), Payload: json.RawMessage(`{}`), Links: []EventLink{{Type: "t"}}},
		{Schema: MustSchema(`{"$id":"s"}`), Payload: json.RawMessage(`{}`), Metadata: json.RawMessage(`3`)},
	} {
		if _, err := Prepare(bad, now); !errors.Is(err, ErrInvalid) {
			t.Errorf("Prepare(%+v) = %v, want ErrInvalid", bad, err)
		}
	}
	for _, id := range []string{"", ".", "..", "../x", "a/b", "a\\b", "x\x00", string(make([]byte, 129))} {
		if err := ValidateFileID(id); !errors.Is(err, ErrInvalid) {
			t.Errorf("ValidateFileID(%q) = %v", id, err)
		}
	}
	if err := ValidateFileID("report-2025_v1.pdf"); err != nil {
		t.Error(err)
	}
}

func TestEventJSONKeepsHTMLCharacters(t *testing.T) {
	e := Event{ID: EventID{ID: "a", Version: 1}, Schema: MustSchema(`{"$id":"s"}`), Payload: json.RawMessage(`{"t":"<b>&</b>"}`)}
	b, err := e.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(b) || !strings.Contains(string(b), `"<b>&</b>"`) {
		t.Errorf("got %s", b)
	}
}
