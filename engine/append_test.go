package engine

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/trovedb/trove"
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
