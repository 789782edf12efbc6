package index

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/trovedb/trove"
)

// benchPayloads: the engine benchmark's event payload, a wider one with
// numbers of every form, and one with escapes and non-ASCII text.
var benchPayloads = []struct{ name, doc string }{
	{"event", `{"status":"s42","amount":417,"user":{"name":"user-4417","region":"eu-1"},"message":"request 94417 handled by worker 17 after 2 retries with result ok","tags":["a","b"]}`},
	{"wide", `{"amount":4123.07,"count":17,"kind":"document.uploaded","message":"disk quota exceeded while the upload of the annual report was retried","ok":true,"retries":2,"seq":123456,"status":"ok","tags":["alpha","beta"],"traceId":"t-00000000deadbeef","user":{"name":"Jane Roe","region":"eu-west-1","tier":"gold"},"ratio":-1.5e-3,"nothing":null}`},
	{"escaped", `{"title":"Annual \"Report\" 2025","path":"C:\\docs\\r.pdf","text":"caf\u00e9 \ud83d\ude00 日本語のテキスト","lines":"a\nb\tc","author":{"name":"José Müller"}}`},
}

// BenchmarkTermWriter measures term extraction, the index's share of
// staging an event.
func BenchmarkTermWriter(b *testing.B) {
	for _, p := range benchPayloads {
		doc := []byte(p.doc)
		b.Run(p.name, func(b *testing.B) {
			var tw TermWriter
			var buf []byte
			b.SetBytes(int64(len(doc)))
			for b.Loop() {
				buf = tw.Append(buf[:0], doc)
			}
		})
	}
}

// BenchmarkLookupValue measures the exact verification of a payload
// equality: a top-level key near the front, one nested, one missing.
func BenchmarkLookupValue(b *testing.B) {
	for _, p := range benchPayloads {
		doc := []byte(p.doc)
		for _, path := range []string{"status", "user.region", "missing"} {
			keys := strings.Split(path, ".")
			b.Run(p.name+"/"+path, func(b *testing.B) {
				for b.Loop() {
					LookupValue(doc, keys)
				}
			})
		}
	}
}

// terms lists the terms of payload as "path=value", as the index's walk
// finds them.
func terms(payload []byte) []string {
	var w walker
	var out []string
	walkTerms(payload, &w, func(path, value []byte) { out = append(out, string(path)+"="+string(value)) })
	return out
}

// modelTerms lists the terms of a valid JSON object from encoding/json's
// tokens: every scalar reached through objects only, in document order.
func modelTerms(t *testing.T, payload []byte) []string {
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
	var object func(path string)
	object = func(path string) {
		for {
			tok := next()
			if tok == json.Delim('}') {
				return
			}
			p := tok.(string)
			if path != "" {
				p = path + "." + p
			}
			switch v := next().(type) {
			case json.Delim:
				if v == '{' {
					object(p)
					continue
				}
				for depth := 1; depth > 0; { // an array: skipped
					switch next() {
					case json.Delim('['), json.Delim('{'):
						depth++
					case json.Delim(']'), json.Delim('}'):
						depth--
					}
				}
			case string:
				out = append(out, p+"=s"+v)
			case json.Number:
				n, ok := NormalizeNumber(string(v))
				if !ok {
					t.Fatalf("number %s", v)
				}
				out = append(out, p+"=n"+n)
			case bool:
				out = append(out, map[bool]string{true: p + "=b1", false: p + "=b0"}[v])
			case nil:
				out = append(out, p+"=z")
			}
		}
	}
	if next() != json.Delim('{') {
		return nil
	}
	object("")
	return out
}

var termSamples = []string{
	`{"a":0,"b":-0,"c":-12,"d":1e5,"e":12345678901234567890,"f":123456789012345678,"g":1.0,"h":-0.0,"i":"x\\ny","j":{"k":[1,2],"l":{"m":true}},"n":null,"o":false}`,
	`{"a":{"b":{"c":"d"}},"a.b":"e","\u00e9":"\u00e8","":{"":1},"r":"x","r":"y"}`,
	` { "spaced" : { "out" : [ { "no" : 1 } ] , "in" : "yes" } } `,
	`[1]`, `"s"`, `{}`, `{"a":[[[]]],"b":{"c":[]}}`,
}

// TestTermsModel: the walk emits exactly the model's terms on valid
// objects.
func TestTermsModel(t *testing.T) {
	for _, p := range append(termSamples, benchPayloads[0].doc, benchPayloads[1].doc, benchPayloads[2].doc) {
		if got, want := terms([]byte(p)), modelTerms(t, []byte(p)); !slices.Equal(got, want) {
			t.Errorf("%s:\n got %q\nwant %q", p, got, want)
		}
	}
}

// FuzzTerms: on any valid JSON in valid UTF-8 (as stored payloads are) the
// walk emits the model's terms; on anything else it does not panic.
func FuzzTerms(f *testing.F) {
	for _, p := range termSamples {
		f.Add([]byte(p))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got := terms(b)
		if !json.Valid(b) || !utf8.Valid(b) {
			return
		}
		if want := modelTerms(t, b); !slices.Equal(got, want) {
			t.Fatalf("%q:\n got %q\nwant %q", b, got, want)
		}
	})
}

// FuzzLookupValue: on valid JSON in valid UTF-8, LookupValue answers what
// decoding the payload and trove.Lookup do.
func FuzzLookupValue(f *testing.F) {
	for _, p := range termSamples {
		f.Add([]byte(p), "a.b")
	}
	f.Fuzz(func(t *testing.T, b []byte, path string) {
		keys := strings.Split(path, ".")
		got, gotOK := LookupValue(b, keys)
		if !json.Valid(b) || !utf8.Valid(b) {
			return
		}
		v, err := trove.DecodePayload(b)
		if err != nil {
			return // not an object
		}
		want, ok := trove.Lookup(v, keys)
		wantKey := ""
		if ok {
			wantKey, ok = ValueKey(want)
		}
		if got != wantKey || gotOK != ok {
			t.Fatalf("LookupValue(%q, %q) = %q %v, want %q %v", b, keys, got, gotOK, wantKey, ok)
		}
	})
}
