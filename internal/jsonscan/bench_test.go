package jsonscan

import (
	"encoding/json"
	"testing"
)

// benchDocs: an event payload, a wider one, and one with escapes and
// non-ASCII text.
var benchDocs = []struct{ name, doc string }{
	{"event", `{"status":"s42","amount":417,"user":{"name":"user-4417","region":"eu-1"},"message":"request 94417 handled by worker 17 after 2 retries with result ok","tags":["a","b"]}`},
	{"wide", `{"amount":4123.07,"count":17,"kind":"document.uploaded","message":"disk quota exceeded while the upload of the annual report was retried","ok":true,"retries":2,"seq":123456,"status":"ok","tags":["alpha","beta"],"traceId":"t-00000000deadbeef","user":{"name":"Jane Roe","region":"eu-west-1","tier":"gold"},"ratio":-1.5e-3,"nothing":null}`},
	{"escaped", `{"title":"Annual \"Report\" 2025","path":"C:\\docs\\r.pdf","text":"caf\u00e9 \ud83d\ude00 日本語のテキスト","lines":"a\nb\tc","author":{"name":"José Müller"}}`},
}

// BenchmarkScan reads every token, in both modes; json.Valid, which
// only checks, is the reference.
func BenchmarkScan(b *testing.B) {
	for _, d := range benchDocs {
		doc := []byte(d.doc)
		for _, mode := range []string{"standard", "strict", "json.Valid"} {
			b.Run(d.name+"/"+mode, func(b *testing.B) {
				b.SetBytes(int64(len(doc)))
				for b.Loop() {
					if mode == "json.Valid" {
						if !json.Valid(doc) {
							b.Fatal("invalid")
						}
						continue
					}
					s := New(doc)
					if mode == "strict" {
						s = NewStrict(doc)
					}
					for k := s.Next(); k != End; k = s.Next() {
						if k == Invalid {
							b.Fatal(s.Err())
						}
					}
				}
			})
		}
	}
}
