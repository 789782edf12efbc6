package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/internal/httpapi"
	"github.com/trovedb/trove/plugins/memory"

	_ "github.com/trovedb/trove/engine"
	_ "github.com/trovedb/trove/plugins/jsonfile"
	_ "github.com/trovedb/trove/plugins/sqlite"
)

// backend is one storage the API is tested against; adding a backend is one
// line in backends.
type backend struct {
	name    string
	plugin  string
	options func(dir string) string
}

var backends = []backend{
	{"memory", "storage-memory", func(string) string { return `{}` }},
	{"log", "storage-log", func(dir string) string { return `{"directory":` + jsonString(dir) + `}` }},
	{"jsonfile", "storage-json-file", func(dir string) string { return `{"directory":` + jsonString(dir) + `}` }},
	{"sqlite", "storage-sqlite", func(dir string) string { return `{"path":` + jsonString(dir+"/trove.db") + `}` }},
}

// statsPlugin is storage-memory with figures, to test the storage metrics.
type statsPlugin struct{ *memory.Store }

func (statsPlugin) Stats() map[string]float64 {
	return map[string]float64{"fsyncs": 7, "bytes_written": 1024, "index_lag": 0, "open_readers": 2}
}

func init() {
	trove.Register("storage-memory-stats", func(json.RawMessage) (trove.Plugin, error) {
		return statsPlugin{memory.New(memory.Options{})}, nil
	})
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// env is a running API over one backend.
type env struct {
	t    *testing.T
	srv  *httptest.Server
	api  *httpapi.Server
	core *trove.Core
	// token is sent as a bearer token when not empty.
	token string
}

func forEachBackend(t *testing.T, fn func(t *testing.T, b backend)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			fn(t, b)
		})
	}
}

func newEnv(t *testing.T, b backend, opts httpapi.Options) *env {
	t.Helper()
	srv, api, core := startServer(t, b, opts)
	return &env{t: t, srv: srv, api: api, core: core}
}

// startServer opens a core on b in a fresh directory and serves the API on
// a loopback port until the test ends.
func startServer(tb testing.TB, b backend, opts httpapi.Options) (*httptest.Server, *httpapi.Server, *trove.Core) {
	tb.Helper()
	ctx := context.Background()
	core, err := trove.Open(ctx, trove.Config{Storage: trove.StorageConfig{
		Events: trove.PluginConfig{Plugin: b.plugin, Options: json.RawMessage(b.options(tb.TempDir()))},
	}})
	if err != nil {
		tb.Fatal(err)
	}
	api, err := httpapi.New(core, opts)
	if err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(api)
	srv.Config.RegisterOnShutdown(api.StopStreams)
	srv.Start()
	tb.Cleanup(func() {
		api.StopStreams()
		srv.Close()
		if err := core.Shutdown(ctx); err != nil {
			tb.Error(err)
		}
	})
	return srv, api, core
}

// response is a finished HTTP exchange.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("response %d %q: %v", r.status, r.body, err)
	}
}

// errBody decodes an error response.
func (r response) errBody(t *testing.T) (title, details string) {
	t.Helper()
	var e struct {
		Error   string `json:"error"`
		Details string `json:"details"`
	}
	r.json(t, &e)
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("error Content-Type %q", ct)
	}
	return e.Error, e.Details
}

func (e *env) do(method, path string, body io.Reader, header ...string) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	if e.token != "" && req.Header.Get("Authorization") == "" {
		req.Header.Set("Authorization", "Bearer "+e.token)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

func (e *env) get(path string) response { return e.do("GET", path, nil) }

func (e *env) postJSON(path, body string) response {
	return e.do("POST", path, strings.NewReader(body), "Content-Type", "application/json")
}

// mustStatus fails the test unless r has status want.
func mustStatus(t *testing.T, r response, want int) {
	t.Helper()
	if r.status != want {
		t.Fatalf("status %d, want %d: %s", r.status, want, r.body)
	}
}

const noteSchema = `{"$id":"note+v1","type":"object","required":["text"],"properties":{"text":{"type":"string"},"n":{"type":"number"}}}`

func note(text string, n int) string {
	p, _ := json.Marshal(map[string]any{"text": text, "n": n})
	return `{"schema":` + noteSchema + `,"payload":` + string(p) + `}`
}

// create posts an event and returns it.
func (e *env) create(body string) trove.Event {
	e.t.Helper()
	r := e.postJSON("/api/events", body)
	mustStatus(e.t, r, http.StatusCreated)
	var ev trove.Event
	r.json(e.t, &ev)
	return ev
}

// queryIDs runs a query and returns the event ids and nextOffset (-1 when
// absent).
func (e *env) query(method, pathOrBody string) ([]trove.Event, int) {
	e.t.Helper()
	var r response
	if method == "GET" {
		r = e.get("/api/events" + pathOrBody)
	} else {
		r = e.postJSON("/api/events/query", pathOrBody)
	}
	mustStatus(e.t, r, http.StatusOK)
	var res struct {
		Events     []trove.Event `json:"events"`
		NextOffset *int          `json:"nextOffset"`
	}
	r.json(e.t, &res)
	if res.Events == nil {
		e.t.Fatalf("events missing: %s", r.body)
	}
	next := -1
	if res.NextOffset != nil {
		next = *res.NextOffset
	}
	return res.Events, next
}

func texts(events []trove.Event) []string {
	out := make([]string, len(events))
	for i, ev := range events {
		var p struct{ Text string }
		_ = json.Unmarshal(ev.Payload, &p)
		out[i] = p.Text
	}
	return out
}

func waitUp(t *testing.T, e *env) {
	t.Helper()
	r := e.get("/up")
	if r.status != 200 || string(r.body) != "OK" {
		t.Fatalf("/up: %d %q", r.status, r.body)
	}
}

// brokenPlugin is storage-memory whose event writes and queries fail the
// way a broken disk would: with errors that are none of the sentinels.
type brokenPlugin struct{ *memory.Store }

func (brokenPlugin) SaveEvent(context.Context, trove.Event) (trove.Event, error) {
	return trove.Event{}, errors.New("memory: write: input/output error")
}

func (brokenPlugin) SaveEvents(context.Context, []trove.Event) ([]trove.Event, error) {
	return nil, errors.New("memory: write: input/output error")
}

func (brokenPlugin) QueryEvents(context.Context, trove.EventQuery) ([]trove.Event, error) {
	return nil, errors.New("memory: read: input/output error")
}

func init() {
	trove.Register("storage-memory-broken", func(json.RawMessage) (trove.Plugin, error) {
		return brokenPlugin{memory.New(memory.Options{})}, nil
	})
}

// replayOnly is storage-memory offering Replay but not Subscribe; noStream
// offers neither.
type replayOnly struct {
	trove.Plugin
	trove.EventStorage
	trove.FileStorage
	trove.LinkStorage
	trove.Replayer
	trove.BatchSaver
}

type noStream struct {
	trove.Plugin
	trove.EventStorage
	trove.FileStorage
	trove.LinkStorage
}

func init() {
	trove.Register("storage-memory-replay-only", func(json.RawMessage) (trove.Plugin, error) {
		m := memory.New(memory.Options{})
		return replayOnly{m, m, m, m, m, m}, nil
	})
	trove.Register("storage-memory-no-stream", func(json.RawMessage) (trove.Plugin, error) {
		m := memory.New(memory.Options{})
		return noStream{m, m, m, m}, nil
	})
}
