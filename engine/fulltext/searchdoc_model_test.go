package fulltext

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2/document"
	"github.com/blevesearch/bleve/v2/numeric"
)

// searchDocPayloads: the ingest benchmark's event payload, a wider one
// with numbers of every form, and one with escapes and non-ASCII text.
var searchDocPayloads = []struct{ name, doc string }{
	{"event", `{"status":"s42","amount":417,"user":{"name":"user-4417","region":"eu-1"},"message":"request 94417 handled by worker 17 after 2 retries with result ok","tags":["a","b"]}`},
	{"wide", `{"amount":4123.07,"count":17,"kind":"document.uploaded","message":"disk quota exceeded while the upload of the annual report was retried","ok":true,"retries":2,"seq":123456,"status":"ok","tags":["alpha","beta"],"traceId":"t-00000000deadbeef","user":{"name":"Jane Roe","region":"eu-west-1","tier":"gold"},"ratio":-1.5e-3,"nothing":null}`},
	{"escaped", `{"title":"Annual \"Report\" 2025","path":"C:\\docs\\r.pdf","text":"caf\u00e9 \ud83d\ude00 日本語のテキスト","lines":"a\nb\tc","author":{"name":"José Müller"}}`},
}

// BenchmarkBuildSearchDoc measures building a payload's bleve document
// (the JSON walk; bleve's analysis of the fields is not included).
func BenchmarkBuildSearchDoc(b *testing.B) {
	for _, p := range searchDocPayloads {
		doc := []byte(p.doc)
		b.Run(p.name, func(b *testing.B) {
			b.SetBytes(int64(len(doc)))
			for b.Loop() {
				if _, err := buildSearchDoc(1, doc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// searchDocModel lists a payload's fields as buildSearchDoc should make
// them, from encoding/json's tokens: "t path=text", "n path=number",
// "b path=bool", one line per value, sorted.
func searchDocModel(t *testing.T, payload []byte) []string {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(payload))
	d.UseNumber()
	next := func() json.Token {
		tok, err := d.Token()
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	var out []string
	var walk func(tok json.Token, path string)
	walk = func(tok json.Token, path string) {
		switch v := tok.(type) {
		case json.Delim:
			for {
				tok := next()
				if tok == json.Delim('}') || tok == json.Delim(']') {
					return
				}
				if v == '[' {
					walk(tok, path)
					continue
				}
				p := tok.(string)
				if path != "" {
					p = path + "." + p
				}
				walk(next(), p)
			}
		case string:
			out = append(out, "t "+searchFieldName(path)+"="+v)
		case json.Number:
			out = append(out, fmt.Sprintf("n %s=%v", searchFieldName(path), numeric.Float64ToInt64(searchFloat(string(v)))))
		case bool:
			out = append(out, fmt.Sprintf("b %s=%v", searchFieldName(path), v))
		}
	}
	walk(next(), "")
	var kept []string
	for _, l := range out {
		if !strings.HasPrefix(l[2:], "=") { // values at the top level are not indexed
			kept = append(kept, l)
		}
	}
	sort.Strings(kept)
	return kept
}

// searchDocFields lists the fields of a document buildSearchDoc made, as
// searchDocModel does.
func searchDocFields(t *testing.T, doc *document.Document) []string {
	t.Helper()
	var out []string
	for _, f := range doc.Fields {
		switch f := f.(type) {
		case *searchText:
			for _, v := range f.vals {
				out = append(out, "t "+f.name+"="+string(v))
			}
		case *searchNumber:
			for _, v := range f.vals {
				out = append(out, fmt.Sprintf("n %s=%v", f.name, v))
			}
		case *document.BooleanField:
			v, err := f.Boolean()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprintf("b %s=%v", f.Name(), v))
		}
	}
	sort.Strings(out)
	return out
}

// checkSearchDoc: buildSearchDoc refuses what encoding/json refuses, with
// errRecord, and otherwise makes the fields the model says (on valid
// UTF-8, as every stored payload is).
func checkSearchDoc(t *testing.T, payload []byte) {
	t.Helper()
	doc, err := buildSearchDoc(7, payload)
	if !json.Valid(payload) {
		if err == nil || !errors.Is(err, errRecord) {
			t.Fatalf("buildSearchDoc(%q): %v, want errRecord", payload, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("buildSearchDoc(%q): %v", payload, err)
	}
	if !utf8.Valid(payload) {
		return // stored payloads never are; strings without escapes keep their bytes
	}
	if got, want := searchDocFields(t, doc), searchDocModel(t, payload); !slices.Equal(got, want) {
		t.Fatalf("buildSearchDoc(%q)\n got %q\nwant %q", payload, got, want)
	}
}

var searchDocSamples = []string{
	`{}`, `{"a":"x","b":{"c":[1,"y",{"d":true}],"e":null},"_id":"z","_all":{"q":2}}`,
	`{"s":"caf\u00e9 \"q\" \ud83d\ude00","n":-0,"m":1e400,"k":[[["deep"]]],"a":"x","a":"again"}`,
	` { "spaced" : [ 1 , 2 ] } `, `[1,{"a":"top-level array"}]`, `"top-level string"`, `12`,
	`{"a":}`, `{"a":1,}`, `{"a":"\x"}`, `{"a":01}`, `{"a":1}x`, `{"a":[1}`, `{`, ``, `{"a":tru}`,
}

func TestBuildSearchDoc(t *testing.T) {
	for _, p := range searchDocSamples {
		checkSearchDoc(t, []byte(p))
	}
	for _, p := range searchDocPayloads {
		checkSearchDoc(t, []byte(p.doc))
	}
}
