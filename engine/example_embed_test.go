package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/trovedb/trove"
	_ "github.com/trovedb/trove/engine" // registers storage-log
)

// Embedding the default engine: storage-log in a directory, serving
// events, files and links. The README shows this example.
func Example_embed() {
	dir, err := os.MkdirTemp("", "trove-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	ctx := context.Background()
	opts, _ := json.Marshal(map[string]any{"directory": dir})
	core, err := trove.Open(ctx, trove.Config{Storage: trove.StorageConfig{
		Events: trove.PluginConfig{Plugin: "storage-log", Options: opts},
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
	fmt.Println(ev.Position, len(notes), string(notes[0].Payload))
	// Output:
	// 1 1 {"text":"hello"}
}
