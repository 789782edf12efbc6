package main

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/plugins/memory"
)

// noSchemaStore serves every role through storage-memory but hides its
// schema store, as a persistent backend without one would.
type noSchemaStore struct {
	trove.Plugin
	trove.EventStorage
	trove.FileStorage
	trove.LinkStorage
}

func init() {
	trove.Register("troved-test-no-schema-store", func(json.RawMessage) (trove.Plugin, error) {
		m := memory.New(memory.Options{})
		return noSchemaStore{m, m, m, m}, nil
	})
}

func TestSchemaFile(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	cfg := filepath.Join(t.TempDir(), "c.json")
	if err := os.WriteFile(cfg, []byte(`{"storage":{"events":{"plugin":"troved-test-no-schema-store"}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	open := func() (*trove.Core, *schemaFile) {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		var sf storeFlags
		sf.register(fs)
		if err := fs.Parse([]string{"--config", cfg, "--data", data}); err != nil {
			t.Fatal(err)
		}
		st, err := sf.resolve(fs)
		if err != nil {
			t.Fatal(err)
		}
		core, file, err := openStore(ctx, st, quietLogger())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = core.Shutdown(ctx) })
		if file == nil {
			t.Fatal("no schema file for a storage without a schema store")
		}
		return core, file
	}
	core, file := open()
	for _, v := range []string{"1", "2"} {
		if _, err := core.RegisterSchema(ctx, trove.RegisteredSchema{ID: "user", Version: v, Schema: json.RawMessage(`{"type":"object"}`)}); err != nil {
			t.Fatal(err)
		}
		if err := file.save(ctx); err != nil {
			t.Fatal(err)
		}
	}
	core2, _ := open()
	if got := core2.Schemas(); len(got) != 2 || got[1].Version != "2" {
		t.Fatalf("schemas after reopen: %+v", got)
	}

	// Storages that keep schemas themselves, or nothing at all, get no file.
	for _, storage := range []string{"storage-log", "storage-memory"} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		var sf storeFlags
		sf.register(fs)
		_ = fs.Parse([]string{"--storage", storage, "--data", t.TempDir()})
		st, err := sf.resolve(fs)
		if err != nil {
			t.Fatal(err)
		}
		core, file, err := openStore(ctx, st, quietLogger())
		if err != nil {
			t.Fatal(err)
		}
		if file != nil {
			t.Errorf("%s: a schema file", storage)
		}
		_ = core.Shutdown(ctx)
	}
}
