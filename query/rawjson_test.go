package query

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/index"
)

var rawKeys = []string{"a", "b", "status", "é", "a.b", "", "x y"}
var rawStrings = []string{"", "ok", "failed", "x y", "é\u00e9", "ok ", "\uFFFD", "[", "{}", "true", "1", "\xff", "ok\xff"}

// rawValue writes a random JSON value (no backslashes: rawMatch's domain),
// objects with repeated keys and odd whitespace included.
func rawValue(r *rand.Rand, b *strings.Builder, depth int) {
	ws := func() {
		if r.IntN(4) == 0 {
			b.WriteString([]string{" ", "\n", "\t", "\r\n  "}[r.IntN(4)])
		}
	}
	ws()
	k := r.IntN(8)
	if depth == 0 && r.IntN(4) > 0 {
		k = 0 // mostly an object at the top, as payloads are
	}
	switch {
	case k < 3 && depth < 3:
		b.WriteByte('{')
		n := r.IntN(4)
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			ws()
			b.WriteString(strconv.Quote(rawKeys[r.IntN(min(len(rawKeys), 2+r.IntN(2)*len(rawKeys)))]))
			ws()
			b.WriteByte(':')
			rawValue(r, b, depth+1)
		}
		ws()
		b.WriteByte('}')
	case k == 3 && depth < 3:
		b.WriteByte('[')
		for i := range r.IntN(3) {
			if i > 0 {
				b.WriteByte(',')
			}
			rawValue(r, b, depth+1)
		}
		b.WriteByte(']')
	case k == 4:
		b.WriteString([]string{"true", "false", "null", "0", "-1.5e3", "12"}[r.IntN(6)])
	default:
		b.WriteByte('"')
		b.WriteString(rawStrings[r.IntN(min(len(rawStrings), 3+r.IntN(2)*len(rawStrings)))])
		b.WriteByte('"')
	}
	ws()
}

// TestRawMatch checks rawMatch against index.LookupValue on random
// payloads: every decided answer must be LookupValue's.
func TestRawMatch(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	decided, total, matches := 0, 0, 0
	for range 20000 {
		var b strings.Builder
		rawValue(r, &b, 0)
		payload := []byte(b.String())
		if bytes.IndexByte(payload, '\\') >= 0 {
			continue
		}
		keys := []string{rawKeys[r.IntN(min(len(rawKeys), 2+r.IntN(2)*len(rawKeys)))]}
		if r.IntN(3) == 0 {
			keys = append(keys, rawKeys[r.IntN(len(rawKeys))])
		}
		v := rawStrings[r.IntN(min(len(rawStrings), 3+r.IntN(2)*len(rawStrings)))]
		lit := literal(v)
		if lit == nil {
			continue
		}
		vk, _ := index.ValueKey(v)
		got, found := index.LookupValue(payload, keys)
		want := found && got == vk
		total++
		if m, ok := rawMatch(payload, keys, lit); ok {
			decided++
			if m {
				matches++
			}
			if m != want {
				t.Fatalf("rawMatch(%s, %q, %q) = %v, LookupValue says %v", payload, keys, v, m, want)
			}
		}
	}
	if decided < total*9/10 || matches < 100 {
		t.Errorf("rawMatch decided %d of %d, %d of them matches", decided, total, matches)
	}
}

// TestPartialPayload checks that lookups in a partially decoded payload
// give what they give in the whole decoded payload.
func TestPartialPayload(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	decided := 0
	for range 20000 {
		var b strings.Builder
		rawValue(r, &b, 0)
		payload := []byte(b.String())
		full, err := trove.DecodePayload(payload)
		if err != nil || bytes.IndexByte(payload, '\\') >= 0 {
			continue
		}
		keys := []string{rawKeys[r.IntN(min(len(rawKeys), 2+r.IntN(2)*len(rawKeys)))]}
		if r.IntN(3) == 0 {
			keys = append(keys, rawKeys[r.IntN(len(rawKeys))])
		}
		top := []string{keys[0]}
		if r.IntN(2) == 0 {
			top = append(top, rawKeys[r.IntN(len(rawKeys))])
		}
		part, ok := partialPayload(payload, top)
		if !ok {
			continue
		}
		decided++
		wv, wok := trove.Lookup(full, keys)
		gv, gok := trove.Lookup(part, keys)
		if wok != gok || !reflect.DeepEqual(wv, gv) {
			t.Fatalf("%s at %q: partial (%v) gives %v %v, whole %v %v", payload, keys, top, gv, gok, wv, wok)
		}
	}
	if decided < 5000 {
		t.Errorf("partialPayload decoded only %d payloads", decided)
	}
}

// benchPayloads: the engine benchmark's event payload and a wider one (no
// backslash: rawMatch's and partialPayload's domain).
var benchPayloads = []struct{ name, doc string }{
	{"event", `{"status":"s42","amount":417,"user":{"name":"user-4417","region":"eu-1"},"message":"request 94417 handled by worker 17 after 2 retries with result ok","tags":["a","b"]}`},
	{"wide", `{"amount":4123.07,"count":17,"kind":"document.uploaded","message":"disk quota exceeded while the upload of the annual report was retried","ok":true,"retries":2,"seq":123456,"status":"ok","tags":["alpha","beta"],"traceId":"t-00000000deadbeef","user":{"name":"Jane Roe","region":"eu-west-1","tier":"gold"},"ratio":-1.5e-3,"nothing":null}`},
}

func BenchmarkRawMatch(b *testing.B) {
	for _, p := range benchPayloads {
		doc := []byte(p.doc)
		for _, path := range []string{"status", "user.region", "missing"} {
			keys := strings.Split(path, ".")
			b.Run(p.name+"/"+path, func(b *testing.B) {
				for b.Loop() {
					if _, ok := rawMatch(doc, keys, []byte("eu-1")); !ok {
						b.Fatal("undecided")
					}
				}
			})
		}
	}
}

func BenchmarkPartialPayload(b *testing.B) {
	for _, p := range benchPayloads {
		doc := []byte(p.doc)
		b.Run(p.name, func(b *testing.B) {
			for b.Loop() {
				if _, ok := partialPayload(doc, []string{"status", "amount"}); !ok {
					b.Fatal("undecided")
				}
			}
		})
	}
}

// FuzzRawMatch: on any valid JSON without a backslash, a decided answer of
// rawMatch is LookupValue's; on anything else rawMatch does not panic.
func FuzzRawMatch(f *testing.F) {
	for _, p := range benchPayloads {
		f.Add([]byte(p.doc), "user.region", "eu-1")
	}
	f.Add([]byte(`{"a":{"b":"x"},"a":{"b":"y"}}`), "a.b", "y")
	f.Add([]byte(`{"a":[1,,2],"b":"x"}`), "b", "x")
	f.Fuzz(func(t *testing.T, payload []byte, path, v string) {
		lit := literal(v)
		keys := strings.Split(path, ".")
		if bytes.IndexByte(payload, '\\') >= 0 || lit == nil || !plainKeys(keys) {
			return
		}
		m, decided := rawMatch(payload, keys, lit)
		if !decided || !json.Valid(payload) {
			return
		}
		vk, _ := index.ValueKey(v)
		got, found := index.LookupValue(payload, keys)
		if want := found && got == vk; m != want {
			t.Fatalf("rawMatch(%s, %q, %q) = %v, LookupValue says %v", payload, keys, v, m, want)
		}
	})
}

// FuzzPartialPayload: on any valid JSON object without a backslash, a
// partial decoding answers the lookups it covers as the whole one does.
func FuzzPartialPayload(f *testing.F) {
	for _, p := range benchPayloads {
		f.Add([]byte(p.doc), "user.region")
	}
	f.Add([]byte(`{"a":{"b":"x"},"a":{"b":"y"}}`), "a.b")
	f.Fuzz(func(t *testing.T, payload []byte, path string) {
		keys := strings.Split(path, ".")
		if bytes.IndexByte(payload, '\\') >= 0 || !plainKeys(keys) {
			return
		}
		part, ok := partialPayload(payload, keys[:1])
		if !ok || !json.Valid(payload) {
			return
		}
		full, err := trove.DecodePayload(payload)
		if err != nil {
			t.Fatalf("partialPayload decoded %q, DecodePayload: %v", payload, err)
		}
		wv, wok := trove.Lookup(full, keys)
		gv, gok := trove.Lookup(part, keys)
		if wok != gok || !reflect.DeepEqual(wv, gv) {
			t.Fatalf("%s at %q: partial gives %v %v, whole %v %v", payload, keys, gv, gok, wv, wok)
		}
	})
}
