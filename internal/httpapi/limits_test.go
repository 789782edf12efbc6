package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/internal/httpapi"
	"github.com/trovedb/trove/plugins/memory"
)

// repeatReader yields head, then item over and over (up to n times, or
// without end when n < 0), then tail; it counts the bytes it gave out.
type repeatReader struct {
	head, item, tail []byte
	n                int
	buf              []byte
	read             atomic.Int64
}

func (r *repeatReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		switch {
		case r.head != nil:
			r.buf, r.head = r.head, nil
		case r.n != 0:
			r.buf = r.item
			if r.n > 0 {
				r.n--
			}
		case r.tail != nil:
			r.buf, r.tail = r.tail, nil
		default:
			return 0, io.EOF
		}
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	r.read.Add(int64(n))
	return n, nil
}

// eventCount is the number of event versions stored.
func eventCount(t *testing.T, core *trove.Core) int {
	t.Helper()
	events, err := core.QueryEvents(context.Background(), trove.EventQuery{AllVersions: true})
	if err != nil {
		t.Fatal(err)
	}
	return len(events)
}

// mustDetails fails unless r is a 400 whose details hold every part.
func mustDetails(t *testing.T, r response, parts ...string) {
	t.Helper()
	mustStatus(t, r, http.StatusBadRequest)
	title, details := r.errBody(t)
	if title != "Invalid Request Format" {
		t.Fatalf("title %q: %s", title, r.body)
	}
	for _, p := range parts {
		if !strings.Contains(details, p) {
			t.Fatalf("details %q lack %q", details, p)
		}
	}
}

// TestBatchCapWhileStreaming sends batches far larger than their caps, as
// bodies that never end or that are read lazily: the server answers each
// while the body is still arriving, having read a bounded part of it.
func TestBatchCapWhileStreaming(t *testing.T) {
	e := newEnv(t, backends[0], httpapi.Options{MaxBatchEvents: 10})
	ev := []byte(note("x", 1))
	post := func(ct string, body *repeatReader) response {
		t.Helper()
		return e.do("POST", "/api/events/batch", body, "Content-Type", ct)
	}
	// The read cap: what the server may have taken from a body it refused,
	// counting the kernel's socket buffers; far under the 32 MiB body cap a
	// whole-body decoder would reach first.
	const readCap = 16 << 20

	// A JSON array without end: refused at event 11, not at the body cap.
	body := &repeatReader{head: []byte("["), item: append(append([]byte{}, ev...), ','), n: -1}
	mustDetails(t, post("application/json", body), "at most 10 events")
	if n := body.read.Load(); n > readCap {
		t.Fatalf("read %d bytes of an endless array", n)
	}
	// NDJSON without end.
	body = &repeatReader{item: append(append([]byte{}, ev...), '\n'), n: -1}
	mustDetails(t, post("application/x-ndjson", body), "at most 10 events")
	if n := body.read.Load(); n > readCap {
		t.Fatalf("read %d bytes of endless NDJSON", n)
	}
	// 32 MiB of [{},{},…]: the first event is refused, the rest never read.
	body = &repeatReader{head: []byte("[{}"), item: []byte(",{}"), n: (32 << 20) / 3, tail: []byte("]")}
	r := post("application/json", body)
	mustDetails(t, r, "event 0", "must have required property 'schema'")
	if n := body.read.Load(); n > readCap {
		t.Fatalf("read %d bytes of a batch refused at its first event", n)
	}
	// Exactly at the cap is fine; shapes still checked.
	body = &repeatReader{head: []byte("["), item: append(append([]byte{}, ev...), ','), n: 9, tail: append(append([]byte{}, ev...), ']')}
	mustStatus(t, post("application/json", body), http.StatusCreated)
	for _, bad := range []struct{ body, detail string }{
		{`{}`, "must be array"},
		{`[`, "not valid JSON"},
		{`[` + note("x", 1), "not valid JSON"},
		{`[` + note("x", 1) + `] []`, "data after the array"},
		{`[` + note("x", 1) + `,]`, "not valid JSON"},
		{``, "not valid JSON"},
	} {
		mustDetails(t, e.postJSON("/api/events/batch", bad.body), bad.detail)
	}
	if n := eventCount(t, e.core); n != 10 {
		t.Fatalf("%d events stored, want the 10 of the one good batch", n)
	}
}

// TestIdentifierCaps sends an identifier one byte over the cap in every
// place a request names one: 400, naming the field and the cap, nothing
// stored; at the cap it is accepted.
func TestIdentifierCaps(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		const max = 40
		e := newEnv(t, b, httpapi.Options{MaxIdentifierBytes: max})
		long := strings.Repeat("i", max+1)
		ok := strings.Repeat("k", max)
		target := e.create(note("target", 1))
		e.postJSON("/api/schemas", `{"id":"reg","version":"1","schema":{"type":"object"}}`)
		withSchema := func(id string) string {
			return `{"schema":{"$id":"` + id + `","type":"object"},"payload":{}}`
		}
		field := func(name, value string) string {
			return `{"schema":{"$id":"s","type":"object"},"payload":{},` + jsonString(name) + `:` + value + `}`
		}
		before := eventCount(t, e.core)
		for _, c := range []struct {
			name, path, body, field string
		}{
			{"schema $id", "/api/events", withSchema(long), "Path /schema/$id"},
			{"schema reference id", "/api/events", `{"schema":{"id":"` + long + `","version":"1"},"payload":{}}`, "Path /schema/$id"},
			{"schema reference version", "/api/events", `{"schema":{"id":"reg","version":"` + long + `"},"payload":{}}`, "Path /schema/version"},
			{"producer", "/api/events", field("producer", jsonString(long)), "Path /producer"},
			{"event id", "/api/events", field("id", jsonString(long)), "Path /id"},
			{"event id object", "/api/events", field("id", `{"id":"`+long+`","version":1}`), "Path /id"},
			{"link type", "/api/events", field("links", `[{"type":"`+long+`","targetEvent":{"id":"`+target.ID.ID+`"}}]`), "Path /links/0/type"},
			{"link target", "/api/events", field("links", `[{"type":"t","targetEvent":{"id":"`+long+`"}}]`), "Path /links/0/targetEvent/id"},
			{"file id", "/api/events", field("files", `[{"id":"`+long+`"}]`), "Path /files/0/id"},
			{"batch producer", "/api/events/batch", `[` + note("a", 1) + `,` + field("producer", jsonString(long)) + `]`, "event 1: Path /producer"},
			{"added link type", "/api/events/" + target.ID.ID + "/links", `{"type":"` + long + `","targetEvent":{"id":"` + target.ID.ID + `"}}`, "Path /type"},
			{"added link target", "/api/events/" + target.ID.ID + "/links", `{"type":"t","targetEvent":{"id":"` + long + `"}}`, "Path /targetEvent/id"},
			{"added link source", "/api/events/" + long + "/links", `{"type":"t","targetEvent":{"id":"` + target.ID.ID + `"}}`, "event id"},
			{"registered schema id", "/api/schemas", `{"id":"` + long + `","version":"1","schema":{"type":"object"}}`, "Path /id"},
			{"registered schema version", "/api/schemas", `{"id":"r2","version":"` + long + `","schema":{"type":"object"}}`, "Path /version"},
			{"file id parameter", "/api/files?id=" + long, `bytes`, "id"},
		} {
			r := e.postJSON(c.path, c.body)
			if r.status != 400 {
				t.Fatalf("%s: status %d: %s", c.name, r.status, r.body)
			}
			mustDetails(t, r, c.field, fmt.Sprintf("at most %d bytes", max))
		}
		mustDetails(t, e.get("/api/events/"+long), "event id", "at most 40 bytes")
		form, ct := multipartBody(t, []formPart{
			{field: "schema", value: noteSchema}, {field: "payload", value: `{"text":"x"}`}, {field: "producer", value: long}})
		mustDetails(t, e.do("POST", "/api/events", form, "Content-Type", ct), "Path /producer")
		if n := eventCount(t, e.core); n != before {
			t.Fatalf("%d events after refused requests, want %d", n, before)
		}
		if _, err := e.core.GetFile(context.Background(), long); !errors.Is(err, trove.ErrNotFound) {
			t.Fatalf("refused file stored: %v", err)
		}
		// At the cap: accepted everywhere.
		mustStatus(t, e.postJSON("/api/events", `{"id":"`+ok+`","producer":"`+ok+`","schema":{"$id":"`+ok+`","type":"object"},"payload":{},`+
			`"links":[{"type":"`+ok+`","targetEvent":{"id":"`+target.ID.ID+`"}}]}`), 201)
		mustStatus(t, e.postJSON("/api/schemas", `{"id":"`+ok+`","version":"1","schema":{"type":"object"}}`), 201)
	})
}

// TestIdentifierCapDefault: a megabyte producer is refused by the default
// cap.
func TestIdentifierCapDefault(t *testing.T) {
	e := newEnv(t, backends[0], httpapi.Options{})
	r := e.postJSON("/api/events", `{"schema":{"$id":"s","type":"object"},"payload":{},"producer":"`+strings.Repeat("p", 1<<20)+`"}`)
	mustDetails(t, r, "Path /producer", fmt.Sprintf("at most %d bytes", httpapi.DefaultMaxIDBytes))
}

// TestSearchCaps: a search over the byte or clause cap is a 400 naming the
// cap, on POST and GET queries and on streams; at the caps it runs.
func TestSearchCaps(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, httpapi.Options{MaxSearchBytes: 200, MaxSearchClauses: 10})
		e.create(note("hello world", 1))
		atClauses := strings.TrimSpace(strings.Repeat("hello ", 10))
		overClauses := atClauses + " world"
		overBytes := "hello " + strings.Repeat("x", 200)
		for _, c := range []struct {
			search string
			detail string
		}{
			{overClauses, "at most 10 clauses"},
			{overBytes, "at most 200 bytes"},
			{strings.Repeat("+a -b ", 50), "at most 200 bytes"},
			{strings.Repeat("a:1 ", 11), "at most 10 clauses"},
		} {
			mustDetails(t, e.postJSON("/api/events/query", `{"search":`+jsonString(c.search)+`}`), "search", c.detail)
			mustDetails(t, e.get("/api/events?search="+url.QueryEscape(c.search)), "search", c.detail)
			mustDetails(t, e.get("/api/events/stream?search="+url.QueryEscape(c.search)), "search", c.detail)
		}
		events, _ := e.query("GET", "?search="+url.QueryEscape(atClauses))
		if len(events) != 1 {
			t.Fatalf("search at the clause cap found %d events", len(events))
		}
		events, _ = e.query("POST", `{"search":`+jsonString("hello "+strings.Repeat("y", 193))+`}`)
		if len(events) != 1 {
			t.Fatalf("search at the byte cap found %d events", len(events))
		}
	})
}

// TestSearchCapDefault: 100,000 clauses are refused by the default cap
// before the engine sees them.
func TestSearchCapDefault(t *testing.T) {
	e := newEnv(t, backends[1], httpapi.Options{})
	var sb strings.Builder
	for i := range 100_000 {
		fmt.Fprintf(&sb, "i:%d ", i)
	}
	mustDetails(t, e.postJSON("/api/events/query", `{"search":`+jsonString(sb.String())+`}`), "search", fmt.Sprintf("at most %d bytes", httpapi.DefaultMaxSearchBytes))
	// A query body is capped far below an event's: 413 before decoding.
	r := e.postJSON("/api/events/query", `{"search":"`+strings.Repeat("a", 2<<20)+`"}`)
	mustStatus(t, r, http.StatusRequestEntityTooLarge)
	if _, d := r.errBody(t); !strings.Contains(d, fmt.Sprint(httpapi.DefaultMaxQueryBytes)) {
		t.Fatalf("413 details %q", d)
	}
	sb.Reset()
	for i := range httpapi.DefaultMaxSearchClause + 1 {
		fmt.Fprintf(&sb, "i:%d ", i%10)
	}
	mustDetails(t, e.postJSON("/api/events/query", `{"search":`+jsonString(sb.String())+`}`), "search", fmt.Sprintf("at most %d clauses", httpapi.DefaultMaxSearchClause))
}

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestPanicRecovered: a handler that panics answers a JSON 500 (or the
// 4xx its panic value calls for), logs the panic once with its stack, is
// counted under that status, and the server goes on.
func TestPanicRecovered(t *testing.T) {
	var logs syncBuffer
	var panicWith atomic.Pointer[any]
	e := newEnv(t, backends[0], httpapi.Options{
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		SchemasChanged: func(context.Context) error {
			panic(*panicWith.Load())
		},
	})
	store := func(v any) { panicWith.Store(&v) }
	store("registry hook exploded")
	r := e.postJSON("/api/schemas", `{"id":"p1","version":"1","schema":{"type":"object"}}`)
	mustStatus(t, r, http.StatusInternalServerError)
	if title, _ := r.errBody(t); title != "Internal Server Error" {
		t.Fatalf("title %q", title)
	}
	if strings.Contains(string(r.body), "exploded") {
		t.Fatalf("panic value sent to the client: %s", r.body)
	}
	out := logs.String()
	if n := strings.Count(out, "registry hook exploded"); n != 1 {
		t.Fatalf("panic logged %d times:\n%s", n, out)
	}
	if !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "runtime/debug.Stack") || !strings.Contains(out, "handleSchemaPost") {
		t.Fatalf("panic logged without its stack:\n%s", out)
	}
	// A panic with a body-size error is that error's 413.
	store(&http.MaxBytesError{Limit: 7})
	mustStatus(t, e.postJSON("/api/schemas", `{"id":"p2","version":"1","schema":{"type":"object"}}`), http.StatusRequestEntityTooLarge)

	// The server goes on, and the metrics count each under its status.
	waitUp(t, e)
	e.create(note("after", 1))
	m := string(e.get("/metrics").body)
	for _, want := range []string{
		`trove_http_requests_total{code="500",route="POST /api/schemas"} 1`,
		`trove_http_requests_total{code="413",route="POST /api/schemas"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Fatalf("metrics lack %s:\n%s", want, grepLines(m, "trove_http_requests_total"))
		}
	}
	if strings.Contains(m, `trove_http_requests_total{code="200",route="POST /api/schemas"}`) {
		t.Fatal("a panicking request counted as 200")
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestTokenChecks: blank tokens are refused, short ones logged, and
// /metrics goes behind the tokens on request.
func TestTokenChecks(t *testing.T) {
	core := openMemory(t)
	for _, tokens := range [][]string{{""}, {"   "}, {"a-good-long-token-0123", ""}, {" padded-token-0123456 "}} {
		if _, err := httpapi.New(core, httpapi.Options{Tokens: tokens}); err == nil {
			t.Fatalf("tokens %q accepted", tokens)
		}
	}
	var logs syncBuffer
	_, err := httpapi.New(core, httpapi.Options{Tokens: []string{"a-good-long-token-0123", "tiny-tok"}, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if out := logs.String(); strings.Count(out, "weak auth token") != 1 || !strings.Contains(out, "token=2") || strings.Contains(out, "tiny-tok") {
		t.Fatalf("want one warning naming token 2 by position only:\n%s", out)
	}

	const tok = "metrics-token-0123456789"
	e := newEnv(t, backends[0], httpapi.Options{Tokens: []string{tok}, MetricsAuth: true})
	r := e.get("/metrics")
	mustStatus(t, r, http.StatusUnauthorized)
	r.errBody(t)
	mustStatus(t, e.do("GET", "/metrics", nil, "Authorization", "Bearer nope"), http.StatusUnauthorized)
	mustStatus(t, e.do("GET", "/metrics", nil, "Authorization", "Bearer "+tok), http.StatusOK)
	mustStatus(t, e.get("/up"), http.StatusOK)
	var doc struct {
		Paths map[string]map[string]struct {
			Security  []any          `json:"security"`
			Responses map[string]any `json:"responses"`
		} `json:"paths"`
	}
	e.do("GET", "/api/openapi.json", nil, "Authorization", "Bearer "+tok).json(t, &doc)
	if op := doc.Paths["/metrics"]["get"]; op.Responses["401"] == nil {
		t.Fatalf("OpenAPI /metrics without 401: %+v", op)
	}
	// By default /metrics stays open.
	open := newEnv(t, backends[0], httpapi.Options{Tokens: []string{tok}})
	mustStatus(t, open.get("/metrics"), http.StatusOK)
}

func openMemory(t *testing.T) *trove.Core {
	t.Helper()
	core, err := trove.Open(context.Background(), trove.Config{Storage: trove.StorageConfig{
		Events: trove.PluginConfig{Plugin: "storage-memory"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = core.Shutdown(context.Background()) })
	return core
}

// TestStreamPositionRange: positions past the signed 64-bit range (which
// wrapped around to the start of the log) and malformed ones are 400.
func TestStreamPositionRange(t *testing.T) {
	e := newEnv(t, backends[0], httpapi.Options{})
	e.create(note("one", 1))
	for _, from := range []string{"18446744073709551615", "18446744073709551616", "9223372036854775808", "99999999999999999999999",
		"-1", "+1", "1.0", "1e3", "0x10", "1 2", "abc"} {
		mustDetails(t, e.get("/api/events/stream?from="+url.QueryEscape(from)), "log position")
		mustDetails(t, e.do("GET", "/api/events/stream", nil, "Last-Event-ID", from), "log position")
	}
	// The largest position is valid: nothing comes after it.
	s := e.stream("?from=9223372036854775807")
	if s.res.StatusCode != 200 {
		t.Fatalf("from=max: %d", s.res.StatusCode)
	}
	if rec := s.next(); rec.comment == "" {
		t.Fatalf("from=max sent an event: %+v", rec)
	}
	s.close()
	s = e.stream("?from=0")
	if rec := s.nextEvent(); rec.id != 1 {
		t.Fatalf("from=0 first record %+v", rec)
	}
}

// TestUploadReadTimeout: a file upload that stalls is cut at the
// configured upload deadline with a 400, and nothing is stored.
func TestUploadReadTimeout(t *testing.T) {
	e := newEnv(t, backends[0], httpapi.Options{UploadReadTimeout: 50 * time.Millisecond})
	for _, c := range []struct{ path, ct string }{
		{"/api/files?id=stalled", "text/plain"},
		{"/api/events", "multipart/form-data; boundary=zz"},
	} {
		pr, pw := io.Pipe()
		go func() {
			_, _ = pw.Write([]byte("--zz\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a\"\r\n\r\nsome bytes"))
			// …and nothing more until the answer came.
		}()
		req, err := http.NewRequest("POST", e.srv.URL+c.path, pr)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", c.ct)
		req.ContentLength = 1 << 20
		res, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatalf("%s: %v", c.path, err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		pw.Close()
		mustDetails(t, response{status: res.StatusCode, header: res.Header, body: b}, "read timeout")
		if strings.Contains(string(b), "tcp") || strings.Contains(string(b), "httpapi:") {
			t.Fatalf("%s: details in Go's words: %s", c.path, b)
		}
	}
	if _, err := e.core.GetFile(context.Background(), "stalled"); !errors.Is(err, trove.ErrNotFound) {
		t.Fatalf("stalled upload stored: %v", err)
	}
	if n := eventCount(t, e.core); n != 0 {
		t.Fatalf("%d events stored", n)
	}
}

// TestFileServingHeaders: every file gets nosniff and a sandboxing CSP;
// types a browser would run are attachments.
func TestFileServingHeaders(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, httpapi.Options{})
		for i, c := range []struct {
			ct         string
			attachment bool
		}{
			{"text/html", true},
			{"TEXT/HTML; charset=utf-8", true},
			{"image/svg+xml", true},
			{"application/xhtml+xml", true},
			{"text/xml", true},
			{"application/xml", true},
			{"application/javascript", true},
			{"text/javascript", true},
			{"application/pdf", true},
			{"application/x-unknown-thing", true},
			{"not a media type", true},
			{"application/octet-stream", true},
			{"text/plain", false},
			{"text/plain; charset=utf-8", false},
			{"image/png", false},
			{"application/json", false},
		} {
			id := fmt.Sprintf("f%d", i)
			mustStatus(t, e.do("POST", "/api/files?id="+id+"&filename="+url.QueryEscape("évil \"page\".html"), strings.NewReader("<script>alert(1)</script>"),
				"Content-Type", c.ct), 201)
			r := e.get("/api/files/" + id + "/data")
			mustStatus(t, r, 200)
			if got := r.header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("%s: X-Content-Type-Options %q", c.ct, got)
			}
			if got := r.header.Get("Content-Security-Policy"); !strings.Contains(got, "default-src 'none'") || !strings.Contains(got, "sandbox") {
				t.Errorf("%s: Content-Security-Policy %q", c.ct, got)
			}
			disp := r.header.Get("Content-Disposition")
			if c.attachment != strings.HasPrefix(disp, "attachment") {
				t.Errorf("%s: Content-Disposition %q", c.ct, disp)
			}
			if c.attachment && !strings.Contains(disp, "filename") {
				t.Errorf("%s: Content-Disposition %q without the file name", c.ct, disp)
			}
			// A range answer carries the same headers.
			r = e.do("GET", "/api/files/"+id+"/data", nil, "Range", "bytes=0-3")
			mustStatus(t, r, http.StatusPartialContent)
			if r.header.Get("X-Content-Type-Options") != "nosniff" || (c.attachment && r.header.Get("Content-Disposition") == "") {
				t.Errorf("%s: range answer headers %v", c.ct, r.header)
			}
		}
	})
}

// panicky is storage-memory whose Subscribe and Stats panic, as a broken
// plugin might.
type panicky struct{ *memory.Store }

func (panicky) Subscribe(context.Context, uint64, func(trove.Event) error) error {
	panic("subscribe exploded")
}

func (panicky) Stats() map[string]float64 { panic("stats exploded") }

func init() {
	trove.Register("storage-memory-panicky", func(json.RawMessage) (trove.Plugin, error) {
		return panicky{memory.New(memory.Options{})}, nil
	})
}

// TestPanicInStorageGoroutines: a plugin that panics on a stream's or a
// scrape's own goroutine ends that stream or leaves its figures out of
// the scrape, logged once with the stack; the process goes on.
func TestPanicInStorageGoroutines(t *testing.T) {
	var logs syncBuffer
	e := newEnv(t, backend{"panicky", "storage-memory-panicky", func(string) string { return `{}` }},
		httpapi.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	s := e.stream("?from=0")
	if s.res.StatusCode != 200 {
		t.Fatalf("stream: %d", s.res.StatusCode)
	}
	if _, err := io.ReadAll(s.res.Body); err != nil {
		t.Fatalf("stream did not end cleanly: %v", err)
	}
	r := e.get("/metrics")
	mustStatus(t, r, 200)
	if !strings.Contains(string(r.body), "trove_http_requests_total") {
		t.Fatalf("metrics without the API's own figures:\n%s", r.body)
	}
	waitUp(t, e)
	out := logs.String()
	for _, p := range []string{"subscribe exploded", "stats exploded"} {
		if n := strings.Count(out, p); n != 1 {
			t.Fatalf("%q logged %d times:\n%s", p, n, out)
		}
	}
	if strings.Count(out, "runtime/debug.Stack") < 2 {
		t.Fatalf("panics logged without their stacks:\n%s", out)
	}
}
