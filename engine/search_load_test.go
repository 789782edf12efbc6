package engine

import (
	"context"
	"testing"
	"time"

	"github.com/trovedb/trove"
)

// TestSearchLoadMeter: the indexer sees the store as busy while a save is
// in flight, or when saves took at least searchBusyLoad of the last window,
// and idle otherwise.
func TestSearchLoadMeter(t *testing.T) {
	s := &Store{}
	m := loadMeter{at: time.Now().Add(-time.Second)}
	if m.busyNow(s) {
		t.Fatal("busy with no save at all")
	}
	m.at = time.Now().Add(-time.Second)
	s.stats.saveNanos.Add(int64(300 * time.Millisecond)) // 30% of the window
	if !m.busyNow(s) {
		t.Fatal("not busy after saves took 30% of the window")
	}
	m.at = time.Now().Add(-time.Second)
	s.stats.saveNanos.Add(int64(100 * time.Millisecond)) // 10%
	if m.busyNow(s) {
		t.Fatal("busy after saves took 10% of the window")
	}
	start := s.saveBegin()
	if !m.busyNow(s) {
		t.Fatal("not busy while a save is in flight")
	}
	time.Sleep(time.Millisecond)
	s.saveEnd(start)
	if s.stats.saving.Load() != 0 || s.stats.saveNanos.Load() < int64(400*time.Millisecond+time.Millisecond) {
		t.Fatalf("after the save: %d in flight, %d ns counted", s.stats.saving.Load(), s.stats.saveNanos.Load())
	}
}

// TestSearchCatchesUpAfterIngest: sealed events saved while the indexer
// defers to the saves are all indexed once the saves stop, and searches
// are exact throughout.
func TestSearchCatchesUpAfterIngest(t *testing.T) {
	st := openStore(t, t.TempDir(), Options{SegmentSize: 16 << 10})
	defer st.Close()
	saveBatches(t, st, 0, 1500, 50)
	ctx := context.Background()
	search := func() int {
		t.Helper()
		evs, err := st.QueryEvents(ctx, trove.EventQuery{Search: "text:number"})
		if err != nil {
			t.Fatal(err)
		}
		return len(evs)
	}
	if got := search(); got != 1500 {
		t.Fatalf("search during ingest: %d events, want 1500", got)
	}
	deadline := time.Now().Add(time.Minute)
	for st.srch.UpTo() < uint32(st.Last()) {
		if time.Now().After(deadline) {
			t.Fatalf("index at %d of %d a minute after the saves stopped", st.srch.UpTo(), st.Last())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := search(); got != 1500 {
		t.Fatalf("search once indexed: %d events, want 1500", got)
	}
}
