package trove

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCheckJSON(t *testing.T) {
	for _, c := range []struct {
		doc     string
		ok      bool
		compact bool
	}{
		{`{}`, true, true},
		{`{"a":1,"b":[1,2,{"a":1}],"c":{"a":{"a":1}}}`, true, true},
		{`{"a":1,"A":1,"a ":1,"":1}`, true, true},
		{`{"s":"日本 \ud83d\ude00 \u00e9 \/ \\ \""}`, true, true},
		{` {"a" : [ 1 , 2 ] } `, true, false},
		{`{"a":{"b":1},"b":{"b":1}}`, true, true}, // same key in sibling objects
		{`{"a":[{"b":1},{"b":1}]}`, true, true},
		{`{"a":1,"a":1}`, false, false},
		{`{"a":{"b":1,"b":2}}`, false, false},
		{`{"x":{"a":1},"b":2,"x":3}`, false, false},
		{`{"a\n":1,"a\u000a":2}`, false, false},
		{`{"\ud83d\ude00":1,"😀":2}`, false, false},
		{"{\"s\":\"\xff\"}", false, false},
		{"{\"\xfe\":1}", false, false},
		{"{\"s\":\"\xe6\x97\"}", false, false},
		{`{"s":"\ud800"}`, false, false},
		{`{"s":"\ud800\u0041"}`, false, false},
		{`{"s":"\udfff"}`, false, false},
		{`{"a":01}`, false, false},
		{`{"a":1,}`, false, false},
		{`{"a":1}{}`, false, false},
		{`{"a":[1,]}`, false, false},
		{`{"a":"\x"}`, false, false},
		{"{\"a\":\"\x01\"}", false, false},
		{`{`, false, false},
		{``, false, false},
	} {
		compact, err := checkJSONObject([]byte(c.doc))
		if (err == nil) != c.ok || c.ok && compact != c.compact {
			t.Errorf("checkJSONObject(%q) = %v, %v; want ok %v, compact %v", c.doc, compact, err, c.ok, c.compact)
		}
		if err := CheckJSON([]byte(c.doc)); (err == nil) != c.ok || err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("CheckJSON(%q) = %v", c.doc, err)
		}
	}
	for _, s := range []string{`1`, `"x"`, `[1,{"a":1}]`, `null`, ` true `} {
		if err := CheckJSON([]byte(s)); err != nil {
			t.Errorf("CheckJSON(%s): %v", s, err)
		}
	}
	if err := CheckJSON([]byte(`[{"a":1,"a":2}]`)); err == nil {
		t.Error("a repeated key inside an array is accepted")
	}
	// Nesting deeper than encoding/json allows is refused, not a stack overflow.
	deep := strings.Repeat(`{"a":`, maxJSONDepth+1) + "1" + strings.Repeat("}", maxJSONDepth+1)
	if err := CheckJSON([]byte(deep)); err == nil {
		t.Error("nesting past the limit is accepted")
	}
}

// FuzzCheckJSON compares CheckJSON with encoding/json plus a decoded
// model of the two extra rules.
func FuzzCheckJSON(f *testing.F) {
	for _, s := range []string{`{"a":1,"a":2}`, `{"a":{"b":[{"c":1,"d":"\u0063"}]}}`, "{\"\xff\":1}", `{"s":"\ud83d\ude00"}`, ` [1, 2] `, `{"k\u0041":1,"kA":2}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := CheckJSON(b)
		compact, objErr := checkJSONObject(b)
		if (err == nil) != (objErr == nil) && len(bytes.TrimLeft(b, " \t\r\n")) > 0 && bytes.TrimLeft(b, " \t\r\n")[0] == '{' {
			t.Fatalf("CheckJSON %v, checkJSONObject %v", err, objErr)
		}
		want := json.Valid(b) && utf8.Valid(b) && noDupKeys(b) && noLoneSurrogates(b)
		if (err == nil) != want {
			t.Fatalf("CheckJSON(%q) = %v, want ok %v", b, err, want)
		}
		if objErr == nil {
			var buf bytes.Buffer
			_ = json.Compact(&buf, b)
			if compact != bytes.Equal(buf.Bytes(), b) {
				t.Fatalf("checkJSONObject(%q) compact = %v", b, compact)
			}
		}
	})
}

// noDupKeys reports whether no object of the valid JSON b repeats a key,
// by walking its tokens.
func noDupKeys(b []byte) bool {
	d := json.NewDecoder(bytes.NewReader(b))
	type frame struct {
		obj  bool
		seen map[string]bool
		key  bool // the next string token is a key
	}
	var stack []*frame
	for {
		tok, err := d.Token()
		if err != nil {
			return true
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if s, ok := tok.(string); ok && top != nil && top.obj && top.key {
			if top.seen[s] {
				return false
			}
			top.seen[s] = true
			top.key = false
			continue
		}
		switch tok {
		case json.Delim('{'):
			if top != nil && top.obj {
				top.key = true
			}
			stack = append(stack, &frame{obj: true, seen: map[string]bool{}, key: true})
			continue
		case json.Delim('['):
			if top != nil && top.obj {
				top.key = true
			}
			stack = append(stack, &frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			if len(stack) > 0 && stack[len(stack)-1].obj {
				stack[len(stack)-1].key = true
			}
			continue
		}
		if top != nil && top.obj {
			top.key = true
		}
	}
}

// noLoneSurrogates reports whether every \uD800–\uDFFF escape of b is part
// of a high-low pair (b is valid JSON).
func noLoneSurrogates(b []byte) bool {
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		if b[i+1] != 'u' {
			i++
			continue
		}
		r := hexValue(b[i+2 : i+6])
		switch {
		case r >= 0xD800 && r < 0xDC00:
			if i+12 > len(b) || b[i+6] != '\\' || b[i+7] != 'u' {
				return false
			}
			lo := hexValue(b[i+8 : i+12])
			if lo < 0xDC00 || lo > 0xDFFF {
				return false
			}
			i += 11
		case r >= 0xDC00 && r <= 0xDFFF:
			return false
		default:
			i += 5
		}
	}
	return true
}

// hexValue is the value of the four hex digits h.
func hexValue(h []byte) int {
	v, err := strconv.ParseUint(string(h), 16, 32)
	if err != nil {
		panic(err)
	}
	return int(v)
}

// TestCoreRefusesBadJSON: a schema document, a registration, a payload or
// metadata with invalid UTF-8 or a repeated key never reaches the
// storage.
func TestCoreRefusesBadJSON(t *testing.T) {
	c, fake := openFake(t)
	ctx := context.Background()
	for _, doc := range []string{`{"$id":"x","type":"object","type":"array"}`, "{\"$id\":\"x\xff\"}", `{"$id":"x","properties":{"a":{},"a":{}}}`} {
		if _, err := NewSchema(json.RawMessage(doc)); !errors.Is(err, ErrInvalid) {
			t.Errorf("NewSchema(%q): %v", doc, err)
		}
		if _, err := c.RegisterSchema(ctx, RegisteredSchema{ID: "r", Version: "1", Schema: json.RawMessage(doc)}); !errors.Is(err, ErrInvalid) {
			t.Errorf("RegisterSchema(%q): %v", doc, err)
		}
	}
	s := MustSchema(`{"$id":"ok","type":"object"}`)
	for _, e := range []Event{
		{Schema: s, Payload: json.RawMessage(`{"d":1,"d":2}`)},
		{Schema: s, Payload: json.RawMessage("{\"d\":\"\xff\xfe\"}")},
		{Schema: s, Payload: json.RawMessage(`{}`), Metadata: json.RawMessage(`{"m":1,"m":1}`)},
		{Schema: s, Payload: json.RawMessage(`{}`), Producer: "\xff"},
		{Schema: s, Payload: json.RawMessage(`{}`), Links: []EventLink{{Type: "t\xff", TargetEvent: EventID{ID: "x"}}}},
	} {
		if _, err := c.CreateEvent(ctx, e); !errors.Is(err, ErrInvalid) {
			t.Errorf("CreateEvent(%s, meta %s, producer %q): %v", e.Payload, e.Metadata, e.Producer, err)
		}
		if _, err := c.CreateEvents(ctx, []Event{{Schema: s, Payload: json.RawMessage(`{}`)}, e}); !errors.Is(err, ErrInvalid) {
			t.Errorf("CreateEvents with %s: %v", e.Payload, err)
		}
	}
	if len(fake.events) != 0 {
		t.Fatalf("%d events reached the storage", len(fake.events))
	}
}

// TestIdentifierCaps: every identifier is capped in bytes, by default and
// as configured, and the error names the field and the cap.
func TestIdentifierCaps(t *testing.T) {
	ctx := context.Background()
	long := strings.Repeat("x", DefaultMaxIdentifierBytes+1)
	okLen := strings.Repeat("x", DefaultMaxIdentifierBytes)
	c, fake := openFakeWith(t, Config{})
	s := MustSchema(`{"$id":"ok","type":"object"}`)
	for field, e := range map[string]Event{
		"id":                  {ID: EventID{ID: long}, Schema: s, Payload: json.RawMessage(`{}`)},
		"producer":            {Producer: long, Schema: s, Payload: json.RawMessage(`{}`)},
		"schema $id":          {Schema: MustSchema(`{"$id":"` + long + `"}`), Payload: json.RawMessage(`{}`)},
		"schema id":           {Schema: SchemaRef(long, "1"), Payload: json.RawMessage(`{}`)},
		"schema version":      {Schema: SchemaRef("ok", long), Payload: json.RawMessage(`{}`)},
		"link type":           {Schema: s, Payload: json.RawMessage(`{}`), Links: []EventLink{{Type: long, TargetEvent: EventID{ID: "t"}}}},
		"link targetEvent.id": {Schema: s, Payload: json.RawMessage(`{}`), Links: []EventLink{{Type: "t", TargetEvent: EventID{ID: long}}}},
	} {
		_, err := c.CreateEvent(ctx, e)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), field) || !strings.Contains(err.Error(), "256") {
			t.Errorf("%s of %d bytes: %v", field, len(long), err)
		}
	}
	if err := c.SaveLink(ctx, EventID{ID: "a"}, EventLink{Type: long, TargetEvent: EventID{ID: "b"}}); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "link type") {
		t.Errorf("SaveLink with a long type: %v", err)
	}
	for field, r := range map[string]RegisteredSchema{
		"id":      {ID: long, Version: "1", Schema: json.RawMessage(`{}`)},
		"version": {ID: "r", Version: long, Schema: json.RawMessage(`{}`)},
	} {
		if _, err := c.RegisterSchema(ctx, r); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), field) {
			t.Errorf("registration with a long %s: %v", field, err)
		}
	}
	if len(fake.events) != 0 {
		t.Fatalf("%d events stored", len(fake.events))
	}
	// At the cap is fine.
	if _, err := c.CreateEvent(ctx, Event{ID: EventID{ID: okLen}, Producer: okLen, Schema: MustSchema(`{"$id":"` + okLen + `"}`), Payload: json.RawMessage(`{}`),
		Links: []EventLink{{Type: okLen, TargetEvent: EventID{ID: okLen}}}}); err != nil {
		t.Fatalf("identifiers at the cap: %v", err)
	}
	// A smaller configured cap applies.
	small, _ := openFakeWith(t, Config{MaxIdentifierBytes: 8})
	if _, err := small.CreateEvent(ctx, Event{Producer: "123456789", Schema: s, Payload: json.RawMessage(`{}`)}); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "8") {
		t.Errorf("producer over a cap of 8: %v", err)
	}
	if _, err := small.CreateEvent(ctx, Event{Producer: "12345678", Schema: s, Payload: json.RawMessage(`{}`)}); err != nil {
		t.Errorf("producer at a cap of 8: %v", err)
	}
	registerFakes()
	if _, err := Open(ctx, Config{MaxIdentifierBytes: -1, Storage: StorageConfig{Events: PluginConfig{Plugin: "fake-events"}}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("negative cap: %v", err)
	}
}

// TestQueryRefusesBadJSON: a query with a repeated key or invalid UTF-8 is
// ErrInvalid, like any JSON a client sends.
func TestQueryRefusesBadJSON(t *testing.T) {
	for _, q := range []string{`{"limit":1,"limit":2}`, `{"payload":{"a":1,"a":2}}`, "{\"producer\":\"\xff\"}"} {
		var eq EventQuery
		if err := json.Unmarshal([]byte(q), &eq); !errors.Is(err, ErrInvalid) {
			t.Errorf("query %q: %v", q, err)
		}
	}
	var eq EventQuery
	if err := json.Unmarshal([]byte(`{"payload":{"a":1,"b":{"a":2}},"limit":3}`), &eq); err != nil {
		t.Fatal(err)
	}
}

// benchPayloads are the documents the JSON benchmarks of the packages that
// scan payloads share in spirit: the engine benchmark's event payload, a
// wider one with numbers of every form, and one with escapes and non-ASCII
// text.
var benchPayloads = []struct{ name, doc string }{
	{"event", `{"status":"s42","amount":417,"user":{"name":"user-4417","region":"eu-1"},"message":"request 94417 handled by worker 17 after 2 retries with result ok","tags":["a","b"]}`},
	{"wide", `{"amount":4123.07,"count":17,"kind":"document.uploaded","message":"disk quota exceeded while the upload of the annual report was retried","ok":true,"retries":2,"seq":123456,"status":"ok","tags":["alpha","beta"],"traceId":"t-00000000deadbeef","user":{"name":"Jane Roe","region":"eu-west-1","tier":"gold"},"ratio":-1.5e-3,"nothing":null}`},
	{"escaped", `{"title":"Annual \"Report\" 2025","path":"C:\\docs\\r.pdf","text":"caf\u00e9 \ud83d\ude00 日本語のテキスト","lines":"a\nb\tc","author":{"name":"José Müller"}}`},
}

func BenchmarkCheckJSON(b *testing.B) {
	for _, p := range benchPayloads {
		doc := []byte(p.doc)
		b.Run(p.name, func(b *testing.B) {
			b.SetBytes(int64(len(doc)))
			for b.Loop() {
				if err := CheckJSON(doc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
