package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/trovedb/trove/internal/httpapi"
)

func TestAuth(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, httpapi.Options{Tokens: []string{"alpha", "beta"}})
		for _, h := range []string{"", "Bearer", "Bearer wrong", "Basic YWxwaGE6", "Bearer alph", "Bearer alphaa"} {
			r := e.do("POST", "/api/events", strings.NewReader(note("x", 1)), "Authorization", h)
			mustStatus(t, r, http.StatusUnauthorized)
			if title, _ := r.errBody(t); title != "Unauthorized" || r.header.Get("WWW-Authenticate") == "" {
				t.Fatalf("401 body %s", r.body)
			}
		}
		for _, path := range []string{"/api/events", "/api/events/x", "/api/schemas", "/api/files/x", "/api/openapi.json", "/api/events/stream"} {
			mustStatus(t, e.do("GET", path, nil, "Authorization", "Bearer nope"), 401)
		}
		mustStatus(t, e.do("POST", "/api/events", strings.NewReader(note("x", 1)), "Authorization", "Bearer alpha"), 201)
		mustStatus(t, e.do("GET", "/api/events", nil, "Authorization", "bearer beta"), 200)
		// /up (and /metrics) stay open.
		mustStatus(t, e.do("GET", "/up", nil), 200)
		mustStatus(t, e.do("GET", "/metrics", nil), 200)

		// Without tokens everything is open.
		open := newEnv(t, b, httpapi.Options{})
		mustStatus(t, open.do("POST", "/api/events", strings.NewReader(note("x", 1))), 201)
	})
}

func TestUnknownRoutes(t *testing.T) {
	e := newEnv(t, backends[0], httpapi.Options{})
	r := e.get("/nope")
	mustStatus(t, r, 404)
	if title, d := r.errBody(t); title != "Not Found" || !strings.HasPrefix(d, "no route") {
		t.Fatalf("%s %s", title, d)
	}
	r = e.do("DELETE", "/api/events/x", nil)
	mustStatus(t, r, http.StatusMethodNotAllowed)
	if r.header.Get("Allow") == "" {
		t.Fatal("405 without Allow")
	}
	r.errBody(t)
}

// TestMalformedInput throws garbage at every route; the server answers each
// with a 4xx and keeps answering /up.
func TestMalformedInput(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, httpapi.Options{MaxEventBytes: 64 << 10, MaxFileBytes: 64 << 10})
		ev := e.create(note("seed", 1))
		rng := rand.New(rand.NewPCG(1, 2))
		bodies := []string{"", "{", "}", "null", "[]", "[{}]", `{"schema":null,"payload":null}`, strings.Repeat("[", 20000) + strings.Repeat("]", 20000),
			`{"schema":{"$id":"x"},"payload":{"a":` + strings.Repeat(`{"a":`, 5000) + "1" + strings.Repeat("}", 5000) + "}}",
			"\x00\x01\x02\xff", `{"id":{"id":5}}`, `{"links":"x","schema":{"$id":"x"},"payload":{}}`, `{"files":[{"id":""}],"schema":{"$id":"x"},"payload":{}}`,
			`{"schema":{"$id":"x","type":"nonsense"},"payload":{}}`, `{"schema":{"$id":"x","$ref":"http://example.invalid/s.json"},"payload":{}}`}
		for range 40 {
			buf := make([]byte, rng.IntN(2000))
			for i := range buf {
				buf[i] = byte(rng.IntN(256))
			}
			bodies = append(bodies, string(buf))
		}
		posts := []string{"/api/events", "/api/events/batch", "/api/events/query", "/api/schemas", "/api/events/" + ev.ID.ID + "/links", "/api/files?id=m"}
		cts := []string{"application/json", "application/x-ndjson", "multipart/form-data; boundary=zz", "multipart/form-data", "text/plain", ""}
		for i, body := range bodies {
			for _, path := range posts {
				ct := cts[(i+len(path))%len(cts)]
				r := e.do("POST", path, strings.NewReader(body), "Content-Type", ct)
				if r.status >= 500 {
					t.Fatalf("POST %s (%s) %q…: %d %s", path, ct, body[:min(len(body), 40)], r.status, r.body)
				}
			}
		}
		queries := []string{"?from=99999999999999999999", "?link=::::", "?sort=" + strings.Repeat(",", 1000), "?schema=" + strings.Repeat("x", 10000)}
		queries = append(queries, "?payload.a=%00", "?payload.a=%01")
		for _, q := range queries {
			if r := e.get("/api/events" + q); r.status >= 500 {
				t.Fatalf("GET %s: %d %s", q, r.status, r.body)
			}
		}
		for _, p := range []string{"/api/events/%00", "/api/events/" + strings.Repeat("a", 5000), "/api/files/..%2f..%2fetc%2fpasswd/data", "/api/schemas/%ff"} {
			if r := e.get(p); r.status >= 500 {
				t.Fatalf("GET %s: %d %s", p, r.status, r.body)
			}
		}
		// A client that stops mid-request does not stop the server.
		c, err := net.Dial("tcp", strings.TrimPrefix(e.srv.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "POST /api/events HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"schema\":")
		waitUp(t, e)
		c.Close()
		waitUp(t, e)
		// Nothing above was a server error, not even for clients that had
		// gone before the answer.
		if m := e.get("/metrics"); strings.Contains(string(m.body), `code="5`) {
			t.Fatalf("server errors counted:\n%s", m.body)
		}
	})
}

func TestOpenAPI(t *testing.T) {
	e := newEnv(t, backends[0], httpapi.Options{})
	r := e.get("/api/openapi.json")
	mustStatus(t, r, 200)
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	r.json(t, &doc)
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	var documented []string
	for path, ops := range doc.Paths {
		for method, op := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+path)
			var o struct {
				Responses map[string]json.RawMessage
			}
			if err := json.Unmarshal(op, &o); err != nil || len(o.Responses) == 0 {
				t.Errorf("%s %s: no responses", method, path)
			}
		}
	}
	var registered []string
	for _, rt := range e.api.Routes() {
		registered = append(registered, rt.Pattern())
	}
	slices.Sort(documented)
	slices.Sort(registered)
	if !slices.Equal(documented, registered) {
		t.Fatalf("documented %v\nregistered %v", documented, registered)
	}
	// Every documented operation is answered by a real route (not the
	// server's "no route" 404/405), and the routes are all there.
	param := regexp.MustCompile(`\{[^}]+\}`)
	for _, op := range documented {
		method, path, _ := strings.Cut(op, " ")
		path = param.ReplaceAllString(path, "x")
		if strings.HasSuffix(path, "/stream") {
			path += "?from=notanumber" // answered at once
		}
		r := e.do(method, path, bytes.NewReader(nil))
		if r.status == 404 || r.status == 405 {
			var eb struct{ Details string }
			_ = json.Unmarshal(r.body, &eb)
			if strings.HasPrefix(eb.Details, "no route") {
				t.Errorf("%s: documented but not routed", op)
			}
		}
	}
	for _, want := range []string{"GET /up", "POST /api/events", "POST /api/events/batch", "GET /api/events/{id}", "POST /api/events/query",
		"GET /api/events", "GET /api/events/stream", "POST /api/schemas", "GET /api/schemas", "GET /api/schemas/{id}",
		"POST /api/events/{id}/links", "GET /api/events/{id}/links", "GET /api/events/{id}/linked", "POST /api/files",
		"GET /api/files/{id}", "GET /api/files/{id}/data", "GET /metrics", "GET /api/openapi.json"} {
		if !slices.Contains(documented, want) {
			t.Errorf("%s missing", want)
		}
	}
}

func TestMetrics(t *testing.T) {
	e := newEnv(t, backend{"stats", "storage-memory-stats", func(string) string { return "{}" }}, httpapi.Options{})
	e.create(note("a", 1))
	mustStatus(t, e.postJSON("/api/events/batch", "["+note("b", 2)+","+note("c", 3)+"]"), 201)
	mustStatus(t, e.get("/api/events/nope"), 404)
	r := e.get("/metrics")
	mustStatus(t, r, 200)
	body := string(r.body)
	for _, want := range []string{
		`trove_http_requests_total{code="201",route="POST /api/events"} 1`,
		`trove_http_requests_total{code="201",route="POST /api/events/batch"} 1`,
		`trove_http_requests_total{code="404",route="GET /api/events/{id}"} 1`,
		`trove_http_request_duration_seconds_count{route="POST /api/events"} 1`,
		`trove_events_saved_total 3`,
		`trove_storage_fsyncs{plugin="storage-memory"} 7`,
		`trove_storage_bytes_written{plugin="storage-memory"} 1024`,
		`trove_storage_index_lag{plugin="storage-memory"} 0`,
		`trove_storage_open_readers{plugin="storage-memory"} 2`,
		`trove_event_streams 0`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("metrics lack %q", want)
		}
	}
	_, _ = io.Discard.Write(nil)
}

func TestStorageFailure(t *testing.T) {
	e := newEnv(t, backend{"broken", "storage-memory-broken", func(string) string { return "{}" }}, httpapi.Options{})
	for _, r := range []response{
		e.postJSON("/api/events", note("x", 1)),
		e.postJSON("/api/events/batch", "["+note("x", 1)+"]"),
		e.postJSON("/api/events/query", "{}"),
	} {
		mustStatus(t, r, 500)
		if string(r.body) != `{"error":"Internal Server Error"}`+"\n" {
			t.Fatalf("500 body %q", r.body)
		}
	}
	waitUp(t, e)
}
