package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/internal/httpapi"
	"github.com/trovedb/trove/plugins/memory"
)

// fuzzRoute is one route the fuzz target sends bodies and query strings
// to, with the status it answers on success.
type fuzzRoute struct {
	method, path string
	ok           int
}

// fuzzRoutes are the routes whose decoders the fuzz target exercises.
// {seed} is the id of an event stored before the first request.
var fuzzRoutes = []fuzzRoute{
	{"POST", "/api/events", http.StatusCreated},
	{"POST", "/api/events/batch", http.StatusCreated},
	{"POST", "/api/events/query", http.StatusOK},
	{"GET", "/api/events", http.StatusOK},
	{"POST", "/api/schemas", http.StatusCreated},
	{"POST", "/api/events/{seed}/links", http.StatusCreated},
	{"GET", "/api/events/{seed}/links", http.StatusOK},
	{"GET", "/api/events/{seed}/linked", http.StatusOK},
}

var fuzzContentTypes = []string{
	"application/json",
	"multipart/form-data; boundary=zz",
	"application/x-ndjson",
	"",
	"text/plain",
}

// countingFiles is storage-memory as a file storage that counts the files
// it stored, so that the fuzz target sees a refused request that left a
// file behind.
type countingFiles struct {
	*memory.Store
	saved atomic.Int64
}

func (c *countingFiles) SaveFile(ctx context.Context, f trove.EventFile, data io.Reader) (trove.EventFile, error) {
	saved, err := c.Store.SaveFile(ctx, f, data)
	if err == nil {
		c.saved.Add(1)
	}
	return saved, err
}

// fuzzFiles is the countingFiles of the store the fuzz target opened last.
var fuzzFiles atomic.Pointer[countingFiles]

func init() {
	trove.Register("fuzz-counting-files", func(json.RawMessage) (trove.Plugin, error) {
		c := &countingFiles{Store: memory.New(memory.Options{})}
		fuzzFiles.Store(c)
		return c, nil
	})
}

// fuzzStore is the store the fuzz target runs against; it is replaced when
// it has grown, to keep each comparison cheap.
type fuzzStore struct {
	core  *trove.Core
	api   *httpapi.Server
	files *countingFiles
	seed  string
	n     int // requests answered 2xx since it was opened
}

func newFuzzStore(t testing.TB) *fuzzStore {
	t.Helper()
	core, err := trove.Open(context.Background(), trove.Config{Storage: trove.StorageConfig{
		Events: trove.PluginConfig{Plugin: "storage-memory"},
		Files:  trove.PluginConfig{Plugin: "fuzz-counting-files"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	api, err := httpapi.New(core, httpapi.Options{
		MaxEventBytes: 64 << 10, MaxFileBytes: 64 << 10, MaxBatchEvents: 5,
		MaxSearchBytes: 256, MaxSearchClauses: 8, MaxIdentifierBytes: 64,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	seed, err := core.CreateEvent(context.Background(), trove.Event{
		Schema: trove.MustSchema(`{"$id":"seed","type":"object"}`), Payload: json.RawMessage(`{"text":"seed"}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	return &fuzzStore{core: core, api: api, files: fuzzFiles.Load(), seed: seed.ID.ID}
}

// state is what any refused request must leave as it was: the events (each
// version's position), the registered schemas, the files stored and the
// seed's links.
func (s *fuzzStore) state(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	events, err := s.core.QueryEvents(ctx, trove.EventQuery{AllVersions: true})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	for _, e := range events {
		fmt.Fprintf(&b, "%d:%s/%d ", e.Position, e.ID.ID, e.ID.Version)
	}
	fmt.Fprintf(&b, "| schemas %d | files %d", len(s.core.Schemas()), s.files.saved.Load())
	for _, dir := range []trove.Direction{trove.Outgoing, trove.Incoming} {
		links, err := s.core.GetLinks(ctx, trove.EventID{ID: s.seed}, trove.LinkOptions{Direction: dir})
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, " | links %d", len(links))
	}
	return b.String()
}

// FuzzHTTPDecoders sends arbitrary bodies, content types and query strings
// to the routes that decode requests. Every answer must be the route's
// success status or one of 400, 404 (a link's source, target or version
// that does not exist), 409, 413 or 422, with the API's JSON error body;
// nothing may panic; and a refused request must leave the store as it was.
func FuzzHTTPDecoders(f *testing.F) {
	note := `{"schema":{"$id":"note","type":"object","required":["text"],"properties":{"text":{"type":"string"},"n":{"type":"number","minimum":0}}},"payload":{"text":"a","n":1}}`
	form := "--zz\r\nContent-Disposition: form-data; name=\"schema\"\r\n\r\n{\"$id\":\"f\",\"type\":\"object\"}\r\n" +
		"--zz\r\nContent-Disposition: form-data; name=\"payload\"\r\n\r\n{\"a\":1}\r\n" +
		"--zz\r\nContent-Disposition: form-data; name=\"producer\"\r\n\r\np\r\n" +
		"--zz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--zz--\r\n"
	for _, s := range []struct {
		route, ct uint8
		body      string
		query     string
	}{
		{0, 0, note, ""},
		{0, 0, `{"id":{"id":"x","version":1},"producer":"p","schema":{"$id":"s"},"payload":{},"links":[{"type":"t","targetEvent":{"id":"x"}}],"createdAt":"2025-01-01T00:00:00Z"}`, ""},
		{0, 0, `{"schema":{"id":"reg","version":"1"},"payload":{}}`, ""},
		{0, 0, `{"schema":{"$id":"pm","type":"object","properties":{"x":{"minimum":0,"multipleOf":3}}},"payload":{"x":1e9999999}}`, ""},
		{0, 0, `{"schema":{"$id":"pm","type":"object","properties":{"x":{"minimum":0}}},"payload":{"x":1e9999999,"d":1,"d":2}}`, ""},
		{0, 1, form, ""},
		{1, 0, "[" + note + "," + note + "]", ""},
		{1, 2, note + "\n" + note + "\n", ""},
		{1, 0, "[{},{},{}]", ""},
		{2, 0, `{"schema":["note"],"producer":"p","payload":{"n":1},"search":"+text:a -b n:>0 \"a b\"","sort":[{"field":"createdAt","direction":"desc"}],"limit":5,"offset":1}`, ""},
		{2, 0, `{"links":[{"type":"t","targetEvent":{"id":"x"}}],"timeRange":{"start":"2025-01-01","end":"2030-01-01"},"allVersions":true}`, ""},
		{3, 3, "", "schema=note&search=a+b&sort=createdAt:desc&limit=2&payload.n=1&link=t:x&start=2025-01-01"},
		{4, 0, `{"id":"reg","version":"1","schema":{"type":"object","properties":{"a":{"type":"string"}}}}`, ""},
		{5, 0, `{"type":"t","targetEvent":{"id":"{seed}"},"metadata":{"m":1}}`, "version=1"},
		{6, 3, "", "type=t&direction=in"},
		{7, 3, "", "direction=out&version=1"},
	} {
		f.Add(s.route, s.ct, []byte(s.body), s.query)
	}
	var store *fuzzStore
	f.Fuzz(func(t *testing.T, route, ct uint8, body []byte, query string) {
		if store == nil || store.n > 200 {
			if store != nil {
				_ = store.core.Shutdown(context.Background())
			}
			store = newFuzzStore(t)
		}
		rt := fuzzRoutes[int(route)%len(fuzzRoutes)]
		path := bytes.ReplaceAll([]byte(rt.path), []byte("{seed}"), []byte(store.seed))
		body = bytes.ReplaceAll(body, []byte("{seed}"), []byte(store.seed))
		req := httptest.NewRequest(rt.method, "http://trove.test/", bytes.NewReader(body))
		req.URL.Path = string(path)
		req.URL.RawQuery = query
		req.RequestURI = req.URL.RequestURI()
		if c := fuzzContentTypes[int(ct)%len(fuzzContentTypes)]; c != "" {
			req.Header.Set("Content-Type", c)
		}
		before := store.state(t)
		w := httptest.NewRecorder()
		store.api.ServeHTTP(w, req)
		status := w.Code
		switch status {
		case rt.ok:
			store.n++
			return
		case http.StatusBadRequest, http.StatusConflict, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
		case http.StatusNotFound:
			if rt.path != "/api/events/{seed}/links" && rt.path != "/api/events/{seed}/linked" {
				t.Fatalf("%s %s: 404: %s", rt.method, rt.path, w.Body)
			}
		default:
			t.Fatalf("%s %s?%s (%s) %q: status %d: %s", rt.method, rt.path, query, req.Header.Get("Content-Type"), body, status, w.Body)
		}
		var e struct{ Error, Details string }
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error == "" || w.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("%s %s: %d error body %q (%v)", rt.method, rt.path, status, w.Body, err)
		}
		if after := store.state(t); after != before {
			t.Fatalf("%s %s %q: answered %d but changed the store:\nbefore %s\nafter  %s", rt.method, rt.path, body, status, before, after)
		}
	})
}
