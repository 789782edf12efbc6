package engine

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/index"
)

// TestConcurrentVersions: many goroutines race to save version 2 of one
// id, some with the same content (idempotent retries), some with other
// content. Exactly one content wins; every other save of other content is
// ErrConflict; positions stay dense.
func TestConcurrentVersions(t *testing.T) {
	st := openStore(t, t.TempDir(), Options{SegmentSize: 8 << 10})
	defer st.Close()
	ctx := context.Background()
	base := testEvent(0)
	if _, err := st.SaveEvent(ctx, base); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	type result struct {
		variant int
		ev      trove.Event
		err     error
	}
	results := make(chan result, 64)
	for g := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := testEvent(0)
			e.ID.Version = 2
			e.Payload = []byte(`{"variant":` + string(rune('0'+g%4)) + `}`)
			saved, err := st.SaveEvent(ctx, e)
			results <- result{g % 4, saved, err}
		}()
	}
	wg.Wait()
	close(results)
	winner := -1
	for r := range results {
		switch {
		case r.err == nil:
			if winner >= 0 && winner != r.variant {
				t.Fatalf("two contents saved as version 2: %d and %d", winner, r.variant)
			}
			winner = r.variant
			if r.ev.Position != 2 {
				t.Fatalf("version 2 at position %d", r.ev.Position)
			}
		case errors.Is(r.err, trove.ErrConflict):
		default:
			t.Fatalf("unexpected error: %v", r.err)
		}
	}
	if winner < 0 {
		t.Fatal("nobody saved version 2")
	}
	if st.Last() != 2 {
		t.Fatalf("last position %d, want 2", st.Last())
	}
}

// TestStickyWriteError: once a write fails, that save and every later one
// fail with the cause, nothing is acknowledged, and Err says why.
func TestStickyWriteError(t *testing.T) {
	st := openStore(t, t.TempDir(), Options{})
	ctx := context.Background()
	if _, err := st.SaveEvent(ctx, testEvent(0)); err != nil {
		t.Fatal(err)
	}
	st.wal.Close() // the next write fails underneath the store
	_, err := st.SaveEvent(ctx, testEvent(1))
	if err == nil {
		t.Fatal("save after a failed write succeeded")
	}
	if st.Err() == nil {
		t.Fatal("Err is nil after a failed write")
	}
	_, err2 := st.SaveEvents(ctx, []trove.Event{testEvent(2)})
	// The closed WAL is the cause; later saves carry it.
	if !errors.Is(err, trove.ErrClosed) || !errors.Is(err2, trove.ErrClosed) || !errors.Is(st.Err(), trove.ErrClosed) {
		t.Fatalf("failed save: %v; later save: %v; Err: %v — want the cause in each", err, err2, st.Err())
	}
	if st.Last() != 1 {
		t.Fatalf("last position %d after failed writes, want 1", st.Last())
	}
	if e, err := st.GetEvent(ctx, trove.EventID{ID: testEvent(0).ID.ID}); err != nil || e.Position != 1 {
		t.Fatalf("reads after a failed write: %v", err)
	}
	st.Close()
}

// TestIndexAheadInvisible: the writer indexes a group while its WAL entry
// is written; until the group is committed, readers must not see it — no
// new events, no new versions, and the versions they would supersede
// still latest.
func TestIndexAheadInvisible(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, t.TempDir(), Options{})
	defer st.Close()
	saveBatches(t, st, 0, 10, 5)
	// Index (only) version 2 of event 3 and a new event at positions 11, 12.
	e3 := testEvent(3)
	err := st.ix.AddBatch(11, []index.Doc{
		{ID: e3.ID.ID, Version: 2, CreatedAt: e3.CreatedAt.UnixMilli(), Schema: testSchema.Identity(), Producer: e3.Producer, Payload: e3.Payload},
		{ID: "ev-new", Version: 1, CreatedAt: e3.CreatedAt.UnixMilli(), Schema: testSchema.Identity(), Producer: e3.Producer, Payload: e3.Payload},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := st.GetEvent(ctx, trove.EventID{ID: e3.ID.ID})
	if err != nil || got.ID.Version != 1 || got.Position != 4 {
		t.Fatalf("get latest of %s: %v %v, want version 1 at position 4", e3.ID.ID, got.ID, err)
	}
	if _, err := st.GetEvent(ctx, trove.EventID{ID: e3.ID.ID, Version: 2}); !errors.Is(err, trove.ErrNotFound) {
		t.Fatalf("get uncommitted version: %v, want ErrNotFound", err)
	}
	if _, err := st.GetEvent(ctx, trove.EventID{ID: "ev-new"}); !errors.Is(err, trove.ErrNotFound) {
		t.Fatalf("get uncommitted event: %v, want ErrNotFound", err)
	}
	res, err := st.QueryEvents(ctx, trove.EventQuery{Producer: []string{e3.Producer}})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range res {
		ids = append(ids, e.ID.String())
	}
	want := 0
	for i := range 10 {
		if testEvent(i).Producer == e3.Producer {
			want++
		}
	}
	if len(res) != want || !slices.Contains(ids, e3.ID.ID+"@1") {
		t.Fatalf("query by producer: %v, want %d events including %s version 1", ids, want, e3.ID.ID)
	}
}
