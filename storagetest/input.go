package storagetest

import (
	"encoding/json"
	"testing"

	"github.com/trovedb/trove"
)

func inputTests() []test {
	return []test{
		{"BadJSONRefused", testInputBadJSON},
	}
}

// badJSONEvents are events whose JSON no client could read back the same
// way everywhere: invalid UTF-8 and repeated keys, anywhere.
func badJSONEvents() map[string]trove.Event {
	p := func(payload string) trove.Event { return ev("kit-bad-json", "kit.note", payload) }
	withMeta := func(meta string) trove.Event {
		e := p(`{}`)
		e.Metadata = json.RawMessage(meta)
		return e
	}
	return map[string]trove.Event{
		"invalid UTF-8 in a string":        p("{\"s\":\"ok \xff\xfe\"}"),
		"invalid UTF-8 in a key":           p("{\"k\xff\":1}"),
		"invalid UTF-8 nested":             p("{\"a\":{\"b\":[\"x\",\"\xc3\"]}}"),
		"overlong UTF-8":                   p("{\"s\":\"\xc0\xaf\"}"),
		"UTF-8 surrogate bytes":            p("{\"s\":\"\xed\xa0\x80\"}"),
		"unpaired escaped surrogate":       p(`{"s":"\ud800"}`),
		"lone low surrogate":               p(`{"s":"\udc00x"}`),
		"duplicate key":                    p(`{"d":1,"d":2}`),
		"duplicate key nested":             p(`{"a":{"d":1,"e":0,"d":2}}`),
		"duplicate key in an array":        p(`{"a":[{"d":1,"d":1}]}`),
		"duplicate key once escaped":       p(`{"a":1,"\u0061":2}`),
		"duplicate key among many":         p(`{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,"k11":11,"k12":12,"k13":13,"k14":14,"k15":15,"k16":16,"k17":17,"k7":0}`),
		"invalid UTF-8 in metadata":        withMeta("{\"ip\":\"\xff\"}"),
		"duplicate key in metadata":        withMeta(`{"ip":"a","ip":"b"}`),
		"invalid UTF-8 in the producer":    {ID: trove.EventID{ID: "kit-bad-json"}, Producer: "p\xff", Schema: schema("kit.note"), Payload: json.RawMessage(`{}`)},
		"invalid UTF-8 in the id":          {ID: trove.EventID{ID: "kit-\xff"}, Schema: schema("kit.note"), Payload: json.RawMessage(`{}`)},
		"duplicate key with spaces around": p(`{ "d" : 1 , "d" : 2 }`),
	}
}

// testInputBadJSON: every backend refuses invalid UTF-8 and repeated keys
// with ErrInvalid, stores nothing, and keeps the keys that only look
// alike.
func testInputBadJSON(t *testing.T, k *kit) {
	s := k.open(t, "events")
	for name, e := range badJSONEvents() {
		_, err := s.ev.SaveEvent(s.ctx, e)
		wantErr(t, "save with "+name, err, trove.ErrInvalid)
		if k.batch {
			_, err := batchSave(s, []trove.Event{ev("kit-ok", "kit.note", `{}`), e})
			wantErr(t, "batch with "+name, err, trove.ErrInvalid)
		}
	}
	if n := len(s.all()); n != 0 {
		t.Fatalf("%d events stored after refused saves, want 0", n)
	}
	// Alike but distinct keys, and valid text of every kind, are kept as sent.
	good := s.save(ev("kit-good-json", "kit.note", `{"d":1,"D":2,"a":{"d":3},"b":[{"d":1},{"d":2}],"é":"日本 \ud83d\ude00","e\u0301":1,"":0}`))
	got := s.get("kit-good-json", 0)
	checkSame(t, "valid JSON round trip", got, good)
	runQueryCases(t, s, []queryCase{
		{name: "d", q: trove.EventQuery{Payload: map[string]any{"d": json.Number("1")}}, want: "[kit-good-json]"},
		{name: "nested d", q: trove.EventQuery{Payload: map[string]any{"a.d": json.Number("3")}}, want: "[kit-good-json]"},
		{name: "escaped text", q: trove.EventQuery{Payload: map[string]any{"é": "日本 😀"}}, want: "[kit-good-json]"},
	})
}
