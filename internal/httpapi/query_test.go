package httpapi_test

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/internal/httpapi"
)

func TestQuery(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, httpapi.Options{})
		var batch []string
		for i := range 105 {
			producer := "even"
			if i%2 == 1 {
				producer = "odd"
			}
			batch = append(batch, fmt.Sprintf(`{"schema":%s,"payload":{"text":"t%03d","n":%d,"tag":"%s"},"producer":%q,"createdAt":"2025-01-%02dT12:00:00.000Z"}`,
				noteSchema, i, i, []string{"red", "blue", "green"}[i%3], producer, 1+i%28))
		}
		mustStatus(t, e.postJSON("/api/events/batch", "["+strings.Join(batch, ",")+"]"), 201)
		other := e.create(`{"schema":{"$id":"other+v1","type":"object"},"payload":{"n":"5"},"links":[{"type":"about","targetEvent":{"id":"x-1"}}]}`)

		// Default page, nextOffset, offset.
		evs, next := e.query("POST", `{}`)
		if len(evs) != 100 || next != 100 {
			t.Fatalf("default page: %d events, nextOffset %d", len(evs), next)
		}
		evs, next = e.query("POST", `{"offset":100}`)
		if len(evs) != 6 || next != -1 {
			t.Fatalf("last page: %d events, nextOffset %d", len(evs), next)
		}
		evs, next = e.query("POST", `{"limit":20000}`)
		if len(evs) != 106 || next != -1 {
			t.Fatalf("big limit: %d events, nextOffset %d", len(evs), next)
		}
		evs, next = e.query("POST", `{"limit":0}`)
		if len(evs) != 0 || next != -1 {
			t.Fatalf("limit 0: %d events, nextOffset %d", len(evs), next)
		}

		// POST and GET forms agree.
		pairs := []struct {
			post, get string
			want      int
		}{
			{`{"schema":"note+v1","producer":"odd","limit":1000}`, "?schema=note%2Bv1&producer=odd&limit=1000", 52},
			{`{"schemaId":["note+v1","other+v1"],"limit":1000}`, "?schema=note%2Bv1&schema=other%2Bv1&limit=1000", 106},
			{`{"schema":[]}`, "?schema=", 0},
			{`{"payload":{"n":7}}`, "?payload.n=7", 1},
			{`{"payload":{"n":"5"}}`, `?payload.n=%225%22`, 1},
			{`{"payload":{"tag":"red"},"limit":1000}`, "?payload.tag=red&limit=1000", 35},
			{`{"links":[{"type":"about","targetEvent":{"id":"x-1"}}]}`, "?link=about:x-1", 1},
			{`{"links":[{"type":"about"}]}`, "?link=about", 1},
			{`{"links":[{"targetEvent":{"id":"x-1"}}]}`, "?link=:x-1", 1},
			{`{"timeRange":{"start":"2025-01-02","end":"2025-01-02"},"limit":1000}`, "?start=2025-01-02&end=2025-01-02&limit=1000", 4},
			{`{"search":"tag:green +n:>100","limit":1000}`, "?" + url.Values{"search": {"tag:green +n:>100"}, "limit": {"1000"}}.Encode(), 4},
			{`{"sort":[{"field":"payload.n","direction":"desc"}],"limit":3}`, "?sort=payload.n:desc&limit=3", 3},
		}
		for _, p := range pairs {
			pe, _ := e.query("POST", p.post)
			ge, _ := e.query("GET", p.get)
			if len(pe) != p.want || !slices.Equal(ids(pe), ids(ge)) {
				t.Errorf("%s: POST %d events, GET %s %d events, want %d", p.post, len(pe), p.get, len(ge), p.want)
			}
		}
		evs, _ = e.query("GET", "?schema=note%2Bv1&sort=payload.n:desc,producer&limit=3")
		if got := texts(evs); strings.Join(got, ",") != "t104,t103,t102" {
			t.Fatalf("sorted: %v", got)
		}
		evs, _ = e.query("GET", "?sort=position:desc&limit=1")
		if evs[0].ID != other.ID {
			t.Fatalf("sort by position desc: %v", evs[0].ID)
		}

		// Versions.
		e.create(`{"schema":{"$id":"other+v1","type":"object"},"payload":{"n":"6"},"id":{"id":"` + other.ID.ID + `","version":2}}`)
		if evs, _ = e.query("GET", "?schema=other%2Bv1"); len(evs) != 1 || evs[0].ID.Version != 2 {
			t.Fatalf("latest versions only: %v", ids(evs))
		}
		if evs, _ = e.query("GET", "?schema=other%2Bv1&allVersions=true"); len(evs) != 2 {
			t.Fatalf("all versions: %v", ids(evs))
		}

		// Invalid queries.
		for _, body := range []string{
			`{"limit":-1}`, `{"offset":-3}`, `{"sort":[{"field":"nope"}]}`, `{"sort":[{"field":"id","direction":"up"}]}`,
			`{"timeRange":{"start":"last tuesday"}}`, `{"payload":{"a":{"b":1}}}`, `{"schema":5}`, `[1]`, `{"limit":`,
			`{"search":"a~2"}`,
		} {
			r := e.postJSON("/api/events/query", body)
			mustStatus(t, r, 400)
			if title, _ := r.errBody(t); title != "Invalid Request Format" {
				t.Errorf("%s: %s", body, r.body)
			}
		}
		for _, q := range []string{"?limit=-1", "?limit=x", "?offset=-1", "?limit=99999999999999999999999", "?allVersions=maybe",
			"?sort=nope", "?sort=id:up", "?start=tomorrow", "?payload.=1"} {
			mustStatus(t, e.get("/api/events"+q), 400)
		}
		// Absurd but valid.
		for _, q := range []string{"?offset=9223372036854775807", "?limit=9223372036854775807", "?search=" + url.QueryEscape(strings.Repeat("a ", 1000)),
			"?payload." + strings.Repeat("a.", 500) + "b=1"} {
			mustStatus(t, e.get("/api/events"+q), 200)
		}
		waitUp(t, e)
	})
}

func TestQueryPageLimits(t *testing.T) {
	e := newEnv(t, backends[0], httpapi.Options{DefaultPageSize: 4, MaxPageSize: 10})
	var batch []string
	for i := range 25 {
		batch = append(batch, note(fmt.Sprintf("t%02d", i), i))
	}
	mustStatus(t, e.postJSON("/api/events/batch", "["+strings.Join(batch, ",")+"]"), 201)
	if evs, next := e.query("GET", ""); len(evs) != 4 || next != 4 {
		t.Fatalf("default page: %d, next %d", len(evs), next)
	}
	// A limit over the maximum is lowered to it; nextOffset pages on.
	var all []trove.Event
	next := 0
	for next >= 0 {
		var evs []trove.Event
		evs, next = e.query("POST", fmt.Sprintf(`{"limit":1000,"offset":%d}`, next))
		if len(evs) > 10 {
			t.Fatalf("page of %d events over the maximum", len(evs))
		}
		all = append(all, evs...)
	}
	if len(all) != 25 || texts(all)[24] != "t24" {
		t.Fatalf("paged through %d events", len(all))
	}
}

func ids(evs []trove.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID.String()
	}
	return out
}
