package storagetest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/trovedb/trove"
)

func queryTests() []test {
	return []test{
		{"Filters", testQueryFilters},
		{"Sort", testQuerySort},
		{"Page", testQueryPage},
		{"JSON", testQueryJSON},
		{"Invalid", testQueryInvalid},
		{"ReadYourWrites", testQueryReadYourWrites},
	}
}

// fixture stores the query fixture: q1…q5 and q6 in two versions, with
// links saved with events and one added later.
func fixture(t *testing.T, k *kit) *store {
	s := k.open(t, "events")
	withLinks := k.caps[trove.CapLinks]
	add := func(id, sch, producer, created, payload string, links ...trove.EventLink) {
		e := ev(id, sch, payload)
		e.Producer = producer
		e.CreatedAt = at(created)
		if withLinks {
			e.Links = links
		}
		s.save(e)
	}
	link := func(typ, target string) trove.EventLink {
		return trove.EventLink{Type: typ, TargetEvent: trove.EventID{ID: target}}
	}
	add("q1", "kit.a", "p1", "2025-01-01T10:00:00.000Z",
		`{"status":"failed","amount":150,"author":{"name":"Jane Doe"},"n":1,"tags":["x","y"],"flag":true,"nil":null,"text":"disk full on host"}`)
	add("q2", "kit.b", "p2", "2025-01-01T23:59:59.999Z",
		`{"status":"ok","amount":50,"author":{"name":"john"},"n":1.0,"flag":false,"text":"all good"}`)
	add("q3", "kit.a", "p2", "2025-01-02T00:00:00.000Z",
		`{"status":"failed","amount":"150","n":"1","author":"Jane","text":"full disk"}`)
	add("q4", "kit.c", "p1", "2025-01-03T12:00:00.000Z",
		`{"status":null,"amount":100.5,"n":2,"author":{"name":{"first":"J"}},"obj":{"a":1},"arr":[1]}`, link("parent", "q1"))
	add("q5", "kit.a", "core", "2024-12-31T23:00:00.000Z",
		`{"amount":-3,"n":1e0}`, link("ref", "q2"), link("parent", "q3"))
	add("q6", "kit.b", "p1", "2025-01-02T12:00:00.000Z", `{"status":"old"}`)
	v2 := ev("q6", "kit.b", `{"status":"new"}`)
	v2.ID.Version = 2
	v2.Producer = "p1"
	v2.CreatedAt = at("2025-01-04T00:00:00.000Z")
	s.save(v2)
	if withLinks {
		noErr(t, "SaveLink", s.ls.SaveLink(s.ctx, trove.EventID{ID: "q2"}, link("later", "q5")))
	}
	return s
}

type queryCase struct {
	name  string
	q     trove.EventQuery
	want  string
	links bool // needs link storage
}

func runQueryCases(t *testing.T, s *store, cases []queryCase) {
	t.Helper()
	for _, c := range cases {
		if c.links && !s.k.caps[trove.CapLinks] {
			continue
		}
		got, err := s.ev.QueryEvents(s.ctx, c.q)
		if err != nil {
			t.Errorf("%s: QueryEvents(%s): %v", c.name, queryString(c.q), err)
			continue
		}
		if ids(got) != c.want {
			t.Errorf("%s: QueryEvents(%s) = %s, want %s", c.name, queryString(c.q), ids(got), c.want)
		}
	}
}

func crit(typ, target string) trove.LinkCriterion {
	c := trove.LinkCriterion{Type: typ}
	if target != "" {
		c.TargetEvent = &trove.EventID{ID: target}
	}
	return c
}

func testQueryFilters(t *testing.T, k *kit) {
	s := fixture(t, k)
	if !k.caps[trove.CapLinks] {
		t.Logf("not applicable: %s has no %s: link filters not tested", k.name, trove.CapLinks)
	}
	tr := func(start, end string) *trove.TimeRange { return &trove.TimeRange{Start: start, End: end} }
	pl := func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	runQueryCases(t, s, []queryCase{
		{name: "no filter", q: trove.EventQuery{}, want: "[q1 q2 q3 q4 q5 q6@2]"},
		{name: "all versions", q: trove.EventQuery{AllVersions: true}, want: "[q1 q2 q3 q4 q5 q6 q6@2]"},

		{name: "schema", q: trove.EventQuery{Schema: []string{"kit.a"}}, want: "[q1 q3 q5]"},
		{name: "schema list", q: trove.EventQuery{Schema: []string{"kit.a", "kit.c"}}, want: "[q1 q3 q4 q5]"},
		{name: "schema empty list", q: trove.EventQuery{Schema: []string{}}, want: "[]"},
		{name: "schema unknown", q: trove.EventQuery{Schema: []string{"kit.zzz"}}, want: "[]"},
		{name: "schema latest only", q: trove.EventQuery{Schema: []string{"kit.b"}}, want: "[q2 q6@2]"},
		{name: "schema all versions", q: trove.EventQuery{Schema: []string{"kit.b"}, AllVersions: true}, want: "[q2 q6 q6@2]"},

		{name: "producer", q: trove.EventQuery{Producer: []string{"p1"}}, want: "[q1 q4 q6@2]"},
		{name: "producer default", q: trove.EventQuery{Producer: []string{"core"}}, want: "[q5]"},
		{name: "producer list", q: trove.EventQuery{Producer: []string{"p1", "p2"}}, want: "[q1 q2 q3 q4 q6@2]"},
		{name: "producer empty list", q: trove.EventQuery{Producer: []string{}}, want: "[]"},

		{name: "time one day", q: trove.EventQuery{TimeRange: tr("2025-01-01", "2025-01-01")}, want: "[q1 q2]"},
		{name: "time start inclusive", q: trove.EventQuery{TimeRange: tr("2025-01-01T23:59:59.999Z", "")}, want: "[q2 q3 q4 q6@2]"},
		{name: "time end inclusive", q: trove.EventQuery{TimeRange: tr("", "2025-01-02T00:00:00.000Z")}, want: "[q1 q2 q3 q5]"},
		{name: "time offsets", q: trove.EventQuery{TimeRange: tr("2025-01-02T01:00:00+02:00", "2025-01-02T02:00:00.000+02:00")}, want: "[q2 q3]"},
		{name: "time negative offset", q: trove.EventQuery{TimeRange: tr("2024-12-31T18:00:00-05:00", "2024-12-31T18:00:00-05:00")}, want: "[q5]"},
		{name: "time start date", q: trove.EventQuery{TimeRange: tr("2025-01-03", "")}, want: "[q4 q6@2]"},
		{name: "time latest only", q: trove.EventQuery{TimeRange: tr("2025-01-02", "2025-01-02")}, want: "[q3]"},
		{name: "time all versions", q: trove.EventQuery{TimeRange: tr("2025-01-02", "2025-01-02"), AllVersions: true}, want: "[q3 q6]"},
		{name: "time empty range", q: trove.EventQuery{TimeRange: tr("2025-01-03", "2025-01-01")}, want: "[]"},
		{name: "time open", q: trove.EventQuery{TimeRange: tr("", "")}, want: "[q1 q2 q3 q4 q5 q6@2]"},

		{name: "link type", q: trove.EventQuery{Links: []trove.LinkCriterion{crit("parent", "")}}, want: "[q4 q5]", links: true},
		{name: "link target", q: trove.EventQuery{Links: []trove.LinkCriterion{crit("", "q1")}}, want: "[q4]", links: true},
		{name: "link type and target", q: trove.EventQuery{Links: []trove.LinkCriterion{crit("parent", "q3")}}, want: "[q5]", links: true},
		{name: "link one link must meet a criterion", q: trove.EventQuery{Links: []trove.LinkCriterion{crit("parent", "q2")}}, want: "[]", links: true},
		{name: "link every criterion", q: trove.EventQuery{Links: []trove.LinkCriterion{crit("parent", ""), crit("ref", "")}}, want: "[q5]", links: true},
		{name: "link any", q: trove.EventQuery{Links: []trove.LinkCriterion{{}}}, want: "[q2 q4 q5]", links: true},
		{name: "link empty target id", q: trove.EventQuery{Links: []trove.LinkCriterion{{TargetEvent: &trove.EventID{}}}}, want: "[q2 q4 q5]", links: true},
		{name: "link added later", q: trove.EventQuery{Links: []trove.LinkCriterion{crit("later", "q5")}}, want: "[q2]", links: true},
		{name: "link empty list", q: trove.EventQuery{Links: []trove.LinkCriterion{}}, want: "[q1 q2 q3 q4 q5 q6@2]", links: true},
		{name: "link unknown", q: trove.EventQuery{Links: []trove.LinkCriterion{crit("nope", "")}}, want: "[]", links: true},

		{name: "payload string", q: trove.EventQuery{Payload: pl("status", "failed")}, want: "[q1 q3]"},
		{name: "payload number", q: trove.EventQuery{Payload: pl("amount", 150)}, want: "[q1]"},
		{name: "payload string is not number", q: trove.EventQuery{Payload: pl("amount", "150")}, want: "[q3]"},
		{name: "payload numeric equality", q: trove.EventQuery{Payload: pl("n", 1)}, want: "[q1 q2 q5]"},
		{name: "payload numeric equality float", q: trove.EventQuery{Payload: pl("n", 1.0)}, want: "[q1 q2 q5]"},
		{name: "payload json number", q: trove.EventQuery{Payload: pl("amount", json.Number("1.005e2"))}, want: "[q4]"},
		{name: "payload negative", q: trove.EventQuery{Payload: pl("amount", -3)}, want: "[q5]"},
		{name: "payload dotted path", q: trove.EventQuery{Payload: pl("author.name", "Jane Doe")}, want: "[q1]"},
		{name: "payload case sensitive", q: trove.EventQuery{Payload: pl("author.name", "jane doe")}, want: "[]"},
		{name: "payload object at path", q: trove.EventQuery{Payload: pl("author.name", "J")}, want: "[]"},
		{name: "payload deep path", q: trove.EventQuery{Payload: pl("author.name.first", "J")}, want: "[q4]"},
		{name: "payload array at path", q: trove.EventQuery{Payload: pl("tags", "x")}, want: "[]"},
		{name: "payload explicit null", q: trove.EventQuery{Payload: pl("status", nil)}, want: "[q4]"},
		{name: "payload null elsewhere", q: trove.EventQuery{Payload: pl("nil", nil)}, want: "[q1]"},
		{name: "payload true", q: trove.EventQuery{Payload: pl("flag", true)}, want: "[q1]"},
		{name: "payload false", q: trove.EventQuery{Payload: pl("flag", false)}, want: "[q2]"},
		{name: "payload bool is not string", q: trove.EventQuery{Payload: pl("flag", "true")}, want: "[]"},
		{name: "payload missing path", q: trove.EventQuery{Payload: pl("nothing.here", 1)}, want: "[]"},
		{name: "payload every entry", q: trove.EventQuery{Payload: pl("status", "failed", "author.name", "Jane Doe")}, want: "[q1]"},
		{name: "payload latest only", q: trove.EventQuery{Payload: pl("status", "old")}, want: "[]"},
		{name: "payload all versions", q: trove.EventQuery{Payload: pl("status", "old"), AllVersions: true}, want: "[q6]"},
		{name: "payload empty map", q: trove.EventQuery{Payload: map[string]any{}}, want: "[q1 q2 q3 q4 q5 q6@2]"},

		{name: "search field term", q: trove.EventQuery{Search: "status:failed"}, want: "[q1 q3]"},
		{name: "search bare term", q: trove.EventQuery{Search: "disk"}, want: "[q1 q3]"},
		{name: "search case", q: trove.EventQuery{Search: "DISK"}, want: "[q1 q3]"},
		{name: "search phrase", q: trove.EventQuery{Search: `"disk full"`}, want: "[q1]"},
		{name: "search field phrase", q: trove.EventQuery{Search: `text:"full disk"`}, want: "[q3]"},
		{name: "search range", q: trove.EventQuery{Search: "amount:>100"}, want: "[q1 q4]"},
		{name: "search range inclusive", q: trove.EventQuery{Search: "amount:>=150"}, want: "[q1]"},
		{name: "search range below", q: trove.EventQuery{Search: "amount:<0"}, want: "[q5]"},
		{name: "search number term", q: trove.EventQuery{Search: "n:2"}, want: "[q4]"},
		{name: "search must and must not", q: trove.EventQuery{Search: "+status:failed -author.name:jane"}, want: "[q3]"},
		{name: "search should", q: trove.EventQuery{Search: "status:ok status:new"}, want: "[q2 q6@2]"},
		{name: "search must not only", q: trove.EventQuery{Search: "-status:failed"}, want: "[q2 q4 q5 q6@2]"},
		{name: "search dotted", q: trove.EventQuery{Search: "author.name:john"}, want: "[q2]"},
		{name: "search array", q: trove.EventQuery{Search: "tags:y"}, want: "[q1]"},

		{name: "combined schema producer time", q: trove.EventQuery{Schema: []string{"kit.a"}, Producer: []string{"p2"}, TimeRange: tr("", "2025-01-02")}, want: "[q3]"},
		{name: "combined links payload", q: trove.EventQuery{Schema: []string{"kit.a", "kit.c"}, Links: []trove.LinkCriterion{crit("parent", "")}, Payload: pl("n", 2)}, want: "[q4]", links: true},
		{name: "combined search payload", q: trove.EventQuery{Search: "status:failed", Payload: pl("amount", 150)}, want: "[q1]"},
		{name: "combined producer time all versions", q: trove.EventQuery{Producer: []string{"p1"}, TimeRange: tr("2025-01-02", ""), AllVersions: true}, want: "[q4 q6 q6@2]"},
	})
}

func testQuerySort(t *testing.T, k *kit) {
	s := fixture(t, k)
	by := func(fields ...string) []trove.SortField {
		var out []trove.SortField
		for i := 0; i < len(fields); i += 2 {
			out = append(out, trove.SortField{Field: fields[i], Direction: fields[i+1]})
		}
		return out
	}
	runQueryCases(t, s, []queryCase{
		{name: "none", q: trove.EventQuery{}, want: "[q1 q2 q3 q4 q5 q6@2]"},
		{name: "createdAt", q: trove.EventQuery{Sort: by("createdAt", "")}, want: "[q5 q1 q2 q3 q4 q6@2]"},
		{name: "createdAt asc", q: trove.EventQuery{Sort: by("createdAt", "asc")}, want: "[q5 q1 q2 q3 q4 q6@2]"},
		{name: "createdAt desc", q: trove.EventQuery{Sort: by("createdAt", "desc")}, want: "[q6@2 q4 q3 q2 q1 q5]"},
		{name: "producer ties in position order", q: trove.EventQuery{Sort: by("producer", "asc")}, want: "[q5 q1 q4 q6@2 q2 q3]"},
		{name: "producer desc ties in position order", q: trove.EventQuery{Sort: by("producer", "desc")}, want: "[q2 q3 q1 q4 q6@2 q5]"},
		{name: "schema", q: trove.EventQuery{Sort: by("schema", "asc")}, want: "[q1 q3 q5 q2 q6@2 q4]"},
		{name: "schema desc", q: trove.EventQuery{Sort: by("schema", "desc")}, want: "[q4 q2 q6@2 q1 q3 q5]"},
		{name: "id desc", q: trove.EventQuery{Sort: by("id", "desc")}, want: "[q6@2 q5 q4 q3 q2 q1]"},
		{name: "id asc all versions", q: trove.EventQuery{Sort: by("id", "asc"), AllVersions: true}, want: "[q1 q2 q3 q4 q5 q6 q6@2]"},
		{name: "version desc", q: trove.EventQuery{Sort: by("version", "desc")}, want: "[q6@2 q1 q2 q3 q4 q5]"},
		{name: "version desc all versions", q: trove.EventQuery{Sort: by("version", "desc"), AllVersions: true}, want: "[q6@2 q1 q2 q3 q4 q5 q6]"},
		{name: "position desc", q: trove.EventQuery{Sort: by("position", "desc")}, want: "[q6@2 q5 q4 q3 q2 q1]"},
		{name: "position asc", q: trove.EventQuery{Sort: by("position", "asc"), AllVersions: true}, want: "[q1 q2 q3 q4 q5 q6 q6@2]"},
		// amount: q1 150, q2 50, q3 "150", q4 100.5, q5 -3, q6 missing.
		// Numbers before strings; missing last in both directions.
		{name: "payload number", q: trove.EventQuery{Sort: by("payload.amount", "asc")}, want: "[q5 q2 q4 q1 q3 q6@2]"},
		{name: "payload number desc", q: trove.EventQuery{Sort: by("payload.amount", "desc")}, want: "[q3 q1 q4 q2 q5 q6@2]"},
		// status: q1 failed, q2 ok, q3 failed, q4 null, q5 missing, q6 new.
		{name: "payload string with null and missing", q: trove.EventQuery{Sort: by("payload.status", "asc")}, want: "[q4 q1 q3 q6@2 q2 q5]"},
		{name: "payload string desc", q: trove.EventQuery{Sort: by("payload.status", "desc")}, want: "[q2 q6@2 q1 q3 q4 q5]"},
		// author: an object everywhere but q3; objects count as missing.
		{name: "payload object is missing", q: trove.EventQuery{Sort: by("payload.author", "asc")}, want: "[q3 q1 q2 q4 q5 q6@2]"},
		{name: "payload object is missing desc", q: trove.EventQuery{Sort: by("payload.author", "desc")}, want: "[q3 q1 q2 q4 q5 q6@2]"},
		{name: "payload dotted", q: trove.EventQuery{Sort: by("payload.author.name", "desc")}, want: "[q2 q1 q3 q4 q5 q6@2]"},
		{name: "payload bool", q: trove.EventQuery{Sort: by("payload.flag", "desc")}, want: "[q1 q2 q3 q4 q5 q6@2]"},
		{name: "payload all missing", q: trove.EventQuery{Sort: by("payload.zzz", "desc")}, want: "[q1 q2 q3 q4 q5 q6@2]"},
		{name: "two keys", q: trove.EventQuery{Sort: by("producer", "asc", "createdAt", "desc")}, want: "[q5 q6@2 q4 q1 q3 q2]"},
		{name: "two keys payload", q: trove.EventQuery{Sort: by("payload.n", "asc", "id", "desc")}, want: "[q5 q2 q1 q4 q3 q6@2]"},
		{name: "sort with filter", q: trove.EventQuery{Schema: []string{"kit.a"}, Sort: by("createdAt", "desc")}, want: "[q3 q1 q5]"},
	})
}

func testQueryPage(t *testing.T, k *kit) {
	s := fixture(t, k)
	lim := trove.Limit
	desc := []trove.SortField{{Field: "position", Direction: "desc"}}
	runQueryCases(t, s, []queryCase{
		{name: "absent limit", q: trove.EventQuery{}, want: "[q1 q2 q3 q4 q5 q6@2]"},
		{name: "limit 0", q: trove.EventQuery{Limit: lim(0)}, want: "[]"},
		{name: "limit 2", q: trove.EventQuery{Limit: lim(2)}, want: "[q1 q2]"},
		{name: "limit beyond end", q: trove.EventQuery{Limit: lim(100)}, want: "[q1 q2 q3 q4 q5 q6@2]"},
		{name: "offset and limit", q: trove.EventQuery{Offset: 2, Limit: lim(2)}, want: "[q3 q4]"},
		{name: "offset to last", q: trove.EventQuery{Offset: 5}, want: "[q6@2]"},
		{name: "offset at end", q: trove.EventQuery{Offset: 6}, want: "[]"},
		{name: "offset beyond end", q: trove.EventQuery{Offset: 100, Limit: lim(3)}, want: "[]"},
		{name: "after sorting", q: trove.EventQuery{Sort: desc, Offset: 1, Limit: lim(2)}, want: "[q5 q4]"},
		{name: "after filtering", q: trove.EventQuery{Schema: []string{"kit.a"}, Offset: 1, Limit: lim(1)}, want: "[q3]"},
		{name: "all versions", q: trove.EventQuery{AllVersions: true, Offset: 5, Limit: lim(5)}, want: "[q6 q6@2]"},
	})
}

func testQueryJSON(t *testing.T, k *kit) {
	s := fixture(t, k)
	cases := []struct{ json, want string }{
		{`{}`, "[q1 q2 q3 q4 q5 q6@2]"},
		{`{"schema":"kit.a"}`, "[q1 q3 q5]"},
		{`{"schemaId":"kit.a"}`, "[q1 q3 q5]"},
		{`{"schemaId":["kit.a","kit.c"],"producer":"p1"}`, "[q1 q4]"},
		{`{"schema":[]}`, "[]"},
		{`{"producer":[]}`, "[]"},
		{`{"payload":{"n":1}}`, "[q1 q2 q5]"},
		{`{"payload":{"n":1.0,"author.name":"Jane Doe"}}`, "[q1]"},
		{`{"payload":{"status":null}}`, "[q4]"},
		{`{"timeRange":{"start":"2025-01-01","end":"2025-01-01"}}`, "[q1 q2]"},
		{`{"sort":[{"field":"createdAt","direction":"desc"}],"limit":2}`, "[q6@2 q4]"},
		{`{"sort":{"field":"payload.amount"},"offset":4}`, "[q3 q6@2]"},
		{`{"sort":"createdAt:desc","limit":2}`, "[q6@2 q4]"},
		{`{"sort":["payload.amount:asc"],"offset":4}`, "[q3 q6@2]"},
		{`{"search":"status:failed","allVersions":true}`, "[q1 q3]"},
		{`{"limit":0}`, "[]"},
	}
	for _, c := range cases {
		var q trove.EventQuery
		if err := json.Unmarshal([]byte(c.json), &q); err != nil {
			t.Errorf("unmarshal %s: %v", c.json, err)
			continue
		}
		got, err := s.ev.QueryEvents(s.ctx, q)
		if err != nil {
			t.Errorf("query %s: %v", c.json, err)
			continue
		}
		if ids(got) != c.want {
			t.Errorf("query %s = %s, want %s", c.json, ids(got), c.want)
		}
		// The query survives a JSON round trip.
		b, err := json.Marshal(q)
		noErr(t, "marshal query", err)
		var back trove.EventQuery
		noErr(t, "unmarshal query", json.Unmarshal(b, &back))
		if got2 := s.query(back); ids(got2) != c.want {
			t.Errorf("query %s (round trip %s) = %s, want %s", c.json, b, ids(got2), c.want)
		}
	}
}

func testQueryInvalid(t *testing.T, k *kit) {
	s := fixture(t, k)
	tr := func(start, end string) *trove.TimeRange { return &trove.TimeRange{Start: start, End: end} }
	bad := map[string]trove.EventQuery{
		"time words":          {TimeRange: tr("yesterday", "")},
		"time bad month":      {TimeRange: tr("2025-13-01", "")},
		"time bad day":        {TimeRange: tr("", "2025-02-30")},
		"time space":          {TimeRange: tr("2025-01-01 10:00:00Z", "")},
		"time no offset":      {TimeRange: tr("2025-01-01T10:00:00", "")},
		"time unix":           {TimeRange: tr("", "1735725600")},
		"payload object":      {Payload: map[string]any{"author": map[string]any{"name": "Jane"}}},
		"payload array":       {Payload: map[string]any{"tags": []any{"x"}}},
		"payload empty path":  {Payload: map[string]any{"a..b": 1}},
		"payload func":        {Payload: map[string]any{"a": func() {}}},
		"search no value":     {Search: "status:"},
		"search unterminated": {Search: `"disk full`},
		"search wildcard":     {Search: "stat*"},
		"search fuzzy":        {Search: "disk~2"},
		"search bad range":    {Search: "amount:>abc"},
		"sort unknown field":  {Sort: []trove.SortField{{Field: "title"}}},
		"sort empty path":     {Sort: []trove.SortField{{Field: "payload."}}},
		"sort bare payload":   {Sort: []trove.SortField{{Field: "payload"}}},
		"sort direction":      {Sort: []trove.SortField{{Field: "createdAt", Direction: "up"}}},
		"negative limit":      {Limit: trove.Limit(-1)},
		"negative offset":     {Offset: -1},
	}
	for name, q := range bad {
		_, err := s.ev.QueryEvents(s.ctx, q)
		wantErr(t, "query with "+name, err, trove.ErrInvalid)
	}
	badJSON := []string{
		`{"schema":5}`, `{"producer":{"a":1}}`, `{"payload":[1]}`, `{"payload":{"a":{"b":1}}}`,
		`{"sort":5}`, `{"sort":"createdAt:up"}`, `{"sort":[{"field":"createdAt","order":"desc"}]}`,
		`{"limit":-2}`, `{"timeRange":{"start":"soon"}}`, `{"schemas":"kit.a"}`, `{"timeRange":{"begin":"2025-01-01"}}`,
	}
	for _, j := range badJSON {
		var q trove.EventQuery
		err := json.Unmarshal([]byte(j), &q)
		if err == nil {
			_, err = s.ev.QueryEvents(s.ctx, q)
		}
		wantErr(t, "query "+j, err, trove.ErrInvalid)
	}
}

func testQueryReadYourWrites(t *testing.T, k *kit) {
	s := k.open(t, "events")
	base := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	for i := range 40 {
		e := ev(fmt.Sprintf("ryw-%03d", i), "kit.ryw", fmt.Sprintf(`{"i":%d,"word":"w%d"}`, i, i))
		e.CreatedAt = base.Add(time.Duration(i) * time.Minute)
		saved := s.save(e)
		checks := []trove.EventQuery{
			{Payload: map[string]any{"i": i}},
			{Search: fmt.Sprintf("word:w%d", i)},
			{TimeRange: &trove.TimeRange{Start: trove.FormatTime(e.CreatedAt), End: trove.FormatTime(e.CreatedAt)}},
			{Sort: []trove.SortField{{Field: "position", Direction: "desc"}}, Limit: trove.Limit(1)},
		}
		for _, q := range checks {
			got := s.query(q)
			if len(got) != 1 || got[0].ID != saved.ID || got[0].Position != saved.Position {
				t.Fatalf("query %s right after saving %s: %s", queryString(q), saved.ID, ids(got))
			}
		}
		if i%10 == 9 {
			v2 := e
			v2.ID.Version = 2
			v2.Payload = json.RawMessage(fmt.Sprintf(`{"i":%d,"word":"v%d"}`, i, i))
			s.save(v2)
			if got := s.query(trove.EventQuery{Payload: map[string]any{"i": i}}); ids(got) != fmt.Sprintf("[%s@2]", e.ID.ID) {
				t.Fatalf("query right after saving version 2 of %s: %s", e.ID.ID, ids(got))
			}
		}
	}
	if n := len(s.query(trove.EventQuery{Schema: []string{"kit.ryw"}})); n != 40 {
		t.Fatalf("%d events, want 40", n)
	}
}
