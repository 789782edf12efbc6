package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/trovedb/trove/internal/httpapi"
)

// JSON the store never accepts from a client — a repeated key at any
// depth, invalid UTF-8 in any string — is refused with 400 by every route
// that takes a JSON body, and stores nothing.
func TestStrictJSONBodies(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, httpapi.Options{})
		src := e.create(note("source", 1))
		links := "/api/events/" + src.ID.ID + "/links"
		bad := "\xff\xfe"
		cases := []struct{ name, path, body string }{
			{"create, repeated top-level key", "/api/events", `{"producer":"a","producer":"b","schema":` + noteSchema + `,"payload":{"text":"x"}}`},
			{"create, repeated payload key", "/api/events", `{"schema":` + noteSchema + `,"payload":{"text":"x","text":"y"}}`},
			{"create, bad UTF-8 in the producer", "/api/events", `{"producer":"` + bad + `","schema":` + noteSchema + `,"payload":{"text":"x"}}`},
			{"create, bad UTF-8 in the payload", "/api/events", `{"schema":` + noteSchema + `,"payload":{"text":"` + bad + `"}}`},
			{"batch, repeated key", "/api/events/batch", `[` + note("ok", 1) + `,{"schema":` + noteSchema + `,"payload":{"text":"x","n":1,"n":2}}]`},
			{"query, repeated key", "/api/events/query", `{"producer":"a","producer":"b"}`},
			{"query, bad UTF-8", "/api/events/query", `{"producer":"` + bad + `"}`},
			{"schema, repeated key", "/api/schemas", `{"id":"s","version":"1","schema":{"type":"object","type":"array"}}`},
			{"link, bad UTF-8", links, `{"type":"` + bad + `","targetEvent":{"id":"x"}}`},
			{"link, repeated key", links, `{"type":"a","type":"b","targetEvent":{"id":"x"}}`},
		}
		for _, c := range cases {
			r := e.postJSON(c.path, c.body)
			if r.status != http.StatusBadRequest {
				t.Fatalf("%s: status %d, want 400: %s", c.name, r.status, r.body)
			}
			_, details := r.errBody(t)
			if !strings.Contains(details, "duplicate key") && !strings.Contains(details, "UTF-8") {
				t.Fatalf("%s: details %q name neither problem", c.name, details)
			}
		}
		if all, _ := e.query("GET", "?allVersions=true"); len(all) != 1 {
			t.Fatalf("%d events stored after the refusals, want 1", len(all))
		}
		if r := e.get(links); !strings.Contains(string(r.body), "[]") {
			t.Fatalf("links after the refusals: %s", r.body)
		}
		if r := e.get("/api/schemas"); strings.Contains(string(r.body), `"s"`) {
			t.Fatalf("schemas after the refusals: %s", r.body)
		}
	})
}

// A misspelled filter is refused naming it, never read as "no filter";
// the POST form takes the same "field:direction" sort strings as the URL;
// shape errors are told without Go type names.
func TestUnknownQueryKeys(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, httpapi.Options{})
		e.create(note("a", 1))
		e.create(note("b", 2))
		for _, c := range []struct{ method, q, key string }{
			{"GET", "?shema=note%2Bv1", "shema"},
			{"GET", "?schema=note%2Bv1&lmit=1", "lmit"},
			{"POST", `{"schemas":"note+v1"}`, "schemas"},
			{"POST", `{"timeRange":{"begin":"2025-01-01"}}`, "begin"},
		} {
			var r response
			if c.method == "GET" {
				r = e.get("/api/events" + c.q)
			} else {
				r = e.postJSON("/api/events/query", c.q)
			}
			mustStatus(t, r, http.StatusBadRequest)
			if _, details := r.errBody(t); !strings.Contains(details, `"`+c.key+`"`) {
				t.Fatalf("%s %s: details %q do not name %q", c.method, c.q, details, c.key)
			}
		}
		r := e.get("/api/events/stream?from=0&shema=x")
		mustStatus(t, r, http.StatusBadRequest)

		evs, _ := e.query("POST", `{"sort":"payload.n:desc"}`)
		if got := texts(evs); strings.Join(got, ",") != "b,a" {
			t.Fatalf("POST sort string: %v", got)
		}
		for _, body := range []string{`{"sort":5}`, `{"limit":"ten"}`, `{"schema":{"a":1}}`, `{"links":"x"}`} {
			r := e.postJSON("/api/events/query", body)
			mustStatus(t, r, http.StatusBadRequest)
			_, details := r.errBody(t)
			for _, goWord := range []string{"Go value", "trove.", "[]", "json:", "struct", "int"} {
				if strings.Contains(details, goWord) && !strings.Contains(details, "integer") {
					t.Fatalf("%s: details %q speak Go (%q)", body, details, goWord)
				}
			}
		}
	})
}

// Prefer: return=minimal answers a create or a batch with ids and
// positions, not the events echoed.
func TestPreferReturnMinimal(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, httpapi.Options{})
		r := e.do("POST", "/api/events", strings.NewReader(note("one", 1)), "Content-Type", "application/json", "Prefer", "return=minimal")
		mustStatus(t, r, http.StatusCreated)
		if r.header.Get("Preference-Applied") != "return=minimal" || strings.Contains(string(r.body), "payload") ||
			!strings.Contains(string(r.body), `"position":1`) || !strings.Contains(string(r.body), `"version":1`) {
			t.Fatalf("minimal create: %s %v", r.body, r.header)
		}
		r = e.do("POST", "/api/events/batch", strings.NewReader("["+note("two", 2)+","+note("three", 3)+"]"),
			"Content-Type", "application/json", "Prefer", "handling=strict, return=minimal")
		mustStatus(t, r, http.StatusCreated)
		var got struct {
			Events []map[string]json.RawMessage `json:"events"`
		}
		r.json(t, &got)
		if len(got.Events) != 2 || len(got.Events[0]) != 2 || string(got.Events[1]["position"]) != "3" {
			t.Fatalf("minimal batch: %s", r.body)
		}
		// Without the preference the events are echoed whole.
		r = e.postJSON("/api/events/batch", "["+note("four", 4)+"]")
		if r.header.Get("Preference-Applied") != "" || !strings.Contains(string(r.body), `"payload"`) {
			t.Fatalf("full batch: %s", r.body)
		}
	})
}
