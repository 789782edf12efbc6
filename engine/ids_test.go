package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/trovedb/trove"
)

// TestIDsThroughTheLog: the index verifies ids by reading them back from
// the log, wherever it is: new versions of ids whose earlier versions are
// sealed, in memory, or in the same batch; lookups by version after a
// reopen (snapshot) and after a rebuild from the log when the snapshot is
// of the previous format (version 1), which is refused, not misread.
func TestIDsThroughTheLog(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	o := Options{SegmentSize: 8 << 10, SearchIndex: "off"}
	st := openStore(t, dir, o)
	const ids = 300
	saveBatches(t, st, 0, ids, 50) // version 1: sealed by the later writes
	for v := 2; v <= 3; v++ {
		// Versions 2 and 3 of every id, each batch also holding a version
		// of an id that it saves twice.
		for i := 0; i < ids; i += 30 {
			var evs []trove.Event
			for j := i; j < i+30; j++ {
				e := testEvent(j)
				e.ID.Version = v
				evs = append(evs, e)
			}
			if _, err := st.SaveEvents(ctx, evs); err != nil {
				t.Fatalf("save version %d at %d: %v", v, i, err)
			}
		}
	}
	check := func(st *Store, what string) {
		t.Helper()
		for i := range ids {
			id := testEvent(i).ID.ID
			for v := 1; v <= 3; v++ {
				e, err := st.GetEvent(ctx, trove.EventID{ID: id, Version: v})
				if err != nil || e.ID.Version != v || e.ID.ID != id {
					t.Fatalf("%s: %s@%d: %+v %v", what, id, v, e.ID, err)
				}
			}
			if e, err := st.GetEvent(ctx, trove.EventID{ID: id}); err != nil || e.ID.Version != 3 {
				t.Fatalf("%s: latest %s: %+v %v", what, id, e.ID, err)
			}
		}
		if _, err := st.GetEvent(ctx, trove.EventID{ID: "ev-999999"}); !isNotFound(err) {
			t.Fatalf("%s: an id never saved: %v", what, err)
		}
		if rep, err := st.Check(ctx); err != nil {
			t.Fatalf("%s: check: %v %v", what, err, rep.Problems)
		}
	}
	check(st, "live")
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = openStore(t, dir, o)
	check(st, "reopened")
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	// On a copy: versions 4 and 5 of a few ids, then a crash (a copy of
	// the live store: no snapshot at close). Recovery replays them from
	// the WAL after the snapshot, verifying ids at sealed positions and in
	// the replayed entries themselves. Segments are large here, so that
	// no background seal runs while the store is copied.
	big := Options{SearchIndex: "off"}
	work := copyDir(t, dir)
	wst := openStore(t, work, big)
	for v := 4; v <= 5; v++ {
		var evs []trove.Event
		for i := 0; i < ids; i += 7 {
			e := testEvent(i)
			e.ID.Version = v
			evs = append(evs, e)
		}
		if _, err := wst.SaveEvents(ctx, evs); err != nil {
			t.Fatal(err)
		}
	}
	crashed := copyDir(t, work)
	if err := wst.Close(); err != nil {
		t.Fatal(err)
	}
	cst := openStore(t, crashed, big)
	for i := 0; i < ids; i += 7 {
		id := testEvent(i).ID.ID
		for v := 1; v <= 5; v++ {
			if e, err := cst.GetEvent(ctx, trove.EventID{ID: id, Version: v}); err != nil || e.ID.Version != v {
				t.Fatalf("after the crash: %s@%d: %+v %v", id, v, e.ID, err)
			}
		}
		e := testEvent(i)
		e.ID.Version = 6
		if _, err := cst.SaveEvent(ctx, e); err != nil {
			t.Fatalf("after the crash: save %s@6: %v", id, err)
		}
	}
	if rep, err := cst.Check(ctx); err != nil {
		t.Fatalf("after the crash: check: %v %v", err, rep.Problems)
	}
	if err := cst.Close(); err != nil {
		t.Fatal(err)
	}
	// A snapshot of the previous format: the store rebuilds from the log.
	snap := filepath.Join(dir, "index.snap")
	data, err := os.ReadFile(snap)
	if err != nil {
		t.Fatal(err)
	}
	binary.LittleEndian.PutUint32(data[8:], 1)
	if err := os.WriteFile(snap, data, 0o640); err != nil {
		t.Fatal(err)
	}
	st = openStore(t, dir, o)
	defer st.Close()
	check(st, "rebuilt")
	// A new version after the rebuild is checked against the right chain.
	e := testEvent(7)
	e.ID.Version = 4
	if _, err := st.SaveEvent(ctx, e); err != nil {
		t.Fatal(err)
	}
	e.ID.Version = 3
	e.Payload = []byte(`{"other":true}`)
	if _, err := st.SaveEvent(ctx, e); !errors.Is(err, trove.ErrConflict) {
		t.Fatal("a stale version with other content was accepted")
	}
}

func isNotFound(err error) bool { return errors.Is(err, trove.ErrNotFound) }
