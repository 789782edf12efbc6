package httpapi_test

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/internal/httpapi"
)

// goWords are what a detail must not hold: Go types, packages and the
// storage layers' operation names.
var goWords = []string{"Go value", "trove.", "json:", "struct", "engine:", "blob:", "local:", "sqlite:",
	"jsonfile:", "memory:", "put ", "save file", "metaschema", "mem://", "unmarshal"}

func mustSpeakAPI(t *testing.T, what string, details string) {
	t.Helper()
	for _, w := range goWords {
		if strings.Contains(details, w) {
			t.Fatalf("%s: details %q speak of the implementation (%q)", what, details, w)
		}
	}
}

// Every conflict and refused schema is told in the API's own words, the
// same on every backend: the thing named and the problem.
func TestErrorDetailsInTheAPIsWords(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, httpapi.Options{})
		a := e.create(note("a", 1))
		mustStatus(t, e.do("POST", "/api/files?id=logo", strings.NewReader("PNG"), "Content-Type", "image/png"), http.StatusCreated)
		mustStatus(t, e.postJSON("/api/schemas", `{"id":"s1","version":"1","schema":{"type":"object"}}`), http.StatusCreated)
		id := a.ID.ID
		for _, c := range []struct {
			name, path, body string
			status           int
			details          string
		}{
			{"same version, other content", "/api/events", `{"id":{"id":"` + id + `","version":1},"schema":{},"payload":{"y":2}}`,
				409, "event " + id + "@1 exists with other content"},
			{"version not next", "/api/events", `{"id":{"id":"` + id + `","version":5},"schema":{},"payload":{}}`,
				409, "event " + id + ": version 5 is not latest+1 (latest is 1)"},
			{"file id with other bytes", "/api/files?id=logo", "other bytes", 409, "file logo exists with other bytes"},
			{"schema version with another document", "/api/schemas", `{"id":"s1","version":"1","schema":{"type":"string"}}`,
				409, "schema s1 version 1 is registered with another document"},
			{"invalid inline schema", "/api/events", `{"schema":{"$id":"x","type":"objectx"},"payload":{}}`,
				400, "schema is not a valid JSON Schema: /type: "},
			{"invalid registered schema", "/api/schemas", `{"id":"s2","version":"1","schema":{"minimum":"a"}}`,
				400, "schema is not a valid JSON Schema: /minimum: "},
		} {
			r := e.postJSON(c.path, c.body)
			mustStatus(t, r, c.status)
			_, details := r.errBody(t)
			if !strings.HasPrefix(details, c.details) {
				t.Fatalf("%s: details %q, want %q…", c.name, details, c.details)
			}
			mustSpeakAPI(t, c.name, details)
		}
		// A malformed multipart payload field is reported as such.
		body, ct := multipartBody(t, []formPart{{field: "schema", value: `{}`}, {field: "payload", value: "{bad"}})
		r := e.do("POST", "/api/events", body, "Content-Type", ct)
		mustStatus(t, r, http.StatusBadRequest)
		if _, d := r.errBody(t); !strings.HasPrefix(d, "form field payload is not valid JSON") {
			t.Fatalf("malformed multipart payload: %q", d)
		}
	})
}

// A files entry names a stored file (and takes its metadata), carries
// inline data, or is a reference with a locator; anything else is 422
// naming the entry, and stores nothing.
func TestFileEntriesOverHTTP(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, httpapi.Options{})
		r := e.do("POST", "/api/files?id=logo&filename=logo.png", strings.NewReader("PNG"), "Content-Type", "image/png")
		mustStatus(t, r, http.StatusCreated)
		var stored trove.EventFile
		r.json(t, &stored)
		ev := e.create(`{"schema":{},"payload":{},"files":[{"id":"logo"}]}`)
		if f := ev.Files[0]; f.Size != 3 || f.Hash != stored.Hash || f.ContentType != "image/png" || f.Filename != "logo.png" {
			t.Fatalf("an entry naming a stored file: %+v, want %+v", f, stored)
		}
		ref := e.create(`{"schema":{},"payload":{},"files":[{"id":"ext","isReference":true,"data":"s3://bucket/key"}]}`)
		if f := ref.Files[0]; !f.IsReference || f.Data != "s3://bucket/key" {
			t.Fatalf("a reference: %+v", f)
		}
		for _, c := range []struct{ name, files, details string }{
			{"no stored file", `[{"id":"ghost"}]`, `files[0] ("ghost"): no stored file has this id`},
			{"size disagrees", `[{"id":"logo","size":7}]`, `files[0] ("logo"): size 7, but the stored file has 3 bytes`},
			{"hash disagrees", `[{"id":"logo","hash":"sha256:00"}]`, `files[0] ("logo"): hash sha256:00, but the stored file's is ` + stored.Hash},
			{"reference without locator", `[{"id":"logo"},{"id":"r","isReference":true}]`, `files[1] ("r"): a reference (isReference) needs its locator in data`},
		} {
			r := e.postJSON("/api/events", `{"schema":{},"payload":{},"files":`+c.files+`}`)
			mustStatus(t, r, http.StatusUnprocessableEntity)
			if _, d := r.errBody(t); !strings.Contains(d, c.details) {
				t.Fatalf("%s: details %q, want …%s…", c.name, d, c.details)
			}
		}
		if evs, _ := e.query("GET", "?allVersions=true"); len(evs) != 2 {
			t.Fatalf("%d events after the refusals, want 2", len(evs))
		}
		mustStatus(t, e.get("/api/files/ghost"), http.StatusNotFound)
	})
}

// A link is a fact: posting it again stores nothing. An event's own links
// field holds the links saved with it; GET …/links lists those and the
// ones added later.
func TestLinkPostedTwice(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, httpapi.Options{})
		target := e.create(note("target", 1))
		src := e.create(`{"schema":{},"payload":{},"links":[{"type":"parent","targetEvent":{"id":"` + target.ID.ID + `"}}]}`)
		path := "/api/events/" + src.ID.ID + "/links"
		for range 2 {
			mustStatus(t, e.postJSON(path, `{"type":"cites","targetEvent":{"id":"`+target.ID.ID+`"}}`), http.StatusCreated)
		}
		// The link saved with the event, posted again, is a no-op too.
		mustStatus(t, e.postJSON(path, `{"type":"parent","targetEvent":{"id":"`+target.ID.ID+`"}}`), http.StatusCreated)
		var links []trove.EventLink
		e.get(path).json(t, &links)
		if len(links) != 2 || links[0].Type != "parent" || links[1].Type != "cites" {
			t.Fatalf("links after posting twice: %+v", links)
		}
		e.get("/api/events/"+target.ID.ID+"/links?direction=in").json(t, &links)
		if len(links) != 2 {
			t.Fatalf("incoming links after posting twice: %+v", links)
		}
		var got trove.Event
		e.get("/api/events/"+src.ID.ID).json(t, &got)
		if len(got.Links) != 1 || got.Links[0].Type != "parent" {
			t.Fatalf("the event's own links field: %+v", got.Links)
		}
	})
}

// A schema without $id ({} or {"type":"object"}) is accepted; its events'
// schema identity is "", which the query {"schema":""} finds. A producer
// left out is recorded as "core".
func TestSchemaWithoutIDAndDefaultProducer(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, httpapi.Options{})
		first := e.create(`{"schema":{},"payload":{"x":1}}`)
		e.create(`{"schema":{"type":"object"},"payload":{"x":2}}`)
		e.create(note("named", 1))
		if first.Producer != "core" {
			t.Fatalf("producer left out: %q", first.Producer)
		}
		evs, _ := e.query("POST", `{"schema":""}`)
		if len(evs) != 2 || evs[0].ID != first.ID {
			t.Fatalf("schema \"\": %d events", len(evs))
		}
		if evs, _ := e.query("GET", "?producer=core"); len(evs) != 3 {
			t.Fatalf("producer core: %d events", len(evs))
		}
	})
}

// Every /api/ route refuses a URL parameter it does not take, naming it,
// instead of answering as if it were not there; the ones it takes work.
func TestUnknownParamsOnEveryRoute(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, httpapi.Options{})
		a := e.create(note("a", 1))
		mustStatus(t, e.do("POST", "/api/files?id=logo&filename=l.png&hash=sha256:"+strings.Repeat("0", 64), strings.NewReader("PNG")), http.StatusBadRequest)
		mustStatus(t, e.do("POST", "/api/files?id=logo&filename=l.png", strings.NewReader("PNG")), http.StatusCreated)
		mustStatus(t, e.postJSON("/api/schemas", `{"id":"s1","version":"1","schema":{}}`), http.StatusCreated)
		ev := "/api/events/" + a.ID.ID
		for _, c := range []struct{ method, path, body, key string }{
			{"GET", ev + "?versoin=2", "", "versoin"},
			{"GET", ev + "/links?typ=x", "", "typ"},
			{"GET", ev + "/linked?dir=in", "", "dir"},
			{"POST", ev + "/links?ver=1", `{"type":"t","targetEvent":{"id":"x"}}`, "ver"},
			{"POST", "/api/events?producer=x", note("b", 2), "producer"},
			{"POST", "/api/events/batch?atomic=false", "[" + note("b", 2) + "]", "atomic"},
			{"POST", "/api/events/query?limit=1", `{}`, "limit"},
			{"POST", "/api/files?idd=zz", "x", "idd"},
			{"GET", "/api/files/logo?x=1", "", "x"},
			{"GET", "/api/files/logo/data?download=1", "", "download"},
			{"GET", "/api/schemas?id=s1", "", "id"},
			{"GET", "/api/schemas/s1?verion=1", "", "verion"},
			{"POST", "/api/schemas?force=1", `{"id":"s2","version":"1","schema":{}}`, "force"},
			{"GET", "/api/export?form=3", "", "form"},
			{"GET", "/api/events/stream?from=0&shema=x", "", "shema"},
		} {
			var body *strings.Reader
			if c.body != "" {
				body = strings.NewReader(c.body)
			}
			var r response
			if body != nil {
				r = e.do(c.method, c.path, body, "Content-Type", "application/json")
			} else {
				r = e.do(c.method, c.path, nil)
			}
			if r.status != http.StatusBadRequest {
				t.Fatalf("%s %s: status %d, want 400: %s", c.method, c.path, r.status, r.body)
			}
			if _, d := r.errBody(t); !strings.Contains(d, `unknown query parameter "`+c.key+`"`) {
				t.Fatalf("%s %s: details %q do not name %q", c.method, c.path, d, c.key)
			}
		}
		if evs, _ := e.query("GET", "?allVersions=true"); len(evs) != 1 {
			t.Fatalf("%d events after the refusals, want 1", len(evs))
		}
		mustStatus(t, e.get("/api/schemas/s2"), http.StatusNotFound)
		mustStatus(t, e.get("/api/files/zz"), http.StatusNotFound)
		// The parameters each route takes.
		for _, path := range []string{ev + "?version=1", ev + "/links?version=1&type=x&direction=in", ev + "/linked?type=x&direction=out",
			"/api/schemas/s1?version=1", "/api/export?from=0", "/api/files/logo", "/api/files/logo/data"} {
			mustStatus(t, e.get(path), http.StatusOK)
		}
		mustStatus(t, e.postJSON(ev+"/links?version=1", `{"type":"t","targetEvent":{"id":"x"}}`), http.StatusCreated)
	})
}

// The client reads the conflict in the API's words; the debug log keeps
// the storage's whole error.
func TestRefusalLoggedWhole(t *testing.T) {
	var logs syncBuffer
	e := newEnv(t, backends[1], httpapi.Options{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	mustStatus(t, e.do("POST", "/api/files?id=logo", strings.NewReader("PNG")), http.StatusCreated)
	r := e.do("POST", "/api/files?id=logo", strings.NewReader("other"))
	mustStatus(t, r, http.StatusConflict)
	if _, d := r.errBody(t); d != "file logo exists with other bytes" {
		t.Fatalf("details %q", d)
	}
	out := logs.String()
	if !strings.Contains(out, "level=DEBUG") || !strings.Contains(out, "status=409") || !strings.Contains(out, "local: put logo") {
		t.Fatalf("the refusal's log line lacks the storage's error:\n%s", out)
	}
}

// A misspelled member of a link or schema body is refused naming it,
// rather than read as left out; a link read back (with its sourceEvent)
// posts as it is.
func TestUnknownBodyKeys(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, httpapi.Options{})
		a := e.create(note("a", 1))
		links := "/api/events/" + a.ID.ID + "/links"
		for _, c := range []struct{ path, body, want string }{
			{links, `{"type":"t","targetEvent":{"id":"x"},"metdata":{}}`, `unknown key "metdata"`},
			{links, `{"type":"t","targetEvent":{"id":"x","vers":2}}`, `Path /targetEvent: unknown key "vers"`},
			{"/api/schemas", `{"id":"s","version":"1","schema":{},"versoin":"2"}`, `unknown key "versoin"`},
		} {
			r := e.postJSON(c.path, c.body)
			mustStatus(t, r, http.StatusBadRequest)
			if _, d := r.errBody(t); !strings.Contains(d, c.want) {
				t.Fatalf("%s: details %q, want …%s…", c.body, d, c.want)
			}
		}
		if r := e.get(links); strings.TrimSpace(string(r.body)) != "[]" {
			t.Fatalf("links after the refusals: %s", r.body)
		}
		mustStatus(t, e.get("/api/schemas/s"), http.StatusNotFound)
		mustStatus(t, e.postJSON(links, `{"type":"t","targetEvent":{"id":"x","version":1},"metadata":{"w":1},"sourceEvent":{"id":"`+a.ID.ID+`","version":1}}`), http.StatusCreated)
		mustStatus(t, e.postJSON("/api/schemas", `{"id":"s","version":"1","schema":{}}`), http.StatusCreated)
	})
}

// A JSON event with a member an event does not have, at the top or in
// its id, is refused naming it (in a batch, with its index); an event
// read back, position included, posts as it is.
func TestUnknownEventKeys(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, httpapi.Options{})
		for _, c := range []struct{ path, body, want string }{
			{"/api/events", `{"schema":{},"payload":{},"metdata":{}}`, `unknown key "metdata"`},
			{"/api/events", `{"schema":{},"payload":{},"id":{"idd":"x"}}`, `Path /id: unknown key "idd"`},
			{"/api/events/batch", `[{"schema":{},"payload":{}},{"schema":{},"payload":{},"producr":"x"}]`, `event 1: unknown key "producr"`},
		} {
			r := e.postJSON(c.path, c.body)
			mustStatus(t, r, http.StatusBadRequest)
			if _, d := r.errBody(t); !strings.Contains(d, c.want) {
				t.Fatalf("%s: details %q, want …%s…", c.body, d, c.want)
			}
		}
		if evs, _ := e.query("GET", "?allVersions=true"); len(evs) != 0 {
			t.Fatalf("%d events after the refusals", len(evs))
		}
		first := e.create(note("a", 1))
		again := e.postJSON("/api/events", string(e.get("/api/events/"+first.ID.ID).body))
		mustStatus(t, again, http.StatusCreated)
		var got trove.Event
		again.json(t, &got)
		if got.Position != first.Position {
			t.Fatalf("the event read back and posted again: position %d, want %d", got.Position, first.Position)
		}
	})
}

// A 404 says what is missing, on every route that looks one thing up.
func TestNotFoundSaysWhat(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, httpapi.Options{})
		ev := e.create(note("here", 1))
		for path, want := range map[string]string{
			"/api/events/nosuch":                      `no event "nosuch"`,
			"/api/events/" + ev.ID.ID + "?version=7":  `has no version 7`,
			"/api/files/nosuch":                       `no file "nosuch"`,
			"/api/files/nosuch/data":                  `no file "nosuch"`,
			"/api/schemas/nosuch":                     `no schema "nosuch" is registered`,
			"/api/schemas/" + "nosuch" + "?version=2": `schema "nosuch" has no version "2"`,
			"/api/events/nosuch/links":                `nosuch`,
		} {
			r := e.get(path)
			mustStatus(t, r, http.StatusNotFound)
			if title, d := r.errBody(t); title != "Not Found" || !strings.Contains(d, want) {
				t.Errorf("%s: %q %q, want details holding %q", path, title, d, want)
			} else {
				mustSpeakAPI(t, path, d)
			}
		}
	})
}

// The members of files and links entries, and the text fields of a
// multipart form, are held to the names an event has: a misspelled one is
// a 400 naming it, and nothing is stored.
func TestUnknownEntryKeys(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, httpapi.Options{})
		for _, c := range []struct{ body, want string }{
			{`{"schema":{},"payload":{},"files":[{"id":"f","isRefernce":true,"data":"s3://b/k"}]}`, `Path /files/0: unknown key "isRefernce"`},
			{`{"schema":{},"payload":{},"links":[{"type":"t","targetEvent":{"id":"x"}},{"type":"t","target":{"id":"x"}}]}`, `Path /links/1: unknown key "target"`},
			{`{"schema":{},"payload":{},"links":[{"type":"t","targetEvent":{"id":"x","verison":1}}]}`, `Path /links/0/targetEvent: unknown key "verison"`},
		} {
			r := e.postJSON("/api/events", c.body)
			mustStatus(t, r, http.StatusBadRequest)
			if _, d := r.errBody(t); !strings.Contains(d, c.want) {
				t.Errorf("%s: details %q, want …%s…", c.body, d, c.want)
			}
		}
		body, ct := multipartBody(t, []formPart{
			{field: "schema", value: `{}`}, {field: "payload", value: `{"a":1}`}, {field: "prodcer", value: "web"},
		})
		r := e.do("POST", "/api/events", body, "Content-Type", ct)
		mustStatus(t, r, http.StatusBadRequest)
		if _, d := r.errBody(t); !strings.Contains(d, `unknown key "prodcer"`) {
			t.Errorf("multipart: details %q", d)
		}
		if evs, _ := e.query("GET", "?allVersions=true"); len(evs) != 0 {
			t.Fatalf("%d events after the refusals", len(evs))
		}
		// The known members still pass, files and links included.
		body, ct = multipartBody(t, []formPart{
			{field: "schema", value: `{}`}, {field: "payload", value: `{"a":1}`}, {field: "producer", value: "web"},
			{field: "metadata", value: `{"k":"v"}`}, {field: "file", filename: "a.txt", value: "hello"},
		})
		mustStatus(t, e.do("POST", "/api/events", body, "Content-Type", ct), http.StatusCreated)
		mustStatus(t, e.postJSON("/api/events", `{"schema":{},"payload":{},"files":[{"id":"ref","isReference":true,"data":"s3://b/k","contentType":"text/plain","filename":"k"}],"links":[{"type":"t","targetEvent":{"id":"x","version":1},"metadata":{"m":1}}]}`), http.StatusCreated)
	})
}
