package httpapi_test

import (
	"bytes"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"testing"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/internal/httpapi"
)

func TestUp(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, httpapi.Options{})
		r := e.get("/up")
		mustStatus(t, r, 200)
		if string(r.body) != "OK" || r.header.Get("Content-Type") != "text/plain" {
			t.Fatalf("/up: %q %q", r.body, r.header.Get("Content-Type"))
		}
	})
}

func TestCreateAndGet(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, httpapi.Options{})
		r := e.postJSON("/api/events", `{"schema":`+noteSchema+`,"payload":{"text":"hello"},"producer":"web","metadata":{"ip":"::1"},"id":"ev-1","createdAt":"2025-04-15T10:54:58.123+02:00"}`)
		mustStatus(t, r, http.StatusCreated)
		if ct := r.header.Get("Content-Type"); ct != "application/json" {
			t.Fatalf("Content-Type %q", ct)
		}
		var ev trove.Event
		r.json(t, &ev)
		if ev.ID != (trove.EventID{ID: "ev-1", Version: 1}) || ev.Producer != "web" || ev.Position == 0 ||
			trove.FormatTime(ev.CreatedAt) != "2025-04-15T08:54:58.123Z" || string(ev.Metadata) != `{"ip":"::1"}` {
			t.Fatalf("stored event %+v", ev)
		}

		// A new version, then get latest, a version, an absent version.
		r = e.postJSON("/api/events", `{"schema":`+noteSchema+`,"payload":{"text":"hello again"},"id":{"id":"ev-1","version":2}}`)
		mustStatus(t, r, http.StatusCreated)
		var got trove.Event
		e.get("/api/events/ev-1").json(t, &got)
		if got.ID.Version != 2 {
			t.Fatalf("latest version %d", got.ID.Version)
		}
		r = e.get("/api/events/ev-1?version=1")
		mustStatus(t, r, 200)
		r.json(t, &got)
		if texts([]trove.Event{got})[0] != "hello" {
			t.Fatalf("version 1: %s", r.body)
		}
		for _, path := range []string{"/api/events/ev-1?version=3", "/api/events/nope"} {
			r = e.get(path)
			mustStatus(t, r, http.StatusNotFound)
			if title, _ := r.errBody(t); title != "Not Found" {
				t.Fatalf("%s: %s", path, r.body)
			}
		}
		mustStatus(t, e.get("/api/events/ev-1?version=x"), http.StatusBadRequest)

		// The id "stream" names the stream route; with ?version= it is the
		// event's.
		e.create(`{"schema":` + noteSchema + `,"payload":{"text":"named stream"},"id":"stream"}`)
		e.get("/api/events/stream?version=1").json(t, &got)
		if got.ID != (trove.EventID{ID: "stream", Version: 1}) || texts([]trove.Event{got})[0] != "named stream" {
			t.Fatalf("event stream: %+v", got)
		}
		mustStatus(t, e.get("/api/events/stream?version=2"), http.StatusNotFound)
		mustStatus(t, e.get("/api/events/stream?version=0"), http.StatusBadRequest)

		// Idempotent retry; conflicting content; a version gap.
		mustStatus(t, e.postJSON("/api/events", `{"schema":`+noteSchema+`,"payload":{"text":"hello again"},"id":{"id":"ev-1","version":2}}`), http.StatusCreated)
		for _, body := range []string{
			`{"schema":` + noteSchema + `,"payload":{"text":"other"},"id":{"id":"ev-1","version":2}}`,
			`{"schema":` + noteSchema + `,"payload":{"text":"gap"},"id":{"id":"ev-1","version":4}}`,
		} {
			r = e.postJSON("/api/events", body)
			mustStatus(t, r, http.StatusConflict)
			if title, _ := r.errBody(t); title != "Conflict" {
				t.Fatalf("conflict body %s", r.body)
			}
		}
	})
}

func TestCreateErrors(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, httpapi.Options{MaxEventBytes: 4096})
		cases := []struct {
			name, body    string
			status        int
			title, detail string // detail: a prefix
		}{
			{"no schema", `{"payload":{}}`, 400, "Invalid Request Format", "must have required property 'schema'"},
			{"no payload", `{"schema":` + noteSchema + `}`, 400, "Invalid Request Format", "must have required property 'payload'"},
			{"null payload", `{"schema":` + noteSchema + `,"payload":null}`, 400, "Invalid Request Format", "must have required property 'payload'"},
			{"metadata not object", `{"schema":` + noteSchema + `,"payload":{"text":"x"},"metadata":[1]}`, 400, "Invalid Request Format", "Path /metadata: must be object"},
			{"payload not object", `{"schema":` + noteSchema + `,"payload":"x"}`, 400, "Invalid Request Format", "Path /payload: must be object"},
			{"schema not object", `{"schema":"note","payload":{}}`, 400, "Invalid Request Format", "Path /schema: must be object"},
			{"schema $id not a string", `{"schema":{"$id":5},"payload":{}}`, 400, "Invalid Request Format", "Path /schema:"},
			{"bad JSON", `{"schema":`, 400, "Invalid Request Format", "body is not valid JSON"},
			{"not an object", `[1,2]`, 400, "Invalid Request Format", "must be object"},
			{"empty body", ``, 400, "Invalid Request Format", "body is not valid JSON"},
			{"bad createdAt", `{"schema":` + noteSchema + `,"payload":{"text":"x"},"createdAt":"yesterday"}`, 400, "Invalid Request Format", "Path /createdAt"},
			{"bad file id", `{"schema":` + noteSchema + `,"payload":{"text":"x"},"files":[{"id":"../etc","data":"aGk="}]}`, 400, "Invalid Request Format", ""},
			{"payload fails schema", `{"schema":` + noteSchema + `,"payload":{"text":5}}`, 422, "Invalid Event Payload", "Event validation failed: /text"},
			{"payload misses a property", `{"schema":` + noteSchema + `,"payload":{}}`, 422, "Invalid Event Payload", "Event validation failed: "},
			{"unknown schema reference", `{"schema":{"id":"nope","version":"1"},"payload":{}}`, 422, "Invalid Event Payload", "Event validation failed: schema reference nope"},
			{"too large", `{"schema":` + noteSchema + `,"payload":{"text":"` + strings.Repeat("x", 5000) + `"}}`, 413, "Payload Too Large", ""},
		}
		for _, c := range cases {
			r := e.postJSON("/api/events", c.body)
			if r.status != c.status {
				t.Errorf("%s: status %d, want %d: %s", c.name, r.status, c.status, r.body)
				continue
			}
			title, details := r.errBody(t)
			if title != c.title || !strings.HasPrefix(details, c.detail) {
				t.Errorf("%s: got %q %q, want %q %q…", c.name, title, details, c.title, c.detail)
			}
		}
		if evs, _ := e.query("GET", ""); len(evs) != 0 {
			t.Fatalf("failed creates saved %d events", len(evs))
		}
		waitUp(t, e)
	})
}

// form builds a multipart body: fields in order, then files.
type formPart struct {
	field, filename, contentType, value string
}

func multipartBody(t *testing.T, parts []formPart) (*bytes.Buffer, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		if p.filename == "" {
			if err := mw.WriteField(p.field, p.value); err != nil {
				t.Fatal(err)
			}
			continue
		}
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, p.field, p.filename))
		if p.contentType != "" {
			h.Set("Content-Type", p.contentType)
		}
		w, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(w, p.value)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return &buf, mw.FormDataContentType()
}

func TestCreateMultipart(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, httpapi.Options{})
		target := e.create(note("target", 1))
		parts := []formPart{
			{field: "schema", value: `{"$id":"doc+v1","type":"object","required":["title"]}`},
			{field: "payload", value: `{"title":"Annual Report"}`},
			{field: "producer", value: "uploader"},
			{field: "metadata", value: `{"ip":"::1"}`},
			{field: "links", value: `[{"type":"about","targetEvent":{"id":"` + target.ID.ID + `"}}]`},
			{field: "file", filename: "report.pdf", contentType: "application/pdf", value: "%PDF-1.7 report"},
			{field: "file", filename: "notes.txt", value: "plain notes"},
		}
		var ids []string
		for round := range 2 { // the same form twice: generated file ids never collide
			body, ct := multipartBody(t, parts)
			r := e.do("POST", "/api/events", body, "Content-Type", ct)
			mustStatus(t, r, http.StatusCreated)
			var ev trove.Event
			r.json(t, &ev)
			if ev.Producer != "uploader" || string(ev.Metadata) != `{"ip":"::1"}` || len(ev.Links) != 1 || ev.Links[0].TargetEvent.ID != target.ID.ID {
				t.Fatalf("round %d: event %s", round, r.body)
			}
			if len(ev.Files) != 2 {
				t.Fatalf("round %d: files %+v", round, ev.Files)
			}
			want := []struct{ name, ct, data string }{{"report.pdf", "application/pdf", "%PDF-1.7 report"}, {"notes.txt", "application/octet-stream", "plain notes"}}
			for i, f := range ev.Files {
				if f.Filename != want[i].name || f.ContentType != want[i].ct || f.Size != int64(len(want[i].data)) || !strings.HasPrefix(f.Hash, "sha256:") {
					t.Fatalf("file %d: %+v", i, f)
				}
				d := e.get("/api/files/" + f.ID + "/data")
				mustStatus(t, d, 200)
				if string(d.body) != want[i].data || d.header.Get("Content-Type") != want[i].ct {
					t.Fatalf("file %d data %q %q", i, d.body, d.header.Get("Content-Type"))
				}
				ids = append(ids, f.ID)
			}
		}
		seen := map[string]bool{}
		for _, id := range ids {
			if seen[id] {
				t.Fatalf("file id %s used twice", id)
			}
			seen[id] = true
		}

		cases := []struct {
			name   string
			parts  []formPart
			detail string
		}{
			{"payload not JSON", []formPart{{field: "schema", value: noteSchema}, {field: "payload", value: "{oops"}}, "form field payload is not valid JSON: JSON at offset 1: want a key"},
			{"no payload", []formPart{{field: "schema", value: noteSchema}}, "must have required property 'payload'"},
			{"no schema", []formPart{{field: "payload", value: `{"text":"x"}`}}, "must have required property 'schema'"},
			{"metadata not JSON", []formPart{{field: "schema", value: noteSchema}, {field: "payload", value: `{"text":"x"}`}, {field: "metadata", value: "ip=1"}}, "Path /metadata: must be object"},
			{"links not array", []formPart{{field: "schema", value: noteSchema}, {field: "payload", value: `{"text":"x"}`}, {field: "links", value: `{}`}}, "Path /links: must be array"},
		}
		for _, c := range cases {
			body, ct := multipartBody(t, c.parts)
			r := e.do("POST", "/api/events", body, "Content-Type", ct)
			mustStatus(t, r, 400)
			if title, details := r.errBody(t); title != "Invalid Request Format" || details != c.detail {
				t.Errorf("%s: %q %q", c.name, title, details)
			}
		}
		// A payload that fails its schema saves neither the event nor its files.
		body, ct := multipartBody(t, []formPart{{field: "schema", value: noteSchema}, {field: "payload", value: `{"text":1}`}, {field: "f", filename: "a.txt", value: "a"}})
		mustStatus(t, e.do("POST", "/api/events", body, "Content-Type", ct), 422)

		// Broken multipart bodies.
		mustStatus(t, e.do("POST", "/api/events", strings.NewReader("--xyz\r\nContent-Disposition: form-data; name=\"schema\"\r\n\r\n{}"), "Content-Type", "multipart/form-data; boundary=xyz"), 400)
		mustStatus(t, e.do("POST", "/api/events", strings.NewReader("garbage"), "Content-Type", "multipart/form-data"), 400)
		waitUp(t, e)
	})
}

func TestCreateMultipartTooLarge(t *testing.T) {
	e := newEnv(t, backends[0], httpapi.Options{MaxFileBytes: 10 << 10, MaxEventBytes: 1 << 10})
	body, ct := multipartBody(t, []formPart{{field: "schema", value: noteSchema}, {field: "payload", value: `{"text":"x"}`}, {field: "f", filename: "big", value: strings.Repeat("b", 20<<10)}})
	mustStatus(t, e.do("POST", "/api/events", body, "Content-Type", ct), http.StatusRequestEntityTooLarge)
	body, ct = multipartBody(t, []formPart{{field: "schema", value: noteSchema}, {field: "payload", value: `{"text":"` + strings.Repeat("x", 2<<10) + `"}`}})
	mustStatus(t, e.do("POST", "/api/events", body, "Content-Type", ct), http.StatusRequestEntityTooLarge)
	waitUp(t, e)
}

func TestBatch(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, httpapi.Options{})
		r := e.postJSON("/api/events/batch", "["+note("a", 1)+","+note("b", 2)+","+note("c", 3)+"]")
		mustStatus(t, r, http.StatusCreated)
		var res struct{ Events []trove.Event }
		r.json(t, &res)
		if got := texts(res.Events); strings.Join(got, ",") != "a,b,c" {
			t.Fatalf("batch saved %v", got)
		}
		for i := 1; i < len(res.Events); i++ {
			if res.Events[i].Position <= res.Events[i-1].Position {
				t.Fatalf("positions not increasing: %+v", res.Events)
			}
		}
		r = e.do("POST", "/api/events/batch", strings.NewReader(note("d", 4)+"\n\n"+note("e", 5)+"\n"), "Content-Type", "application/x-ndjson")
		mustStatus(t, r, http.StatusCreated)
		r.json(t, &res)
		if got := texts(res.Events); strings.Join(got, ",") != "d,e" {
			t.Fatalf("NDJSON batch saved %v", got)
		}
		mustStatus(t, e.postJSON("/api/events/batch", "[]"), http.StatusCreated)

		// One bad event: nothing of the batch is saved, and the error names it.
		cases := []struct {
			name, body, ct string
			status, index  int
		}{
			{"payload fails schema", "[" + note("x1", 1) + "," + note("x2", 2) + `,{"schema":` + noteSchema + `,"payload":{"text":3}}]`, "application/json", 422, 2},
			{"shape", "[" + note("x1", 1) + `,{"payload":{}}]`, "application/json", 400, 1},
			{"conflict", "[" + note("x1", 1) + `,{"id":"` + res.Events[0].ID.ID + `","schema":` + noteSchema + `,"payload":{"text":"changed"}}]`, "application/json", 409, -1},
			{"NDJSON shape", note("x1", 1) + "\n{oops\n", "application/x-ndjson", 400, 1},
			{"unknown reference", "[" + note("x1", 1) + `,{"schema":{"id":"nope","version":1},"payload":{}}]`, "application/json", 422, 1},
		}
		for _, c := range cases {
			r := e.do("POST", "/api/events/batch", strings.NewReader(c.body), "Content-Type", c.ct)
			if r.status != c.status {
				t.Errorf("%s: status %d, want %d: %s", c.name, r.status, c.status, r.body)
				continue
			}
			var eb struct {
				Error   string
				Details string
				Index   *int
			}
			r.json(t, &eb)
			if c.index >= 0 && (eb.Index == nil || *eb.Index != c.index || !strings.HasPrefix(eb.Details, fmt.Sprintf("event %d: ", c.index))) {
				t.Errorf("%s: error %s, want index %d", c.name, r.body, c.index)
			}
		}
		for _, body := range []string{"{}", "[1,", "not json"} {
			mustStatus(t, e.postJSON("/api/events/batch", body), 400)
		}
		evs, _ := e.query("POST", `{"allVersions":true}`)
		if got := texts(evs); strings.Join(got, ",") != "a,b,c,d,e" {
			t.Fatalf("after failed batches the store holds %v", got)
		}
	})
}

func TestBatchTooLarge(t *testing.T) {
	e := newEnv(t, backends[0], httpapi.Options{MaxEventBytes: 2048, MaxBatchEvents: 3})
	var many []string
	for i := range 40 {
		many = append(many, note(fmt.Sprint(i), i))
	}
	mustStatus(t, e.postJSON("/api/events/batch", "["+strings.Join(many, ",")+"]"), http.StatusRequestEntityTooLarge)
	r := e.postJSON("/api/events/batch", "["+strings.Join(many[:4], ",")+"]")
	mustStatus(t, r, 400)
	if _, d := r.errBody(t); !strings.Contains(d, "at most 3 events") {
		t.Fatalf("details %q", d)
	}
}
