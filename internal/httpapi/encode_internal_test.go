package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/trovedb/trove"
)

// encodeCases are stored events shaped to trip a hand-written encoder:
// every optional field set and unset, strings that need every kind of
// escape, JSON values with white space, null metadata, invalid UTF-8,
// invalid JSON (which json.Marshal refuses: a 500).
func encodeCases() []trove.Event {
	at := time.Date(2025, 4, 15, 8, 54, 58, 123e6, time.UTC)
	src := &trove.EventID{ID: "src", Version: 3}
	return []trove.Event{
		{},
		{ID: trove.EventID{ID: "a"}, Payload: json.RawMessage(`{}`)},
		{ID: trove.EventID{ID: "a", Version: 1}, Position: 1, CreatedAt: at, Producer: "p", Schema: trove.MustSchema(`{"$id":"s","type":"object"}`), Payload: json.RawMessage(`{"a":1}`)},
		{ID: trove.EventID{ID: "e<&>\"\\\n\t\x01\u2028\u2029é😀\xff", Version: -1}, Position: 1<<64 - 1, CreatedAt: time.Date(-1, 12, 31, 23, 59, 59, 999e6, time.FixedZone("x", 3600)), Producer: "<script>",
			Schema: trove.SchemaRef("r<", "1&"), Payload: json.RawMessage(" { \"t\" : \"<b>&amp;\u2028 \u2029\" , \"n\" : [ 1 , 2.5e3 , null , true ] } "),
			Metadata: json.RawMessage("\n{\"ip\": \"::1\"}\n")},
		{ID: trove.EventID{ID: "m"}, Payload: json.RawMessage(`{}`), Metadata: json.RawMessage(` null `)},
		{ID: trove.EventID{ID: "m"}, Payload: json.RawMessage(`{}`), Metadata: json.RawMessage(`null`)},
		{ID: trove.EventID{ID: "m"}, Payload: json.RawMessage(`{}`), Metadata: json.RawMessage(`{}`)},
		{ID: trove.EventID{ID: "f"}, Payload: json.RawMessage(`{"x":"\u00e9\ud83d\ude00"}`),
			Files: []trove.EventFile{{ID: "f1", Size: 3, Hash: "sha256:00"}, {ID: "f<2>", ContentType: "text/html; charset=utf-8", Filename: "a&b.txt", Size: -1, IsReference: true, Data: "s3://b/k?x=1&y=2"}, {}},
			Links: []trove.EventLink{{Type: "parent", TargetEvent: trove.EventID{ID: "a"}}, {Type: "t<", TargetEvent: trove.EventID{ID: "b", Version: 2}, Metadata: json.RawMessage(` {"m" : 1} `), SourceEvent: src},
				{Metadata: json.RawMessage(`null`)}, {}}},
		{ID: trove.EventID{ID: "scalar"}, Payload: json.RawMessage(`"just a string"`)},
		{ID: trove.EventID{ID: "num"}, Payload: json.RawMessage(` 12 `)},
		{ID: trove.EventID{ID: "bad payload"}, Payload: json.RawMessage(`{"a":}`)},
		{ID: trove.EventID{ID: "bad metadata"}, Payload: json.RawMessage(`{}`), Metadata: json.RawMessage(`{`)},
		{ID: trove.EventID{ID: "trailing"}, Payload: json.RawMessage(`{} {}`)},
		{ID: trove.EventID{ID: "bad link metadata"}, Payload: json.RawMessage(`{}`), Links: []trove.EventLink{{Type: "t", Metadata: json.RawMessage(`  `)}}},
		{ID: trove.EventID{ID: "utf8"}, Payload: json.RawMessage("{\"\xff\":\"\xfe\"}"), Producer: "\xff"},
	}
}

// writeEvent, writeEvents and the minimal answers answer byte for byte
// what writeJSON (json.Marshal) answers, for every event, a 500 included
// when the event cannot be encoded.
func TestEventEncoderMatchesEncodingJSON(t *testing.T) {
	events := encodeCases()
	for i, e := range events {
		checkEncoder(t, fmt.Sprint(i), e)
	}
	want, got := httptest.NewRecorder(), httptest.NewRecorder()
	writeJSON(want, 201, map[string]any{"events": events[:3]})
	writeEvents(got, 201, events[:3])
	compareAnswers(t, "batch", want, got)
}

func checkEncoder(t *testing.T, name string, e trove.Event) {
	t.Helper()
	want, got := httptest.NewRecorder(), httptest.NewRecorder()
	writeJSON(want, 201, e)
	writeEvent(got, 201, e)
	compareAnswers(t, name, want, got)
	want, got = httptest.NewRecorder(), httptest.NewRecorder()
	writeJSON(want, 201, map[string]any{"events": []trove.Event{e, e}})
	writeEvents(got, 201, []trove.Event{e, e})
	compareAnswers(t, name+" in a batch", want, got)
	want, got = httptest.NewRecorder(), httptest.NewRecorder()
	writeJSON(want, 201, savedRef{ID: e.ID, Position: e.Position})
	writeRef(got, e)
	compareAnswers(t, name+" minimal", want, got)
	want, got = httptest.NewRecorder(), httptest.NewRecorder()
	writeJSON(want, 201, map[string]any{"events": []savedRef{{e.ID, e.Position}, {e.ID, e.Position}}})
	writeRefs(got, []trove.Event{e, e})
	compareAnswers(t, name+" minimal batch", want, got)
}

func FuzzEventEncoder(f *testing.F) {
	for _, e := range encodeCases() {
		f.Add(e.ID.ID, int64(e.ID.Version), e.Position, e.CreatedAt.UnixMilli(), e.Producer, string(e.Schema.Raw()), string(e.Payload), string(e.Metadata), "f", "text/plain", "t", `{"m":1}`, 2)
	}
	f.Fuzz(func(t *testing.T, id string, version int64, position uint64, ms int64, producer, schema, payload, metadata, file, ctype, link, linkMeta string, n int) {
		e := trove.Event{ID: trove.EventID{ID: id, Version: int(version)}, Position: position, Producer: producer,
			Payload: json.RawMessage(payload), Metadata: json.RawMessage(metadata)}
		if ms != 0 {
			e.CreatedAt = time.UnixMilli(ms)
		}
		if s, err := trove.NewSchema(json.RawMessage(schema)); err == nil {
			e.Schema = s
		}
		for i := range n % 4 {
			e.Files = append(e.Files, trove.EventFile{ID: file, ContentType: ctype, Filename: link, Size: version, Hash: id, IsReference: i%2 == 1, Data: producer})
			l := trove.EventLink{Type: link, TargetEvent: trove.EventID{ID: file, Version: i}}
			if i > 0 {
				l.Metadata = json.RawMessage(linkMeta)
				l.SourceEvent = &e.ID
			}
			e.Links = append(e.Links, l)
		}
		checkEncoder(t, "fuzz", e)
	})
}
