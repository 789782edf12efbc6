package trove_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/trovedb/trove"
	_ "github.com/trovedb/trove/plugins/memory"
)

// The README's embedding example, run as a test.
func Example() {
	ctx := context.Background()
	core, err := trove.Open(ctx, trove.Config{Storage: trove.StorageConfig{
		Events: trove.PluginConfig{Plugin: "storage-memory"},
	}})
	if err != nil {
		panic(err)
	}
	defer core.Shutdown(ctx)

	ev, err := core.CreateEvent(ctx, trove.Event{
		Producer: "web-api",
		Schema:   trove.MustSchema(`{"$id":"note+v1","type":"object","required":["text"]}`),
		Payload:  json.RawMessage(`{"text":"hello"}`),
	})
	if err != nil {
		panic(err)
	}
	notes, err := core.QueryEvents(ctx, trove.EventQuery{Schema: []string{"note+v1"}})
	if err != nil {
		panic(err)
	}
	fmt.Println(ev.ID.Version, ev.Position, len(notes), string(notes[0].Payload))

	_, err = core.CreateEvent(ctx, trove.Event{
		Schema:  trove.MustSchema(`{"$id":"note+v1","type":"object","required":["text"]}`),
		Payload: json.RawMessage(`{}`),
	})
	fmt.Println(err)
	// Output:
	// 1 1 1 {"text":"hello"}
	// trove: invalid: payload does not match schema note+v1: /: missing property 'text'
}
