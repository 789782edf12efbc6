package httpapi_test

import (
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/trovedb/trove/internal/httpapi"
)

// TestSchemaRefsOverHTTP: a schema reaching for a file or a URL is a 400
// naming the reference, the file's contents never show, and the API keeps
// answering; an inner reference works.
func TestSchemaRefsOverHTTP(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, httpapi.Options{})
		passwd, _ := os.ReadFile("/etc/passwd")
		for _, ref := range []string{"file:///etc/passwd", "file:///proc/self/fd/1", "file:///proc/self/fd/0", "http://127.0.0.1:1/x"} {
			r := e.postJSON("/api/events", `{"schema":{"$id":"x","$ref":"`+ref+`"},"payload":{}}`)
			mustStatus(t, r, http.StatusBadRequest)
			_, details := r.errBody(t)
			if !strings.Contains(details, ref) {
				t.Errorf("%s: details %q do not name the reference", ref, details)
			}
			if len(passwd) > 8 && strings.Contains(string(r.body), string(passwd[:8])) {
				t.Errorf("%s: the answer holds the file: %s", ref, r.body)
			}
		}
		inner := `{"$id":"in","type":"object","properties":{"a":{"$ref":"#/$defs/a"}},"$defs":{"a":{"type":"integer"}}}`
		e.create(`{"schema":` + inner + `,"payload":{"a":1}}`)
		// A payload failing the referenced schema is told what failed there.
		r := e.postJSON("/api/events", `{"schema":`+inner+`,"payload":{"a":"x"}}`)
		mustStatus(t, r, http.StatusUnprocessableEntity)
		if _, details := r.errBody(t); details != "Event validation failed: /a: got string, want integer" {
			t.Errorf("failing an inner reference: details %q", details)
		}
		e.create(note("still answering", 1))
	})
}

// TestStrangeInputOverHTTP: huge numbers validate without a panic, and
// bad JSON text is a 400 on every backend, leaving nothing stored.
func TestStrangeInputOverHTTP(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, httpapi.Options{})
		for _, kw := range []string{`"minimum":0`, `"multipleOf":0.5`} {
			e.create(`{"schema":{"$id":"pm","type":"object","properties":{"x":{` + kw + `}}},"payload":{"x":1e9999999}}`)
		}
		// A refusal names the number as written, not as a float64 (∞).
		r := e.postJSON("/api/events", `{"schema":{"$id":"pm3","type":"object","properties":{"x":{"multipleOf":3}}},"payload":{"x":1e9999999}}`)
		mustStatus(t, r, http.StatusUnprocessableEntity)
		if _, details := r.errBody(t); details != "Event validation failed: /x: multipleOf: got 1e9999999, want 3" {
			t.Errorf("1e9999999 against multipleOf 3: details %q", details)
		}
		many := strings.TrimSuffix(strings.Repeat("1e9999999,", 25), ",")
		r = e.postJSON("/api/events", `{"schema":{"$id":"pu","type":"object","properties":{"x":{"uniqueItems":true}}},"payload":{"x":[`+many+`]}}`)
		if r.status != http.StatusUnprocessableEntity {
			t.Fatalf("repeated items under uniqueItems: %d %s", r.status, r.body)
		}
		for _, body := range []string{
			`{"schema":{"$id":"d","type":"object"},"payload":{"d":1,"d":2}}`,
			"{\"schema\":{\"$id\":\"u\",\"type\":\"object\"},\"payload\":{\"s\":\"\xff\xfe\"}}",
			`{"schema":{"$id":"s","type":"object","type":"array"},"payload":{}}`,
		} {
			mustStatus(t, e.postJSON("/api/events", body), http.StatusBadRequest)
		}
		events, _ := e.query("GET", "?payload.x=1e9999999")
		if len(events) != 2 {
			t.Fatalf("payload.x=1e9999999 finds %d events, want 2", len(events))
		}
		events, _ = e.query("GET", "?schema=d")
		if len(events) != 0 {
			t.Fatalf("a refused event is stored")
		}
	})
}
