package storagetest

import (
	"encoding/json"
	"testing"

	"github.com/trovedb/trove"
)

// testSaveAnonymousSchema: a JSON Schema document without "$id" ({} or
// {"type":"object"}) is a schema like any other; its identity is "", so
// the query {"schema": ""} finds its events, and it survives a reopen.
func testSaveAnonymousSchema(t *testing.T, k *kit) {
	s := k.open(t, "events")
	empty := trove.MustSchema(`{}`)
	object := trove.MustSchema(`{"type":"object","properties":{"n":{"type":"number"}}}`)
	a := s.save(trove.Event{ID: trove.EventID{ID: "anon-a"}, Schema: empty, Payload: json.RawMessage(`{"x":1}`)})
	s.save(trove.Event{ID: trove.EventID{ID: "anon-b"}, Schema: object, Payload: json.RawMessage(`{"n":2}`)})
	s.save(ev("named", "kit.note", `{}`))
	if a.Schema.Identity() != "" || !trove.JSONEqual(a.Schema.Raw(), json.RawMessage(`{}`)) {
		t.Fatalf("saved anonymous schema: %s (identity %q)", a.Schema.Raw(), a.Schema.Identity())
	}
	check := func(when string) {
		t.Helper()
		got := s.query(trove.EventQuery{Schema: []string{""}})
		if ids(got) != "[anon-a anon-b]" {
			t.Fatalf("%s: schema \"\" finds %s", when, ids(got))
		}
		if e := s.get("anon-b", 0); e.Schema.Identity() != "" || !trove.JSONEqual(e.Schema.Raw(), object.Raw()) {
			t.Fatalf("%s: anon-b's schema: %s", when, e.Schema.Raw())
		}
		got = s.query(trove.EventQuery{Sort: []trove.SortField{{Field: "schema"}}})
		if ids(got) != "[anon-a anon-b named]" {
			t.Fatalf("%s: sorted by schema: %s", when, ids(got))
		}
	}
	check("after saving")
	if k.b.Persistent {
		s.reopen()
		check("after a reopen")
	}
}
