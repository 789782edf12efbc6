package engine

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/trovedb/trove"
)

// snapIdentity returns what tells two snapshot files apart: each snapshot
// is published as a new file (atomic rename), so its inode changes.
func snapIdentity(t *testing.T, dir string) os.FileInfo {
	t.Helper()
	fi, err := os.Stat(filepath.Join(dir, "index.snap"))
	if err != nil {
		t.Fatal(err)
	}
	return fi
}

// TestCloseKeepsCurrentSnapshot: closing a store that took no write since
// its snapshot keeps the snapshot; any write since (an event, a link, a
// registered schema) makes Close write a new one, which the next Open
// loads with that write in it.
func TestCloseKeepsCurrentSnapshot(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	o := Options{SearchIndex: "off"}
	st := openStore(t, dir, o)
	saveBatches(t, st, 0, 100, 25)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	first := snapIdentity(t, dir)

	// Reads only: the snapshot stays.
	st = openStore(t, dir, o)
	checkEvents(t, st, 100)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(first, snapIdentity(t, dir)) {
		t.Fatal("a read-only session rewrote the snapshot")
	}

	writes := []struct {
		name  string
		write func(st *Store) error
		check func(st *Store) error
	}{
		{"event", func(st *Store) error {
			_, err := st.SaveEvent(ctx, testEvent(100))
			return err
		}, func(st *Store) error {
			_, err := st.GetEvent(ctx, testEvent(100).ID)
			return err
		}},
		{"link", func(st *Store) error {
			return st.SaveLink(ctx, testEvent(1).ID, trove.EventLink{Type: "see", TargetEvent: testEvent(2).ID})
		}, func(st *Store) error {
			links, err := st.GetLinks(ctx, testEvent(1).ID, trove.LinkOptions{})
			if err == nil && len(links) != 1 {
				t.Fatalf("links after reopen: %+v", links)
			}
			return err
		}},
		{"schema", func(st *Store) error {
			return st.SaveSchema(ctx, trove.RegisteredSchema{ID: "s", Version: "1", Schema: []byte(`{"type":"object"}`)})
		}, func(st *Store) error {
			got, err := st.ListSchemas(ctx)
			if err == nil && len(got) != 1 {
				t.Fatalf("schemas after reopen: %+v", got)
			}
			return err
		}},
	}
	for _, w := range writes {
		before := snapIdentity(t, dir)
		st = openStore(t, dir, o)
		if err := w.write(st); err != nil {
			t.Fatalf("%s: %v", w.name, err)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		if os.SameFile(before, snapIdentity(t, dir)) {
			t.Fatalf("%s: Close kept a snapshot that misses the write", w.name)
		}
		// The new snapshot covers the WAL's last entry: the next Open
		// replays nothing, and finds the write in the snapshot.
		st = openStore(t, dir, o)
		if st.w.snapWAL == 0 || st.w.snapWAL != st.wal.NextIndex()-1 {
			t.Fatalf("%s: snapshot covers WAL entry %d, the WAL ends at %d", w.name, st.w.snapWAL, st.wal.NextIndex()-1)
		}
		if err := w.check(st); err != nil {
			t.Fatalf("%s after reopen: %v", w.name, err)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
