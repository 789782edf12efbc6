package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/trovedb/trove"
)

// objectMembersCases are objects trove.CheckJSON accepts, shaped to trip a
// splitter: escaped keys and quotes, brackets inside strings, white space
// everywhere, nesting, every kind of value.
var objectMembersCases = []string{
	`{}`,
	` { } `,
	`{"a":1}`,
	"{\n\t\"a\" :\r\n -1.5e+3 ,\"b\":true,\"c\":false,\"d\":null }\n",
	`{"schema":{"$id":"x","type":"object"},"payload":{"s":"a}b]c{d[","q":"say \"hi\" \\"}}`,
	`{"k\"ey":"v","k\\":"w","\u00e9t\u00e9":[1,[2,[3,{"x":"]"}]]]}`,
	`{"payload":{"a":[{},[],"",0]},"links":[],"files":[{"id":"f\\u0041"}]}`,
	`{"emoji":"😀","\ud83d\ude00":"pair"}`,
	`{"n":0,"m":123456789012345678901234567890}`,
}

// objectMembers gives what json.Unmarshal into map[string]json.RawMessage
// gives, for every object CheckJSON accepts.
func TestObjectMembersMatchesEncodingJSON(t *testing.T) {
	for _, c := range objectMembersCases {
		t.Run(c, func(t *testing.T) { checkObjectMembers(t, []byte(c)) })
	}
}

// What is not an object of that form is left to encoding/json.
func TestObjectMembersRefusesWhatIsNotAnObject(t *testing.T) {
	for _, c := range []string{``, `[]`, `"s"`, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{"a":1 "b":2}`, `{"a":1}x`, `{"a":"1}`, `{"a":1,"a":2}`, `{a:1}`} {
		if m, ok := objectMembers([]byte(c)); ok {
			t.Errorf("%q: split into %v", c, m)
		}
	}
}

func checkObjectMembers(t *testing.T, raw []byte) {
	t.Helper()
	var want map[string]json.RawMessage
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatalf("encoding/json: %v", err)
	}
	got, ok := objectMembers(raw)
	if !ok {
		t.Fatalf("objectMembers(%q) refused it", raw)
	}
	if len(got) != len(want) {
		t.Fatalf("objectMembers(%q) = %d members, want %d", raw, len(got), len(want))
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || string(g) != string(v) {
			t.Errorf("objectMembers(%q)[%q] = %q, want %q", raw, k, g, v)
		}
	}
}

func FuzzObjectMembers(f *testing.F) {
	for _, c := range objectMembersCases {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, s string) {
		raw := []byte(s)
		if trove.CheckJSON(raw) != nil {
			objectMembers(raw) // it is never given such input; it must not panic
			return
		}
		if kind(raw) != '{' {
			if _, ok := objectMembers(raw); ok {
				t.Fatalf("objectMembers split a non-object %q", raw)
			}
			return
		}
		checkObjectMembers(t, raw)
	})
}

// writeEvents and writeEvent answer byte for byte what writeJSON answers,
// HTML-sensitive characters and line separators included.
func TestWriteEventsMatchesWriteJSON(t *testing.T) {
	at := time.Date(2025, 4, 15, 8, 54, 58, 123e6, time.UTC)
	events := []trove.Event{
		{ID: trove.EventID{ID: "a", Version: 1}, Position: 1, CreatedAt: at, Producer: "p<&>",
			Schema: trove.MustSchema(`{"$id":"s<1>","type":"object"}`), Payload: json.RawMessage(`{"t":"<b>&amp;\u2028 \u2029"}`)},
		{ID: trove.EventID{ID: "b", Version: 2}, Position: 2, CreatedAt: at, Producer: "core",
			Schema: trove.SchemaRef("r", "1"), Payload: json.RawMessage(`{}`), Metadata: json.RawMessage(`{"ip":"::1"}`),
			Files: []trove.EventFile{{ID: "f", Size: 3, Hash: "sha256:00"}},
			Links: []trove.EventLink{{Type: "parent", TargetEvent: trove.EventID{ID: "a"}}}},
	}
	for _, evs := range [][]trove.Event{nil, {}, events[:1], events} {
		want, got := httptest.NewRecorder(), httptest.NewRecorder()
		writeJSON(want, 201, map[string]any{"events": evs})
		writeEvents(got, 201, evs)
		compareAnswers(t, fmt.Sprintf("%d events", len(evs)), want, got)
	}
	for _, e := range events {
		want, got := httptest.NewRecorder(), httptest.NewRecorder()
		writeJSON(want, 201, e)
		writeEvent(got, 201, e)
		compareAnswers(t, e.ID.ID, want, got)
	}
}

func compareAnswers(t *testing.T, name string, want, got *httptest.ResponseRecorder) {
	t.Helper()
	if got.Code != want.Code || got.Body.String() != want.Body.String() || !reflect.DeepEqual(got.Header(), want.Header()) {
		t.Errorf("%s: answer\n%d %v %s\nwant\n%d %v %s", name, got.Code, got.Header(), got.Body, want.Code, want.Header(), want.Body)
	}
}

// The schema cache answers what trove.NewSchema answers, keeps only what
// parsed, and stays within its bounds.
func TestSchemaCacheAnswersAsNewSchema(t *testing.T) {
	c := newSchemaCache()
	docs := []string{`{"$id":"a","type":"object"}`, `{"id":"r","version":2}`, `{}`, `{"id":"r","version":"1","x":1}`, ` {"$id" : "a"} `}
	for range 2 {
		for _, d := range docs {
			want, werr := trove.NewSchema(json.RawMessage(d))
			got, err := c.parse(json.RawMessage(d))
			if (err == nil) != (werr == nil) || !reflect.DeepEqual(got, want) {
				t.Errorf("%s: %+v, %v; want %+v, %v", d, got, err, want, werr)
			}
		}
	}
	for _, bad := range []string{`{"$id":1}`, `[1]`} {
		_, werr := trove.NewSchema(json.RawMessage(bad))
		if _, err := c.parse(json.RawMessage(bad)); err == nil || werr == nil || err.Error() != werr.Error() {
			t.Errorf("%s: %v, want %v", bad, err, werr)
		}
		if _, kept := c.mu.m[bad]; kept {
			t.Errorf("%s: a schema that failed was kept", bad)
		}
	}
	big := `{"$id":"big","description":"` + strings.Repeat("x", maxCachedSchema) + `"}`
	if _, err := c.parse(json.RawMessage(big)); err != nil {
		t.Fatal(err)
	}
	if _, kept := c.mu.m[big]; kept {
		t.Error("a schema over maxCachedSchema was kept")
	}
	for i := 0; c.mu.bytes <= maxCachedSchemaBytes && i < 2*maxCachedSchemaBytes/1000; i++ {
		d := fmt.Sprintf(`{"$id":"s%d","description":"%s"}`, i, strings.Repeat("y", 1000))
		if _, err := c.parse(json.RawMessage(d)); err != nil {
			t.Fatal(err)
		}
		if c.mu.bytes > maxCachedSchemaBytes {
			t.Fatalf("cache holds %d bytes", c.mu.bytes)
		}
	}
}

// decodeArrayCases are batch bodies, good and bad in every way the array
// around the events can be.
var decodeArrayCases = []string{
	`[]`, ` [ ] `, "[\n]\n", `[` + benchEvent + `]`, ` [ ` + benchEvent + " ,\n" + benchEvent + ` ] `,
	`[` + benchEvent + `,` + strings.ReplaceAll(benchEvent, `"n":1`, `"s":"a\\\"]}{["`) + `]`,
	``, ` `, `{}`, `[`, `[ `, `]`, `[,]`, `[` + benchEvent, `[` + benchEvent + `,`, `[` + benchEvent + `,]`,
	`[` + benchEvent + ` ` + benchEvent + `]`, `[` + benchEvent + `]]`, `[` + benchEvent + `] x`, `[` + benchEvent + `][]`,
	`[1]`, `["x"]`, `[null]`, `[[]]`, `[{}]`, `[{"schema":{}}]`, `[{"a":1,"a":2}]`, `[{"a":"` + "\xff" + `"}]`,
	`[{"a":tru}]`, `[{"a":1}}]`, `[{"a":"}]`, `[{"a" 1}]`, `[` + benchEvent + `,{"payload":{}}]`,
	`[` + strings.Repeat(benchEvent+",", 4) + benchEvent + `]`, // past the cap of 3
	`[` + strings.Repeat(benchEvent+",", 2) + benchEvent + `]`, // at the cap
}

const benchEvent = `{"schema":{"$id":"note","type":"object"},"payload":{"n":1,"t":"<x>"},"producer":"p","id":{"id":"e1","version":1}}`

// decodeArray decides every body as encoding/json's decoder does: the
// same events, or the same error text, read whole or a byte at a time.
func TestDecodeArrayMatchesTheStreamingDecoder(t *testing.T) {
	for _, c := range decodeArrayCases {
		checkDecodeArray(t, c)
	}
	// Events larger than a read buffer, split across buffers.
	big := strings.Replace(benchEvent, `"t":"<x>"`, `"t":"`+strings.Repeat(`ab\"c`, arrayChunk/2)+`"`, 1)
	checkDecodeArray(t, "["+big+","+big+"]")
	checkDecodeArray(t, "["+big+","+big+"]x")
	// A read error after the events read so far.
	c := caps{maxBatch: 3, maxID: 1024}
	body := func() io.Reader {
		return io.MultiReader(strings.NewReader("["+benchEvent+","), errReader{errors.New("broken body")})
	}
	_, want := c.decodeArraySlow(body())
	_, got := c.decodeArray(body())
	if fmt.Sprint(got) != fmt.Sprint(want) || got == nil {
		t.Errorf("read error: %v, want %v", got, want)
	}
}

func checkDecodeArray(t *testing.T, body string) {
	t.Helper()
	c := caps{maxBatch: 3, maxID: 1024, schemas: newSchemaCache()}
	want, werr := c.decodeArraySlow(strings.NewReader(body))
	for _, r := range []io.Reader{strings.NewReader(body), iotest.OneByteReader(strings.NewReader(body)), iotest.HalfReader(strings.NewReader(body))} {
		got, err := c.decodeArray(r)
		if fmt.Sprint(err) != fmt.Sprint(werr) {
			t.Fatalf("%.80q: error %v, want %v", body, err, werr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%.80q: events differ:\n%+v\nwant\n%+v", body, got, want)
		}
	}
}

func FuzzDecodeArray(f *testing.F) {
	for _, c := range decodeArrayCases {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, body string) { checkDecodeArray(t, body) })
}
