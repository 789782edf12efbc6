package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/index"
)

// Transactions beside the group commit: a transaction's checks and saves
// race groups in flight, and its replies own their memory.

// TestTxCheckWhileGroupInFlight: a transaction's check of an event whose
// version a group being committed holds (indexed, not yet published) does
// not fail with ErrNotFound: the index is ahead of the view while a group's
// WAL entry is written, and the check must read what the view holds.
func TestTxCheckWhileGroupInFlight(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, t.TempDir(), Options{})
	saveBatches(t, st, 0, 3, 3)

	// The writer's state while a group holding event 3 is written: the
	// index has it at position 4 (indexEvents runs beside the WAL write),
	// no view covers it.
	inFlight, err := trove.Prepare(testEvent(3), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.ix.AddBatch(4, []index.Doc{{ID: inFlight.ID.ID, Version: 1, CreatedAt: inFlight.CreatedAt.UnixMilli(),
		Schema: inFlight.Schema.Identity(), Producer: inFlight.Producer, Payload: inFlight.Payload}}); err != nil {
		t.Fatal(err)
	}
	if st.Last() != 3 {
		t.Fatalf("last %d, want 3", st.Last())
	}
	tx, err := st.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The same event (a retry of the save in flight) and an event of
	// other content with that id and version: neither is "not found"; the
	// writer decides at commit.
	if _, err := tx.SaveEvent(ctx, testEvent(3)); err != nil {
		t.Fatalf("tx save of the event a group is committing: %v", err)
	}
	tx2, _ := st.Begin(ctx)
	other := testEvent(3)
	other.Payload = []byte(`{"other":true}`)
	if _, err := tx2.SaveEvent(ctx, other); errors.Is(err, trove.ErrNotFound) {
		t.Fatalf("tx save of another event with the id a group is committing: %v", err)
	}
	// An event already committed is still checked against the view.
	tx3, _ := st.Begin(ctx)
	conflict := testEvent(1)
	conflict.Payload = []byte(`{"other":true}`)
	if _, err := tx3.SaveEvent(ctx, conflict); !errors.Is(err, trove.ErrConflict) {
		t.Fatalf("tx save of a committed id with other content: %v, want ErrConflict", err)
	}
	// The index is ahead of the writer now: this store is not used further.
	st.mu.Lock()
	st.mu.err = errors.New("engine: test left the index ahead of the log")
	st.mu.Unlock()
	st.Close()
}

// TestTxSaveRacesGroupCommit: the same as TestTxCheckWhileGroupInFlight
// without reaching into the writer: transactions stage the event a
// concurrent SaveEvent is committing, over and over; no check may fail.
func TestTxSaveRacesGroupCommit(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, t.TempDir(), Options{})
	defer st.Close()
	const n = 100
	for i := range n {
		var saved atomic.Bool
		done := make(chan error, 1)
		go func() {
			_, err := st.SaveEvent(ctx, testEvent(i))
			saved.Store(true)
			done <- err
		}()
		for !saved.Load() {
			tx, err := st.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.SaveEvent(ctx, testEvent(i)); err != nil {
				t.Fatalf("event %d: tx save while a save of it commits: %v", i, err)
			}
			tx.Rollback(ctx)
			runtime.Gosched()
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	checkEvents(t, st, n)
}

// TestTxRepliesOwnTheirMemory: the event tx.SaveEvent returns is the
// caller's: writing over it changes neither what Commit saves nor what it
// returns.
func TestTxRepliesOwnTheirMemory(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, t.TempDir(), Options{})
	defer st.Close()
	tx, err := st.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	in := testEvent(0)
	in.Metadata = []byte(`{"trace":"abc"}`)
	in.Links = []trove.EventLink{{Type: "causes", TargetEvent: trove.EventID{ID: "x"}, Metadata: []byte(`{"w":1}`)}}
	staged, err := tx.SaveEvent(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	want := staged.Clone()
	for _, b := range [][]byte{staged.Payload, staged.Metadata, staged.Links[0].Metadata} {
		for j := range b {
			b[j] = 'x'
		}
	}
	staged.Links[0].Type = "changed"
	saved, err := tx.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, err := st.GetEvent(ctx, want.ID)
	if err != nil {
		t.Fatal(err)
	}
	for what, e := range map[string]trove.Event{"committed reply": saved[0], "stored event": got} {
		if !bytes.Equal(e.Payload, want.Payload) || !bytes.Equal(e.Metadata, want.Metadata) ||
			len(e.Links) != 1 || e.Links[0].Type != "causes" || !bytes.Equal(e.Links[0].Metadata, want.Links[0].Metadata) {
			t.Fatalf("%s after the staged reply was overwritten: payload %s metadata %s links %+v; want %s %s %+v",
				what, e.Payload, e.Metadata, e.Links, want.Payload, want.Metadata, want.Links)
		}
	}
	if !json.Valid(got.Payload) {
		t.Fatalf("the store holds an invalid payload %q", got.Payload)
	}
}
