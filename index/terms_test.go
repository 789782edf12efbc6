package index

import (
	"strings"
	"testing"
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
