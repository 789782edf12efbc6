package engine

import "testing"

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
