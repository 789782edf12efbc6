package storagetest

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/trovedb/trove"
)

func saveTests() []test {
	return []test{
		{"Defaults", testSaveDefaults},
		{"KeepsFields", testSaveKeepsFields},
		{"JSONShape", testSaveJSONShape},
		{"ReturnsCopies", testSaveReturnsCopies},
		{"Positions", testSavePositions},
		{"IdempotentRetry", testSaveIdempotentRetry},
		{"Conflict", testSaveConflict},
		{"Versions", testSaveVersions},
		{"GetNotFound", testGetNotFound},
		{"Invalid", testSaveInvalid},
		{"SchemaReference", testSaveSchemaReference},
		{"AnonymousSchema", testSaveAnonymousSchema},
	}
}

func testSaveDefaults(t *testing.T, k *kit) {
	s := k.open(t, "events")
	before := time.Now().UTC().Truncate(time.Millisecond)
	got := s.save(trove.Event{Schema: schema("kit.note"), Payload: json.RawMessage(`{"text":"hi"}`)})
	after := time.Now().UTC()
	u, err := uuid.Parse(got.ID.ID)
	if err != nil || u.Version() != 7 || u.String() != got.ID.ID {
		t.Fatalf("generated id %q is not a UUIDv7 string (%v)", got.ID.ID, err)
	}
	if got.ID.Version != 1 {
		t.Fatalf("version %d, want 1", got.ID.Version)
	}
	if got.CreatedAt.Before(before) || got.CreatedAt.After(after) {
		t.Fatalf("createdAt %s not within [%s, %s]", got.CreatedAt, before, after)
	}
	if got.CreatedAt.Location() != time.UTC || !got.CreatedAt.Equal(got.CreatedAt.Truncate(time.Millisecond)) {
		t.Fatalf("createdAt %s is not UTC with millisecond precision", got.CreatedAt)
	}
	if got.Producer != trove.DefaultProducer {
		t.Fatalf("producer %q, want %q", got.Producer, trove.DefaultProducer)
	}
	if got.Position != 1 {
		t.Fatalf("first position %d, want 1", got.Position)
	}
	if len(got.Files) != 0 || len(got.Links) != 0 || got.Metadata != nil {
		t.Fatalf("unexpected files/links/metadata: %+v", got)
	}
	checkSame(t, "GetEvent after save", s.get(got.ID.ID, 0), got)
	second := s.save(trove.Event{Schema: schema("kit.note"), Payload: json.RawMessage(`{}`)})
	if second.ID.ID == got.ID.ID || second.ID.ID <= got.ID.ID {
		t.Fatalf("second generated id %q is not after %q (UUIDv7 is time-ordered)", second.ID.ID, got.ID.ID)
	}
	if second.Position != 2 {
		t.Fatalf("second position %d, want 2", second.Position)
	}
}

func fullEvent() trove.Event {
	loc := time.FixedZone("+02:00", 2*3600)
	return trove.Event{
		ID:        trove.EventID{ID: "kit-full", Version: 1},
		CreatedAt: time.Date(2025, 4, 15, 10, 54, 58, 123456789, loc),
		Producer:  "web-api",
		Schema:    trove.MustSchema(`{"$id":"document.uploaded+v1.0.0","type":"object","properties":{"title":{"type":"string"}}}`),
		Payload:   json.RawMessage(`{"title": "Annual Report", "author": {"name": "Jane", "age": 41}, "tags": ["a", "b"], "draft": false, "note": null, "ratio": 1.5}`),
		Files: []trove.EventFile{{ID: "f1", ContentType: "application/pdf", Filename: "r.pdf", Size: 1048576,
			Hash: "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"},
			{ID: "ref-1", IsReference: true, Data: "s3://bucket/key"}},
		Links: []trove.EventLink{{Type: "parent", TargetEvent: trove.EventID{ID: "kit-other"}},
			{Type: "pinned", TargetEvent: trove.EventID{ID: "kit-other", Version: 2}, Metadata: json.RawMessage(`{"why":"x"}`)}},
		Metadata: json.RawMessage(`{"ip": "10.0.0.1"}`),
	}
}

func testSaveKeepsFields(t *testing.T, k *kit) {
	s := k.open(t, "events")
	in := fullEvent()
	got := s.save(in)
	want := in
	want.CreatedAt = at("2025-04-15T08:54:58.123Z")
	want.Position = 1
	checkSame(t, "SaveEvent result", got, want)
	if got.CreatedAt.Location() != time.UTC {
		t.Fatalf("createdAt %s not in UTC", got.CreatedAt)
	}
	checkSame(t, "GetEvent", s.get("kit-full", 0), want)
	checkSame(t, "GetEvent version 1", s.get("kit-full", 1), want)
	if r := s.all(); len(r) != 1 {
		t.Fatalf("query all: %d events, want 1", len(r))
	} else {
		checkSame(t, "QueryEvents", r[0], want)
	}
}

func testSaveJSONShape(t *testing.T, k *kit) {
	s := k.open(t, "events")
	got := s.save(ev("kit-shape", "kit.note", `{"a":1}`))
	b, err := json.Marshal(s.get("kit-shape", 0))
	noErr(t, "marshal", err)
	var m map[string]json.RawMessage
	noErr(t, "unmarshal", json.Unmarshal(b, &m))
	if string(m["files"]) != "[]" || string(m["links"]) != "[]" {
		t.Fatalf("files %s and links %s must be arrays: %s", m["files"], m["links"], b)
	}
	if _, ok := m["metadata"]; ok {
		t.Fatalf("metadata present though unset: %s", b)
	}
	if string(m["id"]) != `{"id":"kit-shape","version":1}` {
		t.Fatalf("id shape %s", m["id"])
	}
	var created string
	noErr(t, "createdAt", json.Unmarshal(m["createdAt"], &created))
	if _, err := time.Parse("2006-01-02T15:04:05.000Z", created); err != nil {
		t.Fatalf("createdAt %q is not YYYY-MM-DDTHH:mm:ss.sssZ", created)
	}
	var back trove.Event
	noErr(t, "round trip", json.Unmarshal(b, &back))
	checkSame(t, "JSON round trip", back, got)

	full := s.save(fullEvent())
	b, err = json.Marshal(full)
	noErr(t, "marshal", err)
	back = trove.Event{}
	noErr(t, "round trip", json.Unmarshal(b, &back))
	checkSame(t, "JSON round trip of a full event", back, full)
}

func testSaveReturnsCopies(t *testing.T, k *kit) {
	s := k.open(t, "events")
	in := fullEvent()
	got := s.save(in)
	want := got.Clone()
	// Changing the caller's input or the returned event changes nothing stored.
	in.Payload[2] = 'X'
	in.Files[0].ID = "changed"
	in.Links[0].Type = "changed"
	mutate := func(e trove.Event) {
		if len(e.Payload) > 2 {
			e.Payload[2] = 'Y'
		}
		if len(e.Metadata) > 2 {
			e.Metadata[2] = 'Y'
		}
		if len(e.Files) > 0 {
			e.Files[0].Filename = "changed"
		}
		if len(e.Links) > 0 {
			e.Links[0].Type = "changed"
			if len(e.Links[1].Metadata) > 2 {
				e.Links[1].Metadata[2] = 'Y'
			}
		}
	}
	mutate(got)
	g := s.get("kit-full", 0)
	checkSame(t, "after changing the saved and returned events", g, want)
	mutate(g)
	q := s.all()
	checkSame(t, "after changing a GetEvent result", q[0], want)
	mutate(q[0])
	checkSame(t, "after changing a QueryEvents result", s.get("kit-full", 0), want)
}

func testSavePositions(t *testing.T, k *kit) {
	s := k.open(t, "events")
	var last uint64
	for i := range 20 {
		e := ev("", "kit.note", `{"i":`+itoa(i)+`}`)
		if i%5 == 4 {
			// a failing save in between does not disturb the order
			_, err := s.ev.SaveEvent(s.ctx, ev("", "kit.note", `[]`))
			wantErr(t, "invalid save", err, trove.ErrInvalid)
		}
		got := s.save(e)
		if i == 0 && got.Position != 1 || got.Position <= last {
			t.Fatalf("save %d: position %d after %d", i, got.Position, last)
		}
		last = got.Position
	}
	all := s.all()
	for i, e := range all {
		if e.Position != uint64(i+1) {
			t.Fatalf("query: event %d has position %d, want %d (strictly increasing from 1)", i, e.Position, i+1)
		}
	}
}

func testSaveIdempotentRetry(t *testing.T, k *kit) {
	s := k.open(t, "events")
	in := fullEvent()
	first := s.save(in)
	s.save(ev("kit-between", "kit.note", `{}`))
	again := s.save(in)
	checkSame(t, "retry with the same content", again, first)
	// Without createdAt (the store assigned it) and with file sizes and hashes
	// left for the store: still the same event.
	loose := fullEvent()
	loose.CreatedAt = time.Time{}
	loose.Files[0].Hash = ""
	loose.Payload = json.RawMessage(`{"ratio":1.50,"note":null,"draft":false,"tags":["a","b"],"author":{"age":41,"name":"Jane"},"title":"Annual Report"}`)
	checkSame(t, "retry without createdAt, keys reordered", s.save(loose), first)
	if n := len(s.all()); n != 2 {
		t.Fatalf("%d events stored after retries, want 2", n)
	}
	// A retry of version 1 after version 2 exists still returns version 1.
	v2 := ev("kit-full", "kit.note", `{"v":2}`)
	v2.ID.Version = 2
	s.save(v2)
	checkSame(t, "retry of an older version", s.save(in), first)
	// Version 0 means 1: a retry too.
	plain := s.save(ev("kit-plain", "kit.note", `{"x":1}`))
	checkSame(t, "retry with version 0", s.save(ev("kit-plain", "kit.note", `{"x":1}`)), plain)
}

func testSaveConflict(t *testing.T, k *kit) {
	s := k.open(t, "events")
	first := s.save(fullEvent())
	changes := map[string]func(e *trove.Event){
		"payload":        func(e *trove.Event) { e.Payload = json.RawMessage(`{"title":"Other"}`) },
		"producer":       func(e *trove.Event) { e.Producer = "other" },
		"createdAt":      func(e *trove.Event) { e.CreatedAt = e.CreatedAt.Add(time.Second) },
		"schema":         func(e *trove.Event) { e.Schema = schema("other") },
		"metadata":       func(e *trove.Event) { e.Metadata = json.RawMessage(`{"ip":"x"}`) },
		"no metadata":    func(e *trove.Event) { e.Metadata = nil },
		"files":          func(e *trove.Event) { e.Files = e.Files[:1] },
		"file hash":      func(e *trove.Event) { e.Files[0].Hash = "sha256:00" },
		"links":          func(e *trove.Event) { e.Links = nil },
		"link target":    func(e *trove.Event) { e.Links[0].TargetEvent.ID = "else" },
		"number payload": func(e *trove.Event) { e.Payload = bytes.Replace(e.Payload, []byte("41"), []byte("42"), 1) },
	}
	for name, change := range changes {
		e := fullEvent()
		change(&e)
		_, err := s.ev.SaveEvent(s.ctx, e)
		wantErr(t, "save with other "+name, err, trove.ErrConflict)
	}
	checkSame(t, "stored event after conflicts", s.get("kit-full", 0), first)
	if n := len(s.all()); n != 1 {
		t.Fatalf("%d events after conflicts, want 1", n)
	}
}

func testSaveVersions(t *testing.T, k *kit) {
	s := k.open(t, "events")
	v1 := s.save(ev("kit-v", "kit.note", `{"v":1}`))
	v2in := ev("kit-v", "kit.note", `{"v":2}`)
	v2in.ID.Version = 2
	v2in.Producer = "second"
	v2 := s.save(v2in)
	if v2.ID.Version != 2 || v2.Position <= v1.Position {
		t.Fatalf("version 2 saved as %v at position %d (v1 at %d)", v2.ID, v2.Position, v1.Position)
	}
	gap := ev("kit-v", "kit.note", `{"v":4}`)
	gap.ID.Version = 4
	_, err := s.ev.SaveEvent(s.ctx, gap)
	wantErr(t, "version 4 when latest is 2", err, trove.ErrConflict)
	gap.ID = trove.EventID{ID: "kit-new", Version: 2}
	_, err = s.ev.SaveEvent(s.ctx, gap)
	wantErr(t, "version 2 of an id that does not exist", err, trove.ErrConflict)
	checkSame(t, "latest", s.get("kit-v", 0), v2)
	checkSame(t, "version 1", s.get("kit-v", 1), v1)
	checkSame(t, "version 2", s.get("kit-v", 2), v2)
	if got := ids(s.query(trove.EventQuery{})); got != "[kit-v@2]" {
		t.Fatalf("latest versions: %s, want [kit-v@2]", got)
	}
	if got := ids(s.all()); got != "[kit-v kit-v@2]" {
		t.Fatalf("all versions: %s", got)
	}
	v3in := ev("kit-v", "kit.other", `{"v":3}`)
	v3in.ID.Version = 3
	v3 := s.save(v3in)
	checkSame(t, "version 3 (another schema)", s.get("kit-v", 0), v3)
}

func testGetNotFound(t *testing.T, k *kit) {
	s := k.open(t, "events")
	s.save(ev("kit-a", "kit.note", `{}`))
	for _, id := range []trove.EventID{{ID: "kit-missing"}, {ID: "kit-a", Version: 2}, {ID: "kit-missing", Version: 1}, {ID: ""}} {
		_, err := s.ev.GetEvent(s.ctx, id)
		wantErr(t, "GetEvent("+id.String()+")", err, trove.ErrNotFound)
	}
}

func testSaveInvalid(t *testing.T, k *kit) {
	s := k.open(t, "events")
	bad := map[string]trove.Event{
		"payload array":     ev("kit-bad", "kit.note", `[1,2]`),
		"payload string":    ev("kit-bad", "kit.note", `"x"`),
		"payload number":    ev("kit-bad", "kit.note", `1`),
		"payload null":      ev("kit-bad", "kit.note", `null`),
		"payload missing":   {ID: trove.EventID{ID: "kit-bad"}, Schema: schema("kit.note")},
		"payload broken":    ev("kit-bad", "kit.note", `{"a":`),
		"no schema":         {ID: trove.EventID{ID: "kit-bad"}, Payload: json.RawMessage(`{}`)},
		"negative version":  {ID: trove.EventID{ID: "kit-bad", Version: -1}, Schema: schema("kit.note"), Payload: json.RawMessage(`{}`)},
		"metadata array":    {ID: trove.EventID{ID: "kit-bad"}, Schema: schema("kit.note"), Payload: json.RawMessage(`{}`), Metadata: json.RawMessage(`[1]`)},
		"file id traversal": {ID: trove.EventID{ID: "kit-bad"}, Schema: schema("kit.note"), Payload: json.RawMessage(`{}`), Files: []trove.EventFile{{ID: "../x"}}},
		"file id empty":     {ID: trove.EventID{ID: "kit-bad"}, Schema: schema("kit.note"), Payload: json.RawMessage(`{}`), Files: []trove.EventFile{{ID: ""}}},
		"link without type": {ID: trove.EventID{ID: "kit-bad"}, Schema: schema("kit.note"), Payload: json.RawMessage(`{}`),
			Links: []trove.EventLink{{TargetEvent: trove.EventID{ID: "x"}}}},
		"link without target": {ID: trove.EventID{ID: "kit-bad"}, Schema: schema("kit.note"), Payload: json.RawMessage(`{}`),
			Links: []trove.EventLink{{Type: "parent"}}},
	}
	for name, e := range bad {
		_, err := s.ev.SaveEvent(s.ctx, e)
		wantErr(t, "save with "+name, err, trove.ErrInvalid)
	}
	if n := len(s.all()); n != 0 {
		t.Fatalf("%d events stored after invalid saves, want 0", n)
	}
	_, err := s.ev.GetEvent(s.ctx, trove.EventID{ID: "kit-bad"})
	wantErr(t, "GetEvent of a refused event", err, trove.ErrNotFound)
	// The store still works and positions start at 1.
	if got := s.save(ev("kit-good", "kit.note", `{}`)); got.Position != 1 {
		t.Fatalf("first good save after refusals has position %d, want 1", got.Position)
	}
}

func testSaveSchemaReference(t *testing.T, k *kit) {
	s := k.open(t, "events")
	e := trove.Event{ID: trove.EventID{ID: "kit-ref"}, Schema: trove.SchemaRef("invoice", "2"), Payload: json.RawMessage(`{"n":1}`)}
	got := s.save(e)
	if got.Schema.Identity() != "invoice" || !got.Schema.IsReference() || got.Schema.RefVersion() != "2" {
		t.Fatalf("reference schema came back as %s", got.Schema.Raw())
	}
	checkSame(t, "GetEvent", s.get("kit-ref", 0), got)
	if r := s.query(trove.EventQuery{Schema: []string{"invoice"}}); ids(r) != "[kit-ref]" {
		t.Fatalf("query by reference identity: %s", ids(r))
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}
