package main

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/trovedb/trove/internal/testservices"
)

// TestPostgresStoresSizedAndDropped runs storage-postgres and the
// hand-tuned peer on a server of their own: a store's size is its
// schema's tables and indexes, and removing the store drops the schema,
// so that nothing of a run stays on the server and a run on the same
// path starts empty.
func TestPostgresStoresSizedAndDropped(t *testing.T) {
	server, err := testservices.StartPostgres()
	if err != nil {
		t.Fatalf("cannot start PostgreSQL: %v", err)
	}
	t.Cleanup(server.Remove)
	t.Setenv(postgresDSNEnv, server.DSN(""))
	ctx := context.Background()
	d := NewDataset(3, 200)
	items := make([]Item, 200)
	for i := range items {
		items[i] = d.Item(i)
	}
	for _, name := range []string{"storage-postgres", "postgres (hand-tuned)"} {
		c, ok := findContender(name)
		if !ok {
			t.Fatalf("no contender %q", name)
		}
		if err := c.Available(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		dir := filepath.Join(t.TempDir(), "main")
		save := func() {
			st, err := c.Open(ctx, dir, quietLog)
			if err != nil {
				t.Fatalf("%s: open: %v", name, err)
			}
			if err := st.SaveBatch(ctx, newBatch(items)); err != nil {
				t.Fatalf("%s: save: %v", name, err)
			}
			if err := st.Close(ctx); err != nil {
				t.Fatalf("%s: close: %v", name, err)
			}
		}
		save()
		size, err := c.size(ctx, dir)
		if err != nil {
			t.Fatalf("%s: size: %v", name, err)
		}
		// 200 events of about 725 bytes of JSON, indexed: more than
		// their JSON, less than 2 MiB (a new schema's tables and indexes
		// take a few pages each).
		if size < 200*725 || size > 2<<20 {
			t.Errorf("%s: %d bytes for 200 events", name, size)
		}
		if err := c.remove(ctx, dir); err != nil {
			t.Fatalf("%s: remove: %v", name, err)
		}
		if size, err := c.size(ctx, dir); err != nil || size != 0 {
			t.Errorf("%s: after remove: %d bytes, %v; want 0", name, size, err)
		}
		// The same path again starts empty: the same batch saves anew
		// (the peer's unique index would refuse the ids it still held).
		save()
		if err := c.remove(ctx, dir); err != nil {
			t.Fatalf("%s: remove: %v", name, err)
		}
	}
}
