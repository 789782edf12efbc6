package httpapi_test

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/internal/httpapi"
)

func TestSchemas(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, httpapi.Options{})
		doc := `{"type":"object","required":["name"],"properties":{"name":{"type":"string"}}}`
		r := e.postJSON("/api/schemas", `{"id":"user.created","version":"1","schema":`+doc+`}`)
		mustStatus(t, r, http.StatusCreated)
		var rs trove.RegisteredSchema
		r.json(t, &rs)
		if rs.ID != "user.created" || rs.Version != "1" {
			t.Fatalf("registered %s", r.body)
		}
		mustStatus(t, e.postJSON("/api/schemas", `{"id":"user.created","version":1,"schema":`+doc+`}`), http.StatusCreated)
		r = e.postJSON("/api/schemas", `{"id":"user.created","version":"1","schema":{"type":"object"}}`)
		mustStatus(t, r, http.StatusConflict)
		if title, _ := r.errBody(t); title != "Conflict" {
			t.Fatalf("conflict: %s", r.body)
		}
		mustStatus(t, e.postJSON("/api/schemas", `{"id":"user.created","version":"2","schema":{"type":"object"}}`), http.StatusCreated)
		for _, body := range []string{`{"version":"1","schema":{}}`, `{"id":"a","schema":{}}`, `{"id":"a","version":"1"}`,
			`{"id":"a","version":"1","schema":"x"}`, `{"id":"a","version":"1","schema":{"type":"nonsense"}}`, `[]`, `{`} {
			mustStatus(t, e.postJSON("/api/schemas", body), 400)
		}

		var list []trove.RegisteredSchema
		e.get("/api/schemas").json(t, &list)
		if len(list) != 2 {
			t.Fatalf("list: %+v", list)
		}
		e.get("/api/schemas/user.created").json(t, &rs)
		if rs.Version != "2" {
			t.Fatalf("latest: %+v", rs)
		}
		e.get("/api/schemas/user.created?version=1").json(t, &rs)
		if rs.Version != "1" {
			t.Fatalf("version 1: %+v", rs)
		}
		mustStatus(t, e.get("/api/schemas/nope"), 404)
		mustStatus(t, e.get("/api/schemas/user.created?version=9"), 404)

		// Events naming a registered schema are validated against it.
		mustStatus(t, e.postJSON("/api/events", `{"schema":{"id":"user.created","version":"1"},"payload":{"name":"Jane"}}`), 201)
		r = e.postJSON("/api/events", `{"schema":{"id":"user.created","version":"1"},"payload":{"name":7}}`)
		mustStatus(t, r, 422)
		r = e.postJSON("/api/events", `{"schema":{"id":"user.created","version":"3"},"payload":{"name":"x"}}`)
		mustStatus(t, r, 422)
		if _, d := r.errBody(t); !strings.HasPrefix(d, "Event validation failed: ") {
			t.Fatalf("unknown reference details %q", d)
		}
		if evs, _ := e.query("GET", "?schema=user.created"); len(evs) != 1 {
			t.Fatalf("query by reference id: %d", len(evs))
		}
	})
}

func TestLinks(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, httpapi.Options{})
		a, c := e.create(note("a", 1)), e.create(note("c", 3))
		r := e.postJSON("/api/events/"+a.ID.ID+"/links", `{"type":"parent","targetEvent":{"id":"`+c.ID.ID+`"},"metadata":{"w":1}}`)
		mustStatus(t, r, http.StatusCreated)
		var l trove.EventLink
		r.json(t, &l)
		if l.Type != "parent" || l.SourceEvent == nil || l.SourceEvent.ID != a.ID.ID {
			t.Fatalf("link %s", r.body)
		}
		mustStatus(t, e.postJSON("/api/events/"+a.ID.ID+"/links", `{"type":"cites","targetEvent":{"id":"dangling"}}`), 201)

		var links []trove.EventLink
		e.get("/api/events/"+a.ID.ID+"/links").json(t, &links)
		if len(links) != 2 || links[0].Type != "parent" || links[1].Type != "cites" {
			t.Fatalf("links %+v", links)
		}
		e.get("/api/events/"+a.ID.ID+"/links?type=cites").json(t, &links)
		if len(links) != 1 || links[0].TargetEvent.ID != "dangling" {
			t.Fatalf("typed links %+v", links)
		}
		e.get("/api/events/"+c.ID.ID+"/links?direction=in").json(t, &links)
		if len(links) != 1 || links[0].SourceEvent == nil || links[0].SourceEvent.ID != a.ID.ID {
			t.Fatalf("incoming %+v", links)
		}
		var linked []trove.Event
		e.get("/api/events/"+a.ID.ID+"/linked").json(t, &linked)
		if len(linked) != 1 || linked[0].ID.ID != c.ID.ID {
			t.Fatalf("linked %v", ids(linked))
		}
		e.get("/api/events/"+c.ID.ID+"/linked?direction=in&type=parent").json(t, &linked)
		if len(linked) != 1 || linked[0].ID.ID != a.ID.ID {
			t.Fatalf("linked in %v", ids(linked))
		}
		// Links added later count in queries.
		if evs, _ := e.query("GET", "?link=parent:"+c.ID.ID); len(evs) != 1 || evs[0].ID.ID != a.ID.ID {
			t.Fatalf("query by link %v", ids(evs))
		}

		mustStatus(t, e.postJSON("/api/events/nope/links", `{"type":"x","targetEvent":{"id":"y"}}`), 404)
		mustStatus(t, e.get("/api/events/nope/links"), 404)
		mustStatus(t, e.get("/api/events/"+a.ID.ID+"/links?direction=sideways"), 400)
		mustStatus(t, e.get("/api/events/"+a.ID.ID+"/linked?direction=up"), 400)
		for _, body := range []string{`{"targetEvent":{"id":"y"}}`, `{"type":"x"}`, `[]`, `{"type":`, `{"type":"x","targetEvent":"y"}`} {
			mustStatus(t, e.postJSON("/api/events/"+a.ID.ID+"/links", body), 400)
		}
	})
}

func TestFiles(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, httpapi.Options{})
		data := "0123456789abcdefghij"
		sum := sha256.Sum256([]byte(data))
		r := e.do("POST", "/api/files?id=f1&filename=digits.txt", strings.NewReader(data), "Content-Type", "text/plain")
		mustStatus(t, r, http.StatusCreated)
		var f trove.EventFile
		r.json(t, &f)
		if f.ID != "f1" || f.Filename != "digits.txt" || f.ContentType != "text/plain" || f.Size != 20 || f.Hash != "sha256:"+hex.EncodeToString(sum[:]) {
			t.Fatalf("saved %s", r.body)
		}
		mustStatus(t, e.do("POST", "/api/files?id=f1&filename=digits.txt", strings.NewReader(data), "Content-Type", "text/plain"), 201)
		mustStatus(t, e.do("POST", "/api/files?id=f1", strings.NewReader("other"), "Content-Type", "text/plain"), 409)
		mustStatus(t, e.do("POST", "/api/files?id=..", strings.NewReader("x")), 400)
		mustStatus(t, e.do("POST", "/api/files?id=a/b", strings.NewReader("x")), 400)
		mustStatus(t, e.do("POST", "/api/files?id=f9&hash=sha256:00", strings.NewReader("x")), 400)

		e.get("/api/files/f1").json(t, &f)
		if f.Size != 20 {
			t.Fatalf("metadata %+v", f)
		}
		d := e.get("/api/files/f1/data")
		mustStatus(t, d, 200)
		if string(d.body) != data || d.header.Get("Content-Type") != "text/plain" || d.header.Get("Content-Length") != "20" {
			t.Fatalf("data %q %v", d.body, d.header)
		}
		d = e.do("GET", "/api/files/f1/data", nil, "Range", "bytes=10-14")
		mustStatus(t, d, http.StatusPartialContent)
		if string(d.body) != "abcde" || d.header.Get("Content-Range") != "bytes 10-14/20" {
			t.Fatalf("range %q %v", d.body, d.header)
		}
		d = e.do("GET", "/api/files/f1/data", nil, "Range", "bytes=-3")
		mustStatus(t, d, http.StatusPartialContent)
		if string(d.body) != "hij" {
			t.Fatalf("suffix range %q", d.body)
		}
		mustStatus(t, e.do("GET", "/api/files/f1/data", nil, "Range", "bytes=50-60"), http.StatusRequestedRangeNotSatisfiable)
		mustStatus(t, e.get("/api/files/nope"), 404)
		mustStatus(t, e.get("/api/files/nope/data"), 404)

		// Multipart: one file part, with text fields before it.
		body, ct := multipartBody(t, []formPart{{field: "id", value: "f2"}, {field: "file", filename: "pic.png", contentType: "image/png", value: "PNGDATA"}})
		r = e.do("POST", "/api/files", body, "Content-Type", ct)
		mustStatus(t, r, 201)
		r.json(t, &f)
		if f.ID != "f2" || f.Filename != "pic.png" || f.ContentType != "image/png" || f.Size != 7 {
			t.Fatalf("multipart file %s", r.body)
		}
		body, ct = multipartBody(t, []formPart{{field: "file", filename: "gen.bin", value: "x"}})
		r = e.do("POST", "/api/files", body, "Content-Type", ct)
		mustStatus(t, r, 201)
		r.json(t, &f)
		if f.ID == "" {
			t.Fatal("no generated id")
		}
		body, ct = multipartBody(t, []formPart{{field: "id", value: "f3"}})
		mustStatus(t, e.do("POST", "/api/files", body, "Content-Type", ct), 400)
		mustStatus(t, e.do("POST", "/api/files", strings.NewReader("--b\r\nbroken"), "Content-Type", "multipart/form-data; boundary=b"), 400)

		// Inline base64 files in a JSON event go to file storage.
		ev := e.create(`{"schema":` + noteSchema + `,"payload":{"text":"x"},"files":[{"id":"inline-1","filename":"hi.txt","contentType":"text/plain","data":"aGVsbG8="}]}`)
		if len(ev.Files) != 1 || ev.Files[0].Size != 5 || ev.Files[0].Data != "" {
			t.Fatalf("inline file %+v", ev.Files)
		}
		if d := e.get("/api/files/inline-1/data"); string(d.body) != "hello" {
			t.Fatalf("inline data %q", d.body)
		}
	})
}

func TestFileTooLarge(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, httpapi.Options{MaxFileBytes: 1000})
		big := strings.Repeat("x", 5000)
		mustStatus(t, e.do("POST", "/api/files?id=big", strings.NewReader(big)), http.StatusRequestEntityTooLarge)
		// Without a Content-Length (chunked) the limit is found while the
		// bytes stream into storage, which stores nothing.
		mustStatus(t, e.do("POST", "/api/files?id=big", io.MultiReader(strings.NewReader(big))), http.StatusRequestEntityTooLarge)
		mustStatus(t, e.get("/api/files/big"), 404)
		mustStatus(t, e.do("POST", "/api/files?id=big", strings.NewReader("small")), 201)
		waitUp(t, e)
	})
}
