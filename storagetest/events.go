package storagetest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/trovedb/trove"
)

// schema returns a small JSON Schema document whose identity is id.
func schema(id string) trove.Schema {
	return trove.MustSchema(fmt.Sprintf(`{"$id":%q,"type":"object"}`, id))
}

// ev builds an event with the given id (version 1), schema identity and
// payload.
func ev(id, schemaID, payload string) trove.Event {
	return trove.Event{
		ID:      trove.EventID{ID: id},
		Schema:  schema(schemaID),
		Payload: json.RawMessage(payload),
	}
}

// at parses a wire timestamp and panics on a bad literal.
func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

// sameStored reports how a stored event differs from want ("" when equal),
// comparing every field as a value.
func sameStored(got, want trove.Event) string {
	var d []string
	if got.ID != want.ID {
		d = append(d, fmt.Sprintf("id %v, want %v", got.ID, want.ID))
	}
	if got.Position != want.Position {
		d = append(d, fmt.Sprintf("position %d, want %d", got.Position, want.Position))
	}
	if !got.CreatedAt.Equal(want.CreatedAt) {
		d = append(d, fmt.Sprintf("createdAt %s, want %s", got.CreatedAt, want.CreatedAt))
	}
	if got.Producer != want.Producer {
		d = append(d, fmt.Sprintf("producer %q, want %q", got.Producer, want.Producer))
	}
	if !trove.JSONEqual(got.Schema.Raw(), want.Schema.Raw()) || got.Schema.Identity() != want.Schema.Identity() {
		d = append(d, fmt.Sprintf("schema %s, want %s", got.Schema.Raw(), want.Schema.Raw()))
	}
	if !trove.JSONEqual(got.Payload, want.Payload) {
		d = append(d, fmt.Sprintf("payload %s, want %s", got.Payload, want.Payload))
	}
	if !trove.JSONEqual(got.Metadata, want.Metadata) {
		d = append(d, fmt.Sprintf("metadata %s, want %s", got.Metadata, want.Metadata))
	}
	gf, _ := json.Marshal(nonNil(got.Files))
	wf, _ := json.Marshal(nonNil(want.Files))
	if !trove.JSONEqual(gf, wf) {
		d = append(d, fmt.Sprintf("files %s, want %s", gf, wf))
	}
	gl, _ := json.Marshal(nonNil(got.Links))
	wl, _ := json.Marshal(nonNil(want.Links))
	if !trove.JSONEqual(gl, wl) {
		d = append(d, fmt.Sprintf("links %s, want %s", gl, wl))
	}
	return strings.Join(d, "; ")
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// checkSame fails when got differs from want.
func checkSame(t testing.TB, what string, got, want trove.Event) {
	t.Helper()
	if d := sameStored(got, want); d != "" {
		t.Fatalf("%s: %s", what, d)
	}
}

// ids lists "id" or "id@version" for each event, for readable comparisons.
func ids(events []trove.Event) string {
	parts := make([]string, len(events))
	for i, e := range events {
		if e.ID.Version == 1 {
			parts[i] = e.ID.ID
		} else {
			parts[i] = fmt.Sprintf("%s@%d", e.ID.ID, e.ID.Version)
		}
	}
	return "[" + strings.Join(parts, " ") + "]"
}
