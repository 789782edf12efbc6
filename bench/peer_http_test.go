package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/trovedb/trove"
)

// The HTTP contenders run every write workload through the harness, and
// show file saves as n/a (their bodies carry no files entries).
func TestHTTPContendersRunTheWriteWorkloads(t *testing.T) {
	ctx := context.Background()
	names := []string{"http troved", "http troved minimal", "http echo", "http echo minimal"}
	o := options{out: t.TempDir(), data: t.TempDir(), inProcess: true, quick: true, events: 300, seed: 7,
		only: strings.Join(names, ",")}
	res, err := runAll(ctx, o, tinyConfig(), quietLog, quietProgress)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Contenders) != len(names) {
		t.Fatalf("ran %d contenders, want %d", len(res.Contenders), len(names))
	}
	for _, c := range res.Contenders {
		if c.Status != statusOK {
			t.Errorf("%s: status %s (%s)", c.Name, c.Status, c.Reason)
			continue
		}
		if m := c.Workloads[wIngest]; !m.ok() || m.Ops != 300 {
			t.Errorf("%s: ingest %+v, want 300 events", c.Name, m)
		}
		for _, w := range tinyConfig().Writers {
			if m := c.Workloads[saveWorkload(w)]; !m.ok() || m.Ops == 0 {
				t.Errorf("%s: %d writers: %+v", c.Name, w, m)
			}
		}
		if m := c.Workloads[wFiles]; m.NA == "" {
			t.Errorf("%s: file saves should be n/a, got %+v", c.Name, m)
		}
	}
	if m := find(t, res, "http troved").Workloads[wDisk]; !m.ok() || m.Value <= 0 {
		t.Errorf("http troved disk bytes: %+v", m)
	}
}

// What the troved contender posts is stored: the events of a batch and a
// single save (one of them with a file, posted without its files entry)
// are in the store after Close, with their ids.
func TestHTTPTrovedStoresWhatItPosts(t *testing.T) {
	ctx := context.Background()
	c, ok := findContender("http troved")
	if !ok {
		t.Fatal("no http troved contender")
	}
	dir := t.TempDir()
	st, err := c.Open(ctx, dir, quietLog)
	if err != nil {
		t.Fatal(err)
	}
	d := NewDataset(7, 300)
	var items []Item
	withFile := -1
	for i := 0; i < 200; i++ {
		items = append(items, d.Item(i))
		if items[i].File != nil && withFile < 0 {
			withFile = i
		}
	}
	if withFile < 0 {
		t.Fatal("no event with a file in the first 200")
	}
	b := newBatch(items[:100])
	st.(preparer).PrepareBatch(b)
	if err := st.SaveBatch(ctx, b); err != nil {
		t.Fatal(err)
	}
	single := d.Item(250)
	st.(preparer).PrepareItem(&single)
	if err := st.Save(ctx, &single); err != nil {
		t.Fatal(err)
	}
	if err := st.Save(ctx, &items[withFile]); withFile >= 100 && err != nil {
		t.Fatal(err)
	}
	// A malformed body is refused, and the error says so.
	if err := st.(*httpStore).post(ctx, "/api/events", []byte(`{"schema":`)); err == nil || !strings.Contains(err.Error(), "400") {
		t.Errorf("malformed body: %v", err)
	}
	if err := st.Close(ctx); err != nil {
		t.Fatal(err)
	}

	core, err := trove.Open(ctx, trove.Config{Storage: trove.StorageConfig{
		Events: trove.PluginConfig{Plugin: "storage-log", Options: dirOptions(dir)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer core.Shutdown(ctx)
	for _, i := range []int{0, 99, withFile, 250} {
		e, err := core.GetEvent(ctx, trove.EventID{ID: d.ID(i)})
		if err != nil {
			t.Errorf("event %d: %v", i, err)
			continue
		}
		if len(e.Files) != 0 {
			t.Errorf("event %d: stored with files %+v", i, e.Files)
		}
	}
}

// The echo contender answers every post and stores nothing.
func TestHTTPEchoAnswers(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{"http echo", "http echo minimal"} {
		c, _ := findContender(name)
		st, err := c.Open(ctx, t.TempDir(), quietLog)
		if err != nil {
			t.Fatal(err)
		}
		d := NewDataset(7, 10)
		items := []Item{d.Item(0), d.Item(1)}
		if err := st.SaveBatch(ctx, newBatch(items)); err != nil {
			t.Errorf("%s: batch: %v", name, err)
		}
		if err := st.Save(ctx, &items[0]); err != nil {
			t.Errorf("%s: save: %v", name, err)
		}
		if err := st.(*httpStore).post(ctx, "/api/events", []byte(`[1,`)); err == nil {
			t.Errorf("%s: a malformed body was accepted", name)
		}
		if err := st.Close(ctx); err != nil {
			t.Error(err)
		}
	}
}

// The pebble peer continues after the last stored position on reopen.
func TestPebblePeerReopensAfterItsLastEvent(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := pebblePeer().Open(ctx, dir, quietLog)
	if err != nil {
		t.Fatal(err)
	}
	d := NewDataset(7, 10)
	items := []Item{d.Item(0), d.Item(1), d.Item(2)}
	if err := st.SaveBatch(ctx, newBatch(items[:2])); err != nil {
		t.Fatal(err)
	}
	if err := st.Save(ctx, &items[2]); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(ctx); err != nil {
		t.Fatal(err)
	}
	st, err = pebblePeer().Open(ctx, dir, quietLog)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(ctx)
	ps := st.(*pebbleStore)
	if got := ps.last.Load(); got != 3 {
		t.Fatalf("last position after reopen %d, want 3", got)
	}
	for pos := uint64(1); pos <= 3; pos++ {
		v, closer, err := ps.db.Get(eventKey(nil, pos))
		if err != nil {
			t.Fatalf("position %d: %v", pos, err)
		}
		if string(v) != string(items[pos-1].Encoded()) {
			t.Errorf("position %d holds another event", pos)
		}
		closer.Close()
	}
}

// An op's share is the echo server's time over troved's; the median is
// the middle share, or the mean of the middle two.
func TestOpSharesMedian(t *testing.T) {
	var s opShares
	if s.median() != 0 {
		t.Errorf("median of no ops = %v, want 0", s.median())
	}
	ms := time.Millisecond
	s.add([2]time.Duration{20 * ms, 10 * ms}) // troved took twice as long: 0.5
	s.add([2]time.Duration{10 * ms, 10 * ms}) // 1
	s.add([2]time.Duration{10 * ms, 8 * ms})  // 0.8
	if got := s.median(); got != 0.8 {
		t.Errorf("median of %v = %v, want 0.8", s, got)
	}
	s.add([2]time.Duration{10 * ms, 9 * ms}) // 0.9
	if got := s.median(); got < 0.85-1e-9 || got > 0.85+1e-9 {
		t.Errorf("median of %v = %v, want 0.85", s, got)
	}
	if s[0] != 0.5 || s[1] != 1 {
		t.Errorf("median reordered the shares: %v", s)
	}
}
