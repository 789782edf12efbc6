package engine

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/trovedb/trove"
)

var errStop = errors.New("stop")

// TestStats: the figures move with the work done.
func TestStats(t *testing.T) {
	ctx := context.Background()
	p := NewPlugin(t.TempDir(), Options{SegmentSize: 8 << 10, BlockSize: 1 << 10, SearchIndex: "on"})
	if p.Stats() != nil {
		t.Fatal("stats before Initialize")
	}
	if err := p.Initialize(ctx, nil); err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(ctx)
	st, _ := p.Store()
	zero := p.Stats()
	for _, k := range []string{"fsyncs", "bytes_written", "index_lag", "open_readers", "events", "segments", "writer_stall_max_seconds",
		"segment_index_repairs", "segment_indexes_unchecked", "segment_read_bytes"} {
		if v, ok := zero[k]; !ok || v != 0 {
			t.Fatalf("fresh store: %s = %v (present %v), want 0", k, v, ok)
		}
	}
	saveBatches(t, st, 0, 200, 5)
	for len(st.view.Load().segs) == 0 {
		time.Sleep(time.Millisecond) // seals run in the background
	}
	got := p.Stats()
	if got["events"] != 200 || got["segments"] == 0 || got["writer_stall_max_seconds"] <= 0 {
		t.Fatalf("after 200 events: %v", got)
	}
	// 40 group commits at least, plus the segments' and snapshots' fsyncs.
	if got["fsyncs"] < 40+2*got["segments"] || got["bytes_written"] < 200*50 {
		t.Fatalf("after 200 events in 40 batches: %v", got)
	}
	sealed := float64(st.view.Load().segs[len(st.view.Load().segs)-1].meta.LastPosition)
	if lag := got["index_lag"]; lag < 200-sealed || lag > 200 {
		t.Fatalf("index_lag %v, want between %v and 200", lag, 200-sealed)
	}
	sealed = float64(st.view.Load().segs[len(st.view.Load().segs)-1].meta.LastPosition)
	for {
		more, err := st.srch.Step(false)
		if err != nil {
			t.Fatal(err)
		}
		if !more {
			break
		}
	}
	// Every event sealed by then is indexed (a seal may have followed).
	if lag := p.Stats()["index_lag"]; lag > 200-sealed {
		t.Fatalf("sealed events indexed: index_lag %v, want at most %v", lag, 200-sealed)
	}
	// Saving, sealing and indexing the log kept no segment's table or
	// dictionary in memory; a read keeps those of the segment it reads.
	if n := p.Stats()["segment_read_bytes"]; n != 0 {
		t.Fatalf("segment_read_bytes after saves, seals and indexing: %v, want 0", n)
	}
	if _, err := st.GetEvent(ctx, testEvent(0).ID); err != nil {
		t.Fatal(err)
	}
	if n := p.Stats()["segment_read_bytes"]; n <= 0 {
		t.Fatalf("segment_read_bytes after a read of a sealed event: %v, want > 0", n)
	}
	// A reader in flight is counted while it runs.
	err := st.Replay(ctx, 0, func(trove.Event) error {
		if n := st.Stats()["open_readers"]; n != 1 {
			t.Errorf("open_readers during a replay: %v, want 1", n)
		}
		return errStop
	})
	if err != errStop {
		t.Fatal(err)
	}
	if n := st.Stats()["open_readers"]; n != 0 {
		t.Fatalf("open_readers after the replay: %v", n)
	}
	before := st.Stats()
	if _, err := st.SaveEvent(ctx, testEvent(200)); err != nil {
		t.Fatal(err)
	}
	after := st.Stats()
	if after["fsyncs"] < before["fsyncs"]+1 || after["bytes_written"] <= before["bytes_written"] || after["events"] != 201 {
		t.Fatalf("one save: %v → %v", before, after)
	}
}
