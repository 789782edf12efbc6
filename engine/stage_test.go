package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/trovedb/trove"
)

// TestStalePrecheck: a request staged before another save committed a
// version of the same id is checked again by the writer: the stale
// precheck (no version yet) must not let a second version 1 in.
func TestStalePrecheck(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, t.TempDir(), Options{})
	defer st.Close()
	saveBatches(t, st, 0, 3, 3)

	fresh := testEvent(100)
	other := testEvent(100)
	other.Payload = []byte(`{"other":true}`)
	r, err := st.stage([]trove.Event{other}, nil, nil, now(), true)
	if err != nil {
		t.Fatal(err)
	}
	if !r.checked || r.info[0].latest != 0 || r.last != 3 {
		t.Fatalf("staged against last %d with latest %d (checked %v), want 3 and 0", r.last, r.info[0].latest, r.checked)
	}
	if _, err := st.SaveEvent(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	resp := st.submit(ctx, "save events", r)
	var be *trove.BatchError
	if !errors.As(resp.err, &be) || be.Index != 0 || !errors.Is(resp.err, trove.ErrConflict) {
		t.Fatalf("stale staged save: %v, want a conflict on event 0", resp.err)
	}
	got, err := st.GetEvent(ctx, trove.EventID{ID: fresh.ID.ID})
	if err != nil || got.Position != 4 || !bytes.Equal(got.Payload, fresh.Payload) {
		t.Fatalf("get %s: %+v, %v; want the first save at position 4", fresh.ID.ID, got, err)
	}
	if st.Last() != 4 {
		t.Fatalf("last %d, want 4", st.Last())
	}

	// A stale precheck of an idempotent retry is rechecked too, and
	// answered with the stored event.
	retry := testEvent(101)
	r, err = st.stage([]trove.Event{retry}, nil, nil, now(), true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.SaveEvent(ctx, retry); err != nil {
		t.Fatal(err)
	}
	resp = st.submit(ctx, "save events", r)
	if resp.err != nil || len(resp.events) != 1 || resp.events[0].Position != 5 {
		t.Fatalf("stale staged retry: %+v, %v; want the stored event at position 5", resp.events, resp.err)
	}
	if st.Last() != 5 {
		t.Fatalf("last %d, want 5", st.Last())
	}
}

// TestStageMatchesPrepare: staging's fast path gives the events
// trove.Prepare gives, and the saved events share no memory with the
// caller's input.
func TestStageMatchesPrepare(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, t.TempDir(), Options{})
	defer st.Close()
	in := make([]trove.Event, 300) // past stageParallelMin: two goroutines
	for i := range in {
		in[i] = testEvent(i)
		switch i % 3 {
		case 1:
			in[i].Payload = []byte(fmt.Sprintf(` { "n" : %d , "kind" : "spaced" } `, i)) // slow path
		case 2:
			in[i].CreatedAt = time.Time{} // the store's clock
		}
	}
	saved, err := st.SaveEvents(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range saved {
		want, err := trove.Prepare(in[i], e.CreatedAt)
		if err != nil {
			t.Fatal(err)
		}
		want.Position = uint64(i + 1)
		if e.ID != want.ID || e.Position != want.Position || !e.CreatedAt.Equal(want.CreatedAt) ||
			e.Producer != want.Producer || !bytes.Equal(e.Payload, want.Payload) || !e.Schema.Equal(want.Schema) {
			t.Fatalf("event %d saved as %+v, Prepare gives %+v", i, e, want)
		}
	}
	// Writing over the input changes neither the answer nor the store.
	for i := range in {
		for j := range in[i].Payload {
			in[i].Payload[j] = 'x'
		}
	}
	for i, e := range saved {
		if bytes.Contains(e.Payload, []byte("xxxx")) {
			t.Fatalf("saved event %d shares its payload with the input", i)
		}
		got, err := st.GetEvent(ctx, e.ID)
		if err != nil || !bytes.Equal(got.Payload, e.Payload) {
			t.Fatalf("get %s: %s, %v; want %s", e.ID, got.Payload, err, e.Payload)
		}
	}
	// An invalid payload fails as it does in Prepare, naming the event.
	bad := []trove.Event{testEvent(1000), testEvent(1001)}
	bad[1].Payload = []byte(`{"a":}`)
	_, err = st.SaveEvents(ctx, bad)
	var be *trove.BatchError
	if !errors.As(err, &be) || be.Index != 1 || !errors.Is(err, trove.ErrInvalid) {
		t.Fatalf("batch with an invalid payload: %v, want ErrInvalid at index 1", err)
	}
}

// TestStageManySchemas: past maxSchemaScan documents in the dictionary,
// staging leaves the encoding to the writer; events of new and known
// schemas, mixed in one batch, read back intact after a reopen.
func TestStageManySchemas(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := openStore(t, dir, Options{})
	schema := func(k int) trove.Schema {
		return trove.MustSchema(fmt.Sprintf(`{"$id":"many.schema%d+v1","type":"object"}`, k))
	}
	var all []trove.Event
	for round := range 3 {
		var evs []trove.Event
		for k := range maxSchemaScan + 10 {
			e := testEvent(round*1000 + k)
			e.Schema = schema((k * (round + 1)) % (maxSchemaScan + 10 + round*5))
			evs = append(evs, e)
		}
		saved, err := st.SaveEvents(ctx, evs)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		all = append(all, saved...)
	}
	check := func(st *Store) {
		t.Helper()
		for _, want := range all {
			got, err := st.GetEvent(ctx, want.ID)
			if err != nil || !got.Schema.Equal(want.Schema) || got.Position != want.Position || !bytes.Equal(got.Payload, want.Payload) {
				t.Fatalf("get %s: %+v, %v; want %+v", want.ID, got, err, want)
			}
		}
	}
	check(st)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = openStore(t, dir, Options{})
	defer st.Close()
	check(st)
}

// TestFailedWriteLeavesMemtable: the records a group gave the memtable
// before its write failed are taken back, and no view shows them.
func TestFailedWriteLeavesMemtable(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, t.TempDir(), Options{})
	saveBatches(t, st, 0, 5, 5)
	before := st.memMark()
	st.wal.Close() // the next write fails underneath the store
	if _, err := st.SaveEvents(ctx, []trove.Event{testEvent(5), testEvent(6)}); err == nil {
		t.Fatal("save after the WAL closed succeeded")
	}
	// The answer was sent after the writer took the records back.
	if after := st.memMark(); after != before {
		t.Fatalf("memtable after a failed write: %+v, before it: %+v", after, before)
	}
	if v := st.view.Load(); v.last != 5 || len(v.memBody) != 5 {
		t.Fatalf("view after a failed write: last %d with %d bodies, want 5 and 5", v.last, len(v.memBody))
	}
	st.Close()
}

// TestBodySize: bodySize is the exact size of an encoded event without
// files, so that staging's arenas never grow.
func TestBodySize(t *testing.T) {
	events := []trove.Event{testEvent(0), benchEvent(123456)}
	e := testEvent(1)
	e.ID.Version = 300
	e.Metadata = []byte(`{"trace":"` + string(bytes.Repeat([]byte("m"), 200)) + `"}`)
	e.Links = []trove.EventLink{{Type: "causes", TargetEvent: trove.EventID{ID: "x", Version: 129}},
		{Type: "t", TargetEvent: trove.EventID{ID: string(bytes.Repeat([]byte("i"), 130))}, Metadata: []byte(`{"k":1}`)}}
	e.Payload = []byte(`{"big":"` + string(bytes.Repeat([]byte("p"), 20000)) + `"}`)
	events = append(events, e)
	for _, e := range events {
		for _, num := range []uint32{0, 127, 128, 1 << 20} {
			if got, want := bodySize(&e, num), len(appendEvent(nil, &e, num)); got != want {
				t.Fatalf("bodySize(%s, %d) = %d, encoded %d bytes", e.ID, num, got, want)
			}
		}
	}
}
