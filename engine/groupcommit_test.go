package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/index"
	"github.com/trovedb/trove/segment"
)

// The group commit: concurrent saves of one id, retries in one group, a
// failed group, the group wait, Close during saves, oversized requests,
// and what readers see of a group in flight.

// TestConcurrentSameVersion: concurrent saves of one id and version with
// different content: exactly one creates it, every other one is a conflict;
// with the same content every save succeeds and is answered with the one
// stored position. Positions stay dense, in commit order.
func TestConcurrentSameVersion(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, t.TempDir(), Options{})
	defer st.Close()
	const ids, writers = 60, 8
	type result struct {
		ev  trove.Event
		err error
	}
	for i := range ids {
		id := fmt.Sprintf("race-%03d", i)
		same := i%2 == 0
		results := make([]result, writers)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				e := testEvent(i)
				e.ID = trove.EventID{ID: id, Version: 1 + i%3%2} // version 1, or 2 once 1 exists
				if !same {
					e.Payload = []byte(fmt.Sprintf(`{"writer":%d}`, w))
				}
				<-start
				if w%2 == 0 {
					ev, err := st.SaveEvent(ctx, e)
					results[w] = result{ev, err}
					return
				}
				evs, err := st.SaveEvents(ctx, []trove.Event{testEvent(100000 + i*writers + w), e})
				if err == nil {
					results[w] = result{evs[1], nil}
				} else {
					results[w] = result{err: err}
				}
			}()
		}
		if i%3 == 1 {
			// Version 2 needs version 1.
			if _, err := st.SaveEvent(ctx, trove.Event{ID: trove.EventID{ID: id, Version: 1}, Schema: testSchema,
				Payload: []byte(`{"v":1}`)}); err != nil {
				t.Fatal(err)
			}
		}
		close(start)
		wg.Wait()
		stored, err := st.GetEvent(ctx, trove.EventID{ID: id})
		if err != nil {
			t.Fatal(err)
		}
		wins := 0
		for w, r := range results {
			switch {
			case r.err == nil:
				wins++
				if r.ev.Position != stored.Position || r.ev.ID != stored.ID || !bytes.Equal(r.ev.Payload, stored.Payload) {
					t.Fatalf("%s writer %d answered %s at %d with %s; stored %s at %d with %s",
						id, w, r.ev.ID, r.ev.Position, r.ev.Payload, stored.ID, stored.Position, stored.Payload)
				}
			case !errors.Is(r.err, trove.ErrConflict):
				t.Fatalf("%s writer %d: %v", id, w, r.err)
			}
		}
		if same && wins != writers || !same && wins != 1 {
			t.Fatalf("%s (same content %v): %d saves succeeded", id, same, wins)
		}
	}
	// Dense positions in commit order, each version once.
	var pos uint64
	seen := map[trove.EventID]bool{}
	err := st.Replay(ctx, 0, func(e trove.Event) error {
		pos++
		if e.Position != pos {
			return fmt.Errorf("position %d after %d", e.Position, pos-1)
		}
		if seen[e.ID] {
			return fmt.Errorf("%s stored twice", e.ID)
		}
		seen[e.ID] = true
		return nil
	})
	if err != nil || pos != st.Last() {
		t.Fatalf("replay: %v (%d events, last %d)", err, pos, st.Last())
	}
}

// TestRetryRepliesShareNothing: retries of one event in the same group and
// across groups are each answered with memory of their own.
func TestRetryRepliesShareNothing(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, t.TempDir(), Options{})
	defer st.Close()
	e := testEvent(7)
	e.Links = []trove.EventLink{{Type: "t", TargetEvent: trove.EventID{ID: "x"}, Metadata: []byte(`{"m":1}`)}}
	// One request holding the event twice: the second is a retry of the
	// first, new in the same group.
	evs, err := st.SaveEvents(ctx, []trove.Event{e, e})
	if err != nil {
		t.Fatal(err)
	}
	again, err := st.SaveEvent(ctx, e) // a retry of a committed event
	if err != nil {
		t.Fatal(err)
	}
	replies := []trove.Event{evs[0], evs[1], again}
	for _, r := range replies {
		if r.Position != 1 {
			t.Fatalf("reply %s at position %d, want 1", r.ID, r.Position)
		}
	}
	for i := range replies {
		for j := range replies[i].Payload {
			replies[i].Payload[j] = byte('0' + i)
		}
		replies[i].Links[0].Metadata[0] = byte('0' + i)
	}
	for i, r := range replies {
		if bytes.IndexFunc(r.Payload, func(c rune) bool { return c != rune('0'+i) }) >= 0 || r.Links[0].Metadata[0] != byte('0'+i) {
			t.Fatalf("reply %d shares memory with another reply: %s", i, r.Payload)
		}
	}
	got, err := st.GetEvent(ctx, e.ID)
	if err != nil || !bytes.Equal(got.Payload, testEvent(7).Payload) || string(got.Links[0].Metadata) != `{"m":1}` {
		t.Fatalf("stored event after writing over the replies: %s %+v, %v", got.Payload, got.Links, err)
	}
}

// TestFailedGroupIsSticky: when a group's write fails, every caller of it
// and every later one fails, none is acknowledged, nothing new is visible,
// and the reopened store holds exactly the acknowledged events.
func TestFailedGroupIsSticky(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := openStore(t, dir, Options{})
	saveBatches(t, st, 0, 10, 5)
	st.wal.Close() // every later write fails underneath the store
	var wg sync.WaitGroup
	var acked atomic.Int64
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 4 {
				if _, err := st.SaveEvent(ctx, testEvent(10+w*4+k)); err == nil {
					acked.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if acked.Load() != 0 {
		t.Fatalf("%d saves acknowledged after the WAL failed", acked.Load())
	}
	if st.Err() == nil {
		t.Fatal("Err is nil after a failed write")
	}
	if _, err := st.SaveEvents(ctx, []trove.Event{testEvent(99)}); err == nil {
		t.Fatal("a later save succeeded")
	}
	tx, err := st.Begin(ctx)
	if err == nil {
		if _, err := tx.SaveEvent(ctx, testEvent(98)); err == nil {
			if _, err := tx.Commit(ctx); err == nil {
				t.Fatal("a later commit succeeded")
			}
		}
	}
	if st.Last() != 10 {
		t.Fatalf("last %d after the failed writes, want 10", st.Last())
	}
	if _, err := st.GetEvent(ctx, testEvent(10).ID); !errors.Is(err, trove.ErrNotFound) {
		t.Fatalf("an unacknowledged event is visible: %v", err)
	}
	st.Close()
	st = openStore(t, dir, Options{})
	defer st.Close()
	checkEvents(t, st, 10)
}

// TestGatherEnds: the group wait ends without the saves it waits for: when
// the saves in flight never queue (a caller stuck in staging, a count that
// does not fall), at MaxGroup, and when the request channel closes.
func TestGatherEnds(t *testing.T) {
	s := &Store{reqs: make(chan *request, 8), opts: Options{MaxGroup: 3}}
	s.stats.saving.Store(1000) // saves "in flight" that never come
	r := &request{kind: reqEvents}
	if got := s.gather(r); len(got) != 1 || got[0] != r {
		t.Fatalf("gather with nothing queued: %d requests", len(got))
	}
	for range 5 {
		s.reqs <- &request{kind: reqEvents}
	}
	if got := s.gather(r); len(got) != 3 {
		t.Fatalf("gather with 5 queued and MaxGroup 3: %d requests", len(got))
	}
	close(s.reqs)
	// Three left in the channel, then it is closed.
	for _, want := range []int{3, 2, 1, 1} {
		if got := s.gather(r); len(got) != want {
			t.Fatalf("gather over a closed channel: %d requests, want %d", len(got), want)
		}
	}
}

// TestSavingCountReturnsToZero: every way a save can end (success,
// conflict, invalid input, cancelled context, closed store) gives back its
// count of saves in flight, which the group wait trusts.
func TestSavingCountReturnsToZero(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, t.TempDir(), Options{})
	if _, err := st.SaveEvent(ctx, testEvent(0)); err != nil {
		t.Fatal(err)
	}
	conflict := testEvent(0)
	conflict.Payload = []byte(`{"x":1}`)
	if _, err := st.SaveEvent(ctx, conflict); !errors.Is(err, trove.ErrConflict) {
		t.Fatalf("conflict: %v", err)
	}
	bad := testEvent(1)
	bad.Payload = []byte(`{"a":}`)
	if _, err := st.SaveEvents(ctx, []trove.Event{bad}); !errors.Is(err, trove.ErrInvalid) {
		t.Fatalf("invalid: %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := st.SaveEvent(cancelled, testEvent(2)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	tx, _ := st.Begin(ctx)
	tx.SaveEvent(ctx, testEvent(3))
	if _, err := tx.Commit(cancelled); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled commit: %v", err)
	}
	if n := st.stats.saving.Load(); n != 0 {
		t.Fatalf("%d saves counted in flight with none running", n)
	}
	st.Close()
	if _, err := st.SaveEvent(ctx, testEvent(4)); !errors.Is(err, trove.ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
	if n := st.stats.saving.Load(); n != 0 {
		t.Fatalf("%d saves counted in flight after Close", n)
	}
}

// TestCloseDuringConcurrentSaves: Close while 32 goroutines save (groups
// waiting for saves in flight, staging racing Close): every call returns,
// each acknowledged event survives the reopen at the position it was
// answered with, positions are dense, and no goroutine is left behind.
func TestCloseDuringConcurrentSaves(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	before, _ := troveGoroutines()
	st := openStore(t, dir, Options{})
	const writers = 32
	var wg sync.WaitGroup
	var mu sync.Mutex
	acked := map[string]uint64{}
	var count atomic.Int64
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; ; k++ {
				i := w*100000 + k
				var err error
				var ev trove.Event
				if k%4 == 3 {
					var evs []trove.Event
					evs, err = st.SaveEvents(ctx, []trove.Event{testEvent(i)})
					if err == nil {
						ev = evs[0]
					}
				} else {
					ev, err = st.SaveEvent(ctx, testEvent(i))
				}
				if err != nil {
					if !errors.Is(err, trove.ErrClosed) {
						t.Errorf("writer %d: %v", w, err)
					}
					return
				}
				mu.Lock()
				acked[ev.ID.ID] = ev.Position
				mu.Unlock()
				count.Add(1)
			}
		}()
	}
	for count.Load() < 400 {
		time.Sleep(time.Millisecond)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	st = openStore(t, dir, Options{})
	got := 0
	err := st.Replay(ctx, 0, func(e trove.Event) error {
		got++
		if e.Position != uint64(got) {
			return fmt.Errorf("position %d after %d", e.Position, got-1)
		}
		if p, ok := acked[e.ID.ID]; ok && p != e.Position {
			return fmt.Errorf("%s answered at %d, stored at %d", e.ID, p, e.Position)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got < len(acked) {
		t.Fatalf("%d events after reopen, %d acknowledged", got, len(acked))
	}
	for id := range acked {
		if _, err := st.GetEvent(ctx, trove.EventID{ID: id}); err != nil {
			t.Fatalf("acknowledged %s: %v", id, err)
		}
	}
	st.Close()
	// Goroutines of the closed stores end (allow the runtime a moment to
	// reap them; the count is checked, not a time).
	for range 100 {
		if n, _ := troveGoroutines(); n <= before {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n, stacks := troveGoroutines(); n > before {
		t.Fatalf("%d goroutines of the project after Close, %d before:\n%s", n, before, stacks)
	}
}

// troveGoroutines counts the goroutines running or started by this
// module's code, other than the caller's, and returns their stacks.
func troveGoroutines() (int, string) {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	var out bytes.Buffer
	for i, g := range bytes.Split(buf, []byte("\n\n")) {
		if i > 0 && bytes.Contains(g, []byte("github.com/trovedb/trove")) {
			n++
			out.Write(g)
			out.WriteString("\n\n")
		}
	}
	return n, out.String()
}

// TestOversizedRequestIsRefused: a request whose WAL entry would pass
// segment.MaxBodySize is refused with ErrInvalid (naming the event that
// takes it past) before it joins a group; it neither fails the store nor
// the other requests. The request is built as staging builds one, its 257
// bodies of 1 MiB sharing one buffer so that the test stays small.
func TestOversizedRequestIsRefused(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, t.TempDir(), Options{})
	defer st.Close()
	saveBatches(t, st, 0, 3, 3)
	body := make([]byte, 1<<20)
	n := segment.MaxBodySize/len(body) + 1
	evs := make([]trove.Event, n)
	info := make([]stageInfo, n)
	for i := range evs {
		e, err := trove.Prepare(testEvent(1000+i), time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		evs[i] = e
		info[i] = stageInfo{hadTime: true, known: true, body: body}
	}
	resp := st.submit(ctx, "save events", &request{kind: reqEvents, evs: evs, info: info, batch: true})
	var be *trove.BatchError
	if !errors.Is(resp.err, trove.ErrInvalid) || !errors.As(resp.err, &be) || be.Index >= n {
		t.Fatalf("request of %d MiB: %v, want ErrInvalid naming an event", n, resp.err)
	}
	if err := st.Err(); err != nil {
		t.Fatalf("an oversized request failed the store: %v", err)
	}
	if _, err := st.SaveEvent(ctx, testEvent(3)); err != nil {
		t.Fatalf("save after an oversized request: %v", err)
	}
	checkEvents(t, st, 4)
}

// TestConcurrentVersionChains: writers race to append the next version of
// a few ids (SaveEvent, SaveEvents and transactions, each from the latest
// version it read): every version is created exactly once, by the one save
// answered with success for it, at the position it was answered with; the
// losers get ErrConflict. Stale prechecks are the common case here.
func TestConcurrentVersionChains(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, t.TempDir(), Options{})
	defer st.Close()
	ids := []string{"chain-a", "chain-b"}
	const writers, attempts = 8, 30
	type win struct {
		id      trove.EventID
		pos     uint64
		payload string
	}
	var mu sync.Mutex
	var wins []win
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range attempts {
				id := ids[(w+k)%len(ids)]
				next := 1
				if cur, err := st.GetEvent(ctx, trove.EventID{ID: id}); err == nil {
					next = cur.ID.Version + 1
				} else if !errors.Is(err, trove.ErrNotFound) {
					t.Error(err)
					return
				}
				e := trove.Event{ID: trove.EventID{ID: id, Version: next}, Schema: testSchema,
					Payload: []byte(fmt.Sprintf(`{"w":%d,"k":%d}`, w, k))}
				var got trove.Event
				var err error
				switch k % 3 {
				case 0:
					got, err = st.SaveEvent(ctx, e)
				case 1:
					var evs []trove.Event
					evs, err = st.SaveEvents(ctx, []trove.Event{testEvent(10000 + w*attempts + k), e})
					if err == nil {
						got = evs[1]
					}
				default:
					var tx trove.Tx
					tx, err = st.Begin(ctx)
					if err == nil {
						if _, err = tx.SaveEvent(ctx, e); err == nil {
							var evs []trove.Event
							if evs, err = tx.Commit(ctx); err == nil {
								got = evs[0]
							}
						} else {
							tx.Rollback(ctx)
						}
					}
				}
				if err != nil {
					if !errors.Is(err, trove.ErrConflict) {
						t.Errorf("writer %d: %v", w, err)
						return
					}
					continue
				}
				mu.Lock()
				wins = append(wins, win{got.ID, got.Position, string(got.Payload)})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	byID := map[trove.EventID]win{}
	for _, w := range wins {
		if prev, dup := byID[w.id]; dup {
			t.Fatalf("%s created twice: at %d (%s) and at %d (%s)", w.id, prev.pos, prev.payload, w.pos, w.payload)
		}
		byID[w.id] = w
	}
	stored := 0
	err := st.Replay(ctx, 0, func(e trove.Event) error {
		if e.ID.ID != ids[0] && e.ID.ID != ids[1] {
			return nil
		}
		stored++
		w, ok := byID[e.ID]
		if !ok || w.pos != e.Position || w.payload != string(e.Payload) {
			return fmt.Errorf("stored %s at %d with %s; answered %+v (found %v)", e.ID, e.Position, e.Payload, w, ok)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if stored != len(wins) {
		t.Fatalf("%d versions stored, %d saves answered with success", stored, len(wins))
	}
	for _, id := range ids {
		latest, err := st.GetEvent(ctx, trove.EventID{ID: id})
		if err != nil {
			t.Fatal(err)
		}
		for v := 1; v <= latest.ID.Version; v++ {
			if _, ok := byID[trove.EventID{ID: id, Version: v}]; !ok {
				t.Fatalf("%s: version %d missing below latest %d", id, v, latest.ID.Version)
			}
		}
	}
}

// TestInFlightGroupInvisible: while a group's WAL entry is written its
// events are already in the index (indexEvents runs beside the write);
// readers see none of it: not the new version by id, not the old one as
// superseded, not its payload terms, producer, links or incoming links.
func TestInFlightGroupInvisible(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, t.TempDir(), Options{})
	saveBatches(t, st, 0, 5, 5)
	v2, err := trove.Prepare(testEvent(2), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	v2.ID.Version = 2
	v2.Producer = "in-flight"
	v2.Payload = []byte(`{"kind":"in-flight"}`)
	v2.Links = []trove.EventLink{{Type: "in-flight", TargetEvent: testEvent(0).ID}}
	if err := st.ix.AddBatch(6, []index.Doc{{ID: v2.ID.ID, Version: 2, CreatedAt: v2.CreatedAt.UnixMilli(),
		Schema: v2.Schema.Identity(), Producer: v2.Producer, Links: v2.Links, Payload: v2.Payload}}); err != nil {
		t.Fatal(err)
	}
	got, err := st.GetEvent(ctx, trove.EventID{ID: v2.ID.ID})
	if err != nil || got.ID.Version != 1 || got.Position != 3 {
		t.Fatalf("latest %s while version 2 is in flight: %s at %d, %v; want version 1 at 3", v2.ID.ID, got.ID, got.Position, err)
	}
	if _, err := st.GetEvent(ctx, v2.ID); !errors.Is(err, trove.ErrNotFound) {
		t.Fatalf("in-flight version by id: %v, want ErrNotFound", err)
	}
	all, err := st.QueryEvents(ctx, trove.EventQuery{})
	if err != nil || len(all) != 5 {
		t.Fatalf("query of latest versions: %d events, %v; want 5", len(all), err)
	}
	for _, q := range []trove.EventQuery{
		{Payload: map[string]any{"kind": "in-flight"}},
		{Producer: []string{"in-flight"}},
		{Links: []trove.LinkCriterion{{Type: "in-flight"}}},
		{AllVersions: true, Links: []trove.LinkCriterion{{TargetEvent: &trove.EventID{ID: testEvent(0).ID.ID}}}},
	} {
		res, err := st.QueryEvents(ctx, q)
		if err != nil || len(res) != 0 {
			t.Fatalf("query %+v while the group is in flight: %d events, %v", q, len(res), err)
		}
	}
	links, err := st.GetLinks(ctx, testEvent(0).ID, trove.LinkOptions{Direction: trove.Incoming})
	if err != nil || len(links) != 0 {
		t.Fatalf("incoming links while the group is in flight: %+v, %v", links, err)
	}
	// The index is ahead of the writer now: this store is not used further.
	st.mu.Lock()
	st.mu.err = errors.New("engine: test left the index ahead of the log")
	st.mu.Unlock()
	st.Close()
}

// TestSaveOverUnreadableIDIsRefused: when the index cannot verify an id
// (reading it back from a damaged sealed block fails), a save of that id
// fails with the corruption; it is neither taken as a new id (a second
// version 1 at a new position) nor as a conflict with "latest 0". So do a
// transaction's check and a save whose precheck the writer redoes.
func TestSaveOverUnreadableIDIsRefused(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	o := Options{SegmentSize: 8 << 10, BlockSize: 1 << 10}
	st := openStore(t, dir, o)
	saveBatches(t, st, 0, 200, 5)
	st.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "segments", "*.seg"))
	if len(segs) == 0 {
		t.Fatal("no segment")
	}
	data, _ := os.ReadFile(segs[0])
	data[40] ^= 0xff // inside the first block, which holds event 0
	write(t, segs[0], data)
	st = openStore(t, dir, o)
	defer st.Close()
	last := st.Last()

	retry := testEvent(0)
	next := testEvent(0)
	next.ID.Version = 2
	for _, e := range []trove.Event{retry, next} {
		if got, err := st.SaveEvent(ctx, e); !errors.Is(err, trove.ErrCorrupt) {
			t.Fatalf("save %s over a damaged block: %s at %d, %v; want ErrCorrupt", e.ID, got.ID, got.Position, err)
		}
		if _, err := st.SaveEvents(ctx, []trove.Event{testEvent(500), e}); !errors.Is(err, trove.ErrCorrupt) {
			t.Fatalf("batch saving %s over a damaged block: %v; want ErrCorrupt", e.ID, err)
		}
		tx, err := st.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.SaveEvent(ctx, e); !errors.Is(err, trove.ErrCorrupt) {
			t.Fatalf("tx save %s over a damaged block: %v; want ErrCorrupt", e.ID, err)
		}
		// Staged before another save committed: the writer looks the
		// version up itself, and must fail the same way.
		r, err := st.stage([]trove.Event{testEvent(501)}, nil, nil, now(), true)
		if err != nil {
			t.Fatal(err)
		}
		r.evs[0] = e
		if p, err := trove.Prepare(e, time.Time{}); err == nil {
			r.evs[0] = p
		}
		r.info[0] = stageInfo{hadTime: true}
		r.last-- // stale: the writer does not trust the precheck
		if resp := st.submit(ctx, "save events", r); !errors.Is(resp.err, trove.ErrCorrupt) {
			t.Fatalf("writer's recheck of %s over a damaged block: %+v, %v; want ErrCorrupt", e.ID, resp.events, resp.err)
		}
	}
	link := trove.EventLink{Type: "t", TargetEvent: testEvent(1).ID}
	if err := st.SaveLink(ctx, testEvent(0).ID, link); !errors.Is(err, trove.ErrCorrupt) {
		t.Fatalf("link from an event in a damaged block: %v, want ErrCorrupt", err)
	}
	if err := st.SaveLink(ctx, testEvent(199).ID, link); err != nil {
		t.Fatalf("link from an intact event: %v", err)
	}
	if st.Last() != last {
		t.Fatalf("last %d after the refused saves, want %d", st.Last(), last)
	}
	if err := st.Err(); err != nil {
		t.Fatalf("refused saves failed the store: %v", err)
	}
}

// TestRetryOnlyEntriesRecover: requests that add nothing (idempotent
// retries, a schema registered again) still make WAL entries; a store
// copied as a crash would leave it (no snapshot of them) reopens with
// every event, checks clean, and seals past them.
func TestRetryOnlyEntriesRecover(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	o := Options{SegmentSize: 8 << 10, BlockSize: 1 << 10}
	st := openStore(t, dir, o)
	defer st.Close()
	rs := trove.RegisteredSchema{ID: "review.schema", Version: "1", Schema: json.RawMessage(`{"type":"object"}`)}
	n := 0
	for round := range 40 {
		saveBatches(t, st, n, 5, 5)
		n += 5
		for k := range 3 {
			if _, err := st.SaveEvent(ctx, testEvent(n-1-k)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := st.SaveEvents(ctx, []trove.Event{testEvent(n - 5), testEvent(n - 4)}); err != nil {
			t.Fatal(err)
		}
		if err := st.SaveSchema(ctx, rs); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}
	checkEvents(t, st, n)
	crashed := copyDir(t, dir)
	st2 := openStore(t, crashed, o)
	defer st2.Close()
	checkEvents(t, st2, n)
	schemas, err := st2.ListSchemas(ctx)
	if err != nil || len(schemas) != 1 {
		t.Fatalf("schemas after reopen: %+v, %v", schemas, err)
	}
	saveBatches(t, st2, n, 100, 10)
	checkEvents(t, st2, n+100)
}
