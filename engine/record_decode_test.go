package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/segment"
)

// TestDecodeEventRoundTrip: every field comes back as encoded, the decoded
// event shares no memory with the record, and its fields, which share one
// array, are independent: writing or appending to one leaves the others
// (and a second decoding) as they were.
func TestDecodeEventRoundTrip(t *testing.T) {
	schemas := []trove.Schema{testSchema, trove.MustSchema(`{"$id":"other+v1","type":"object"}`)}
	created := time.UnixMilli(1_700_000_123_456).UTC()
	cases := map[string]trove.Event{
		"plain": {ID: trove.EventID{ID: "ev-1", Version: 1}, Producer: "p", Schema: schemas[1],
			Payload: json.RawMessage(`{"a":1}`)},
		"empty payload and producer": {ID: trove.EventID{ID: "ev-2", Version: 3}, Schema: schemas[0],
			Payload: json.RawMessage{}},
		"everything": {ID: trove.EventID{ID: "ev-3", Version: 2}, Producer: "producer-x", Schema: schemas[1],
			Payload:  json.RawMessage(`{"text":"héllo","n":[1,2,3]}`),
			Metadata: json.RawMessage(`{"ip":"10.0.0.1"}`),
			Files:    []trove.EventFile{{ID: "f-1", ContentType: "text/plain", Size: 12, Hash: "sha256:00"}},
			Links: []trove.EventLink{
				{Type: "parent", TargetEvent: trove.EventID{ID: "ev-1", Version: 1}, Metadata: json.RawMessage(`{"w":2}`)},
				{Type: "relates-to", TargetEvent: trove.EventID{ID: "ev-2"}},
			}},
	}
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			num := uint32(0)
			if want.Schema.Identity() == schemas[1].Identity() {
				num = 1
			}
			body := appendEvent(nil, &want, num)
			rec := segment.Record{Type: recEvent, Position: 42, Time: created.UnixMilli(), Body: body}
			got, err := decodeEvent(&rec, schemas)
			if err != nil {
				t.Fatal(err)
			}
			want.Position, want.CreatedAt = 42, created
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("decoded\n%+v\nwant\n%+v", got, want)
			}
			orig := bytes.Clone(body)
			for i := range got.Payload {
				got.Payload[i] = 'x'
			}
			got.Payload = append(got.Payload, "appended past the payload"...)
			got.Metadata = append(got.Metadata, '!')
			for i := range got.Links {
				got.Links[i].Metadata = append(got.Links[i].Metadata, '!')
			}
			if !bytes.Equal(body, orig) {
				t.Fatal("writing the decoded payload changed the record")
			}
			again, _ := decodeEvent(&rec, schemas)
			if !reflect.DeepEqual(again, want) {
				t.Fatalf("decoded again\n%+v\nwant\n%+v", again, want)
			}
			if got.ID != want.ID || got.Producer != want.Producer {
				t.Fatalf("writing the payload changed id %v or producer %q", got.ID, got.Producer)
			}
			for i, l := range got.Links {
				if l.Type != want.Links[i].Type || l.TargetEvent != want.Links[i].TargetEvent {
					t.Fatalf("link %d changed to %+v", i, l)
				}
			}
		})
	}
}

// TestDecodeEventDamaged: a truncated body, an unknown schema number and a
// link count past the body are errRecord, never a panic.
func TestDecodeEventDamaged(t *testing.T) {
	e := trove.Event{ID: trove.EventID{ID: "ev-1", Version: 1}, Producer: "p", Schema: testSchema,
		Payload:  json.RawMessage(`{"a":1}`),
		Metadata: json.RawMessage(`{"m":1}`),
		Links:    []trove.EventLink{{Type: "parent", TargetEvent: trove.EventID{ID: "ev-0"}}}}
	body := appendEvent(nil, &e, 0)
	schemas := []trove.Schema{testSchema}
	for n := range len(body) {
		rec := segment.Record{Type: recEvent, Position: 1, Body: body[:n]}
		if _, err := decodeEvent(&rec, schemas); !errors.Is(err, errRecord) {
			t.Fatalf("body cut at %d of %d: %v", n, len(body), err)
		}
	}
	rec := segment.Record{Type: recEvent, Position: 1, Body: appendEvent(nil, &e, 5)}
	if _, err := decodeEvent(&rec, schemas); !errors.Is(err, errRecord) {
		t.Fatalf("unknown schema number: %v", err)
	}
	many := appendEvent(nil, &trove.Event{ID: trove.EventID{ID: "x"}, Payload: json.RawMessage(`{}`)}, 0)
	many[len(many)-1] = 100 // 100 links, no bytes for them
	rec = segment.Record{Type: recEvent, Position: 1, Body: many}
	if _, err := decodeEvent(&rec, schemas); !errors.Is(err, errRecord) {
		t.Fatalf("link count past the body: %v", err)
	}
}
