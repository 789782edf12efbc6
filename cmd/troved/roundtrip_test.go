package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/trovedb/trove"
)

// A store filled over HTTP, exported and imported into an empty store of
// each backend (export from one, import into another), answers every
// route as the original did: events and their versions, links saved with
// events and added later (in their order, both directions), linked events,
// files named by events with their bytes, and the schema registry. Loading
// the export again reports everything as already present.
func TestExportImportAnswersEveryRoute(t *testing.T) {
	for _, from := range persistentStorages {
		t.Run(from, func(t *testing.T) {
			t.Parallel()
			src := startDaemon(t, "--data", t.TempDir(), "--storage", from)
			fillOverHTTP(t, src)
			want := routeAnswers(t, src)
			code, export, errs := runBinary(t, "", "export", "--url", src.url)
			if code != 0 {
				t.Fatalf("export --url: exit %d %s", code, errs)
			}
			src.stop()
			for _, to := range persistentStorages {
				dir := t.TempDir()
				code, out, errs := runBinary(t, export, "import", "--data", dir, "--storage", to, "-")
				if code != 0 || !strings.HasPrefix(out, "imported 6 events (0 already present), 2 files (0 already present), 1 schemas (0 already present), 3 links (0 already present)") {
					t.Fatalf("%s → %s: import: exit %d %q %s", from, to, code, out, errs)
				}
				code, out, errs = runBinary(t, export, "import", "--data", dir, "--storage", to, "-")
				if code != 0 || !strings.HasPrefix(out, "imported 0 events (6 already present), 0 files (2 already present), 0 schemas (1 already present), 0 links (3 already present)") {
					t.Fatalf("%s → %s: second import: exit %d %q %s", from, to, code, out, errs)
				}
				dst := startDaemon(t, "--data", dir, "--storage", to)
				got := routeAnswers(t, dst)
				dst.stop()
				if len(got) != len(want) {
					t.Fatalf("%s → %s: %d answers, want %d", from, to, len(got), len(want))
				}
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("%s → %s: answer %d differs:\n got  %s\n want %s", from, to, i, got[i], want[i])
					}
				}
			}
		})
	}
}

// fillOverHTTP saves, through the API: a registered schema and an event
// using it, an uploaded file and an event naming it, an inline file, a
// second version, links saved with events and added later (one posted
// twice), and a dangling link.
func fillOverHTTP(t *testing.T, d *daemon) {
	t.Helper()
	post := func(path, ct, body string, want int) []byte {
		t.Helper()
		status, b := d.do("POST", path, ct, strings.NewReader(body))
		expect(t, status, b, want)
		return b
	}
	post("/api/schemas", "application/json", `{"id":"task","version":"1","schema":{"type":"object","required":["done"]}}`, http.StatusCreated)
	post("/api/files?id=logo&filename=logo.png", "image/png", "PNG bytes", http.StatusCreated)
	ev := func(body string) {
		t.Helper()
		post("/api/events", "application/json", body, http.StatusCreated)
	}
	ev(`{"id":{"id":"b"},"producer":"web","schema":` + noteSchema + `,"payload":{"text":"b1"}}`)
	ev(`{"id":{"id":"a"},"schema":{},"payload":{"title":"report"},"files":[{"id":"logo"},{"id":"inline","contentType":"text/plain","data":"aGVsbG8="},{"id":"ext","isReference":true,"data":"s3://bucket/key"}],"links":[{"type":"parent","targetEvent":{"id":"b"}}]}`)
	post("/api/events/a/links", "application/json", `{"type":"cites","targetEvent":{"id":"b"},"metadata":{"page":3}}`, http.StatusCreated)
	post("/api/events/a/links", "application/json", `{"type":"cites","targetEvent":{"id":"b"},"metadata":{"page":3}}`, http.StatusCreated)
	ev(`{"id":{"id":"b","version":2},"producer":"web","schema":` + noteSchema + `,"payload":{"text":"b2"}}`)
	post("/api/events/b/links?version=1", "application/json", `{"type":"prev","targetEvent":{"id":"a"}}`, http.StatusCreated)
	ev(`{"id":{"id":"t1"},"schema":{"id":"task","version":"1"},"payload":{"done":true}}`)
	ev(`{"id":{"id":"c"},"schema":{"type":"object"},"payload":{"n":1},"links":[{"type":"parent","targetEvent":{"id":"b","version":1}}]}`)
	post("/api/events/c/links", "application/json", `{"type":"see","targetEvent":{"id":"ghost"}}`, http.StatusCreated)
	ev(`{"id":{"id":"d"},"schema":` + noteSchema + `,"payload":{"text":"d"},"files":[{"id":"logo"}]}`)
}

// routeAnswers reads every route a client reads a store through, in a
// fixed order, and returns each answer as "route status body".
func routeAnswers(t *testing.T, d *daemon) []string {
	t.Helper()
	var out []string
	get := func(path string) []byte {
		t.Helper()
		status, b := d.do("GET", path, "", nil)
		out = append(out, fmt.Sprintf("%s %d %s", path, status, b))
		return b
	}
	var list struct{ Events []trove.Event }
	if err := json.Unmarshal(get("/api/events?allVersions=true&limit=1000"), &list); err != nil || len(list.Events) != 6 {
		t.Fatalf("list: %v, %d events", err, len(list.Events))
	}
	get("/api/events?limit=1000")
	get("/api/events?schema=note%2Bv1&sort=createdAt:desc")
	get("/api/events?link=parent:b")
	get("/api/events?search=report")
	files := map[string]bool{}
	for _, e := range list.Events {
		get(fmt.Sprintf("/api/events/%s?version=%d", e.ID.ID, e.ID.Version))
		for _, f := range e.Files {
			if !f.IsReference {
				files[f.ID] = true
			}
		}
	}
	for _, id := range []string{"a", "b", "c", "d", "t1", "ghost"} {
		get("/api/events/" + id)
		for _, q := range []string{"", "?direction=in", "?type=cites", "?version=1"} {
			get("/api/events/" + id + "/links" + q)
			get("/api/events/" + id + "/linked" + q)
		}
	}
	for _, id := range []string{"ext", "inline", "logo"} {
		get("/api/files/" + id)
		get("/api/files/" + id + "/data")
	}
	if len(files) != 2 {
		t.Fatalf("files named by events: %v", files)
	}
	get("/api/schemas")
	get("/api/schemas/task")
	get("/api/export")
	// What the answers must hold, so that equal answers mean an equal store.
	all := strings.Join(out, "\n")
	for _, want := range []string{
		`/api/events/a/links 200 [{"type":"parent","targetEvent":{"id":"b"},"sourceEvent":{"id":"a","version":1}},{"type":"cites","targetEvent":{"id":"b"},"metadata":{"page":3},"sourceEvent":{"id":"a","version":1}}]`,
		`/api/events/b/links?version=1 200 [{"type":"prev","targetEvent":{"id":"a"},"sourceEvent":{"id":"b","version":1}}]`,
		`/api/events/c/links 200 [{"type":"parent","targetEvent":{"id":"b","version":1},"sourceEvent":{"id":"c","version":1}},{"type":"see","targetEvent":{"id":"ghost"},"sourceEvent":{"id":"c","version":1}}]`,
		"/api/files/logo/data 200 PNG bytes",
		"/api/files/inline/data 200 hello",
		`/api/schemas/task 200 {"id":"task","version":"1","schema":{"type":"object","required":["done"]}}`,
	} {
		if !strings.Contains(all, want) {
			t.Fatalf("no answer %s in:\n%s", want, all)
		}
	}
	return out
}
