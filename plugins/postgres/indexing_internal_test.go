package postgres

import (
	"bytes"
	"strings"
	"testing"

	"github.com/trovedb/trove"
)

var indexSeeds = []string{
	`{}`, `[]`, `{"a":1}`, `{"a":"Disk FULL on host-7","b":["x","Y",{"c":"zz top"}]}`,
	`{"s":"nul \u0000 here"}`, `{"s":"pair \ud83d\ude00 ok"}`, `{"s":"esc \"q\" \\ back \n nl \u00e9"}`,
	`{"n":1e999999,"m":-0.5e-3,"k":123456789012345678901234567890}`, `{"a":true,"b":false,"c":null}`,
	`{"t":"ünïcödé wörds ÀÉ","u":"ǅ ﬁ İ"}`, `{"t":"x` + strings.Repeat("y", 3000) + `"}`,
	strings.Repeat(`{"d":`, 600) + `"deep"` + strings.Repeat(`}`, 600),
	strings.Repeat(`[`, 500) + `1` + strings.Repeat(`]`, 500),
	strings.Repeat(`[`, 501) + `1` + strings.Repeat(`]`, 501),
	strings.Repeat(`[`, 501) + strings.Repeat(`]`, 501), strings.Repeat(`[`, 502) + strings.Repeat(`]`, 502),
	`{"a":` + strings.Repeat(`{"b":`, 499) + `{}` + strings.Repeat(`}`, 500), `{"a":` + strings.Repeat(`{"b":`, 500) + `{}` + strings.Repeat(`}`, 501),
	` {"a" : [ 1 , "two" ] } `, `{"a":1} x`, `{"a":01}`, `{"a":1.}`, `{"a":-}`, `{"a":"\x"}`, `{"a":tru}`,
	"{\"a\":\"tab\tinside\"}", `{"a":"\udc00 alone"}`, `"just a string"`, `12`, `{"a.b":"k\u0041y"}`,
}

// The one-pass scanner gives the values decoding gives, for every payload
// a store accepts (trove.CheckJSONObject) and for the seeds, valid or not.
func TestIndexValuesEqualsDecoding(t *testing.T) {
	for _, s := range indexSeeds {
		sameIndexValues(t, []byte(s))
	}
}

func FuzzIndexValues(f *testing.F) {
	for _, s := range indexSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := trove.CheckJSONObject(b); err != nil {
			return // duplicate keys, invalid UTF-8: never stored
		}
		sameIndexValues(t, b)
	})
}

func sameIndexValues(t *testing.T, b []byte) {
	t.Helper()
	j1, s1 := indexValues(b)
	j2, s2 := indexValuesDecoded(b)
	if j1 != j2 {
		t.Errorf("%.80q: jsonb %v, decoding gives %v", b, j1 != nil, j2 != nil)
	}
	v1, _ := s1.(tsvector)
	v2, _ := s2.(tsvector)
	if (s1 == nil) != (s2 == nil) || !bytes.Equal(v1, v2) {
		t.Errorf("%.80q: tsvector %q, decoding gives %q", b, v1, v2)
	}
}

func BenchmarkIndexValues(b *testing.B) {
	p := []byte(`{"status":"ok","traceId":"7f3a9c2e11d04b2a","seq":18231,"amount":129.95,"count":3,"retries":0,"ok":true,` +
		`"user":{"name":"Ada Lovelace","region":"eu-west","tier":"gold"},"tags":["alpha","beta"],"message":"the quick brown fox jumps over the lazy dog again"}`)
	b.Run("scan", func(b *testing.B) {
		for range b.N {
			indexValues(p)
		}
	})
	b.Run("decode", func(b *testing.B) {
		for range b.N {
			indexValuesDecoded(p)
		}
	})
}
