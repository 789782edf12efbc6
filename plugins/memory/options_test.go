package memory_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/plugins/memory"
)

func TestFactoryOptions(t *testing.T) {
	dir := t.TempDir()
	for name, opts := range map[string]string{"absent": "", "empty": `{}`, "null": `null`, "tempDir": `{"tempDir":` + mustJSON(dir) + `}`} {
		p, err := trove.NewPlugin(memory.Name, json.RawMessage(opts))
		if err != nil {
			t.Fatalf("%s options: %v", name, err)
		}
		if p.Name() != memory.Name {
			t.Fatalf("name %q", p.Name())
		}
	}
	for _, bad := range []string{`[]`, `{"tempDir":5}`, `{`} {
		if _, err := trove.NewPlugin(memory.Name, json.RawMessage(bad)); !errors.Is(err, trove.ErrInvalid) {
			t.Fatalf("options %s: %v, want ErrInvalid", bad, err)
		}
	}
}

func TestFileBytesLiveUnderTempDirUntilShutdown(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := memory.New(memory.Options{TempDir: dir})
	if err := s.Initialize(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SaveFile(ctx, trove.EventFile{ID: "a"}, stringsReader("bytes")); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("%d entries under TempDir, want the store's own directory", len(entries))
	}
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("Shutdown left %d entries under TempDir", len(entries))
	}
}

func TestInstancesShareNothing(t *testing.T) {
	ctx := context.Background()
	a, b := memory.New(memory.Options{TempDir: t.TempDir()}), memory.New(memory.Options{TempDir: t.TempDir()})
	for _, s := range []*memory.Store{a, b} {
		if err := s.Initialize(ctx, nil); err != nil {
			t.Fatal(err)
		}
		defer s.Shutdown(ctx)
	}
	e := trove.Event{ID: trove.EventID{ID: "x"}, Schema: trove.MustSchema(`{"$id":"s","type":"object"}`), Payload: json.RawMessage(`{}`)}
	if _, err := a.SaveEvent(ctx, e); err != nil {
		t.Fatal(err)
	}
	if _, err := b.GetEvent(ctx, trove.EventID{ID: "x"}); !errors.Is(err, trove.ErrNotFound) {
		t.Fatalf("an event saved in one store is visible in another: %v", err)
	}
	if got, _ := b.SaveEvent(ctx, e); got.Position != 1 {
		t.Fatalf("second store's first position %d", got.Position)
	}
}

func TestThroughCore(t *testing.T) {
	ctx := context.Background()
	core, err := trove.Open(ctx, trove.Config{Storage: trove.StorageConfig{
		Events: trove.PluginConfig{Plugin: memory.Name},
		Links:  trove.PluginConfig{Plugin: trove.UseEventStorage},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer core.Shutdown(ctx)
	data := []byte("hello")
	e, err := core.CreateEvent(ctx, trove.Event{
		Schema:  trove.MustSchema(`{"$id":"note+v1","type":"object","required":["text"]}`),
		Payload: json.RawMessage(`{"text":"hi"}`),
	}, trove.Upload{File: trove.EventFile{ID: "greeting.txt"}, Data: stringsReader(string(data))})
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Files) != 1 || e.Files[0].Size != 5 || e.Files[0].Hash == "" {
		t.Fatalf("files %+v", e.Files)
	}
	if _, err := core.RegisterSchema(ctx, trove.RegisteredSchema{ID: "invoice", Version: "1", Schema: json.RawMessage(`{"type":"object"}`)}); err != nil {
		t.Fatal(err)
	}
	list, err := core.Events().(trove.SchemaStore).ListSchemas(ctx)
	if err != nil || len(list) != 1 || list[0].ID != "invoice" {
		t.Fatalf("schema store: %+v, %v", list, err)
	}
	if _, err := core.CreateEvent(ctx, trove.Event{Schema: trove.SchemaRef("invoice", "1"), Payload: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	got, err := core.QueryEvents(ctx, trove.EventQuery{Schema: []string{"note+v1", "invoice"}})
	if err != nil || len(got) != 2 {
		t.Fatalf("query: %d events, %v", len(got), err)
	}
}

func mustJSON(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }
