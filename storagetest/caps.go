package storagetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/trovedb/trove"
)

func capTests() []test {
	return []test{
		{"Tx/CommitShowsAllAtOnce", testTxCommit},
		{"Tx/Rollback", testTxRollback},
		{"Tx/Conflicts", testTxConflicts},
		{"Tx/Closed", testTxClosed},
		{"Batch/Atomic", testBatchAtomic},
		{"Batch/Versions", testBatchVersions},
		{"Subscribe/CatchUpThenLive", testSubscribe},
		{"Subscribe/FromPosition", testSubscribeFrom},
		{"Subscribe/Stop", testSubscribeStop},
		{"Replay", testReplay},
		{"SchemaStore", testSchemaStore},
	}
}

func (s *store) begin() trove.Tx {
	s.t.Helper()
	tx, err := s.ev.(trove.Transactional).Begin(s.ctx)
	if err != nil {
		s.t.Fatalf("Begin: %v", err)
	}
	return tx
}

func txSave(t testing.TB, s *store, tx trove.Tx, e trove.Event) trove.Event {
	t.Helper()
	out, err := tx.SaveEvent(s.ctx, e)
	if err != nil {
		t.Fatalf("Tx.SaveEvent(%s): %v", e.ID, err)
	}
	return out
}

func testTxCommit(t *testing.T, k *kit) {
	s := k.open(t, "events", "Transactional")
	base := s.save(ev("base", "kit.tx", `{"v":1}`))
	tx := s.begin()
	staged := []trove.Event{ev("t1", "kit.tx", `{"n":1}`), ev("t2", "kit.tx", `{"n":2}`), ev("", "kit.tx", `{"n":3}`)}
	v2 := ev("base", "kit.tx", `{"v":2}`)
	v2.ID.Version = 2
	staged = append(staged, v2)
	for i, e := range staged {
		p := txSave(t, s, tx, e)
		if p.Position != 0 || p.ID.ID == "" || p.ID.Version == 0 || p.CreatedAt.IsZero() || p.Producer == "" {
			t.Fatalf("staged event %d came back %+v: prepared, without a position", i, p)
		}
		staged[i] = p
	}
	// Invisible until Commit.
	if got := ids(s.all()); got != "[base]" {
		t.Fatalf("query before commit: %s", got)
	}
	if got := s.query(trove.EventQuery{Schema: []string{"kit.tx"}, Payload: map[string]any{"n": 1}}); len(got) != 0 {
		t.Fatalf("query before commit found %s", ids(got))
	}
	_, err := s.ev.GetEvent(s.ctx, id("t1"))
	wantErr(t, "GetEvent of a staged event", err, trove.ErrNotFound)
	checkSame(t, "latest version before commit", s.get("base", 0), base)
	out, err := tx.Commit(s.ctx)
	noErr(t, "Commit", err)
	if len(out) != len(staged) {
		t.Fatalf("Commit returned %d events, want %d", len(out), len(staged))
	}
	last := base.Position
	for i, e := range out {
		if e.Position <= last {
			t.Fatalf("committed event %d has position %d after %d", i, e.Position, last)
		}
		last = e.Position
		want := staged[i]
		want.Position = e.Position
		checkSame(t, fmt.Sprintf("committed event %d", i), e, want)
		checkSame(t, fmt.Sprintf("GetEvent of committed event %d", i), s.get(e.ID.ID, e.ID.Version), e)
	}
	if got := len(s.all()); got != 5 {
		t.Fatalf("%d events after commit, want 5", got)
	}
	noErr(t, "Rollback after Commit", tx.Rollback(s.ctx))
	if got := len(s.all()); got != 5 {
		t.Fatalf("%d events after a rollback of a committed transaction, want 5", got)
	}
}

func testTxRollback(t *testing.T, k *kit) {
	s := k.open(t, "events", "Transactional")
	s.save(ev("keep", "kit.tx", `{}`))
	tx := s.begin()
	txSave(t, s, tx, ev("r1", "kit.tx", `{}`))
	v2 := ev("keep", "kit.tx", `{"v":2}`)
	v2.ID.Version = 2
	txSave(t, s, tx, v2)
	noErr(t, "Rollback", tx.Rollback(s.ctx))
	if got := ids(s.all()); got != "[keep]" {
		t.Fatalf("events after rollback: %s", got)
	}
	// What was rolled back can be saved again, and positions go on.
	got := s.save(v2)
	if got.ID.Version != 2 || got.Position <= 1 {
		t.Fatalf("save after rollback: %+v", got.ID)
	}
	s.save(ev("r1", "kit.tx", `{}`))
}

func testTxConflicts(t *testing.T, k *kit) {
	s := k.open(t, "events", "Transactional")
	s.save(ev("x", "kit.tx", `{"v":1}`))
	tx := s.begin()
	_, err := tx.SaveEvent(s.ctx, ev("x", "kit.tx", `{"other":1}`))
	wantErr(t, "staging another content for a stored (id, version)", err, trove.ErrConflict)
	gap := ev("x", "kit.tx", `{}`)
	gap.ID.Version = 3
	_, err = tx.SaveEvent(s.ctx, gap)
	wantErr(t, "staging a version gap", err, trove.ErrConflict)
	_, err = tx.SaveEvent(s.ctx, ev("bad", "kit.tx", `[]`))
	wantErr(t, "staging an invalid event", err, trove.ErrInvalid)
	txSave(t, s, tx, ev("y", "kit.tx", `{"a":1}`))
	_, err = tx.SaveEvent(s.ctx, ev("y", "kit.tx", `{"a":2}`))
	wantErr(t, "staging the same (id, version) twice with other content", err, trove.ErrConflict)
	v2 := ev("x", "kit.tx", `{"v":2}`)
	v2.ID.Version = 2
	txSave(t, s, tx, v2)
	// Another writer gets version 2 in first: Commit conflicts and saves nothing.
	other := ev("x", "kit.tx", `{"v":"other"}`)
	other.ID.Version = 2
	s.save(other)
	_, err = tx.Commit(s.ctx)
	wantErr(t, "Commit after another writer saved the same version", err, trove.ErrConflict)
	if got := ids(s.all()); got != "[x x@2]" {
		t.Fatalf("events after a failed commit: %s, want [x x@2]", got)
	}
	_, err = s.ev.GetEvent(s.ctx, id("y"))
	wantErr(t, "GetEvent of an event from a failed commit", err, trove.ErrNotFound)
	// Two transactions staging the same new id: the second commit conflicts.
	a, b := s.begin(), s.begin()
	txSave(t, s, a, ev("z", "kit.tx", `{"by":"a"}`))
	txSave(t, s, b, ev("z", "kit.tx", `{"by":"b"}`))
	txSave(t, s, b, ev("zz", "kit.tx", `{"by":"b"}`))
	_, err = a.Commit(s.ctx)
	noErr(t, "first Commit", err)
	_, err = b.Commit(s.ctx)
	wantErr(t, "second Commit of the same id", err, trove.ErrConflict)
	if got := ids(s.all()); got != "[x x@2 z]" {
		t.Fatalf("events after competing commits: %s", got)
	}
}

func testTxClosed(t *testing.T, k *kit) {
	s := k.open(t, "events", "Transactional")
	tx := s.begin()
	txSave(t, s, tx, ev("c1", "kit.tx", `{}`))
	_, err := tx.Commit(s.ctx)
	noErr(t, "Commit", err)
	_, err = tx.SaveEvent(s.ctx, ev("c2", "kit.tx", `{}`))
	wantErr(t, "SaveEvent after Commit", err, trove.ErrClosed)
	_, err = tx.Commit(s.ctx)
	wantErr(t, "Commit twice", err, trove.ErrClosed)
	tx = s.begin()
	txSave(t, s, tx, ev("c3", "kit.tx", `{}`))
	noErr(t, "Rollback", tx.Rollback(s.ctx))
	_, err = tx.SaveEvent(s.ctx, ev("c4", "kit.tx", `{}`))
	wantErr(t, "SaveEvent after Rollback", err, trove.ErrClosed)
	_, err = tx.Commit(s.ctx)
	wantErr(t, "Commit after Rollback", err, trove.ErrClosed)
	noErr(t, "Rollback twice", tx.Rollback(s.ctx))
	// An empty transaction commits to nothing.
	out, err := s.begin().Commit(s.ctx)
	noErr(t, "empty Commit", err)
	if len(out) != 0 {
		t.Fatalf("empty Commit returned %d events", len(out))
	}
	if got := ids(s.all()); got != "[c1]" {
		t.Fatalf("events: %s", got)
	}
}

func batchSave(s *store, events []trove.Event) ([]trove.Event, error) {
	return s.ev.(trove.BatchSaver).SaveEvents(s.ctx, events)
}

func testBatchAtomic(t *testing.T, k *kit) {
	s := k.open(t, "events", "BatchSaver")
	s.save(ev("old", "kit.batch", `{"v":1}`))
	batches := map[string]struct {
		events []trove.Event
		err    error
	}{
		"one invalid event":   {[]trove.Event{ev("b1", "kit.batch", `{}`), ev("b2", "kit.batch", `{}`), ev("b3", "kit.batch", `[]`)}, trove.ErrInvalid},
		"one without schema":  {[]trove.Event{ev("b1", "kit.batch", `{}`), {ID: id("b4"), Payload: json.RawMessage(`{}`)}}, trove.ErrInvalid},
		"one conflict":        {[]trove.Event{ev("b1", "kit.batch", `{}`), ev("old", "kit.batch", `{"v":"x"}`)}, trove.ErrConflict},
		"one version gap":     {[]trove.Event{ev("b1", "kit.batch", `{}`), {ID: trove.EventID{ID: "old", Version: 3}, Schema: schema("kit.batch"), Payload: json.RawMessage(`{}`)}}, trove.ErrConflict},
		"duplicate, changed":  {[]trove.Event{ev("b1", "kit.batch", `{"a":1}`), ev("b1", "kit.batch", `{"a":2}`)}, trove.ErrConflict},
		"bad file id in one ": {[]trove.Event{ev("b1", "kit.batch", `{}`), {ID: id("b5"), Schema: schema("kit.batch"), Payload: json.RawMessage(`{}`), Files: []trove.EventFile{{ID: "../x"}}}}, trove.ErrInvalid},
	}
	for name, b := range batches {
		_, err := batchSave(s, b.events)
		wantErr(t, "batch with "+name, err, b.err)
		if got := ids(s.all()); got != "[old]" {
			t.Fatalf("events after a batch with %s: %s, want [old]", name, got)
		}
	}
	good := []trove.Event{ev("b1", "kit.batch", `{}`), ev("b2", "kit.batch", `{}`), ev("", "kit.batch", `{}`)}
	out, err := batchSave(s, good)
	noErr(t, "SaveEvents", err)
	if len(out) != 3 {
		t.Fatalf("SaveEvents returned %d events", len(out))
	}
	for i, e := range out {
		if e.Position <= 1 || i > 0 && e.Position <= out[i-1].Position {
			t.Fatalf("batch event %d has position %d", i, e.Position)
		}
		checkSame(t, "GetEvent of a batch event", s.get(e.ID.ID, 0), e)
	}
	// Retrying the whole batch returns the stored events.
	good[2].ID = out[2].ID
	good[2].CreatedAt = out[2].CreatedAt
	again, err := batchSave(s, good)
	noErr(t, "retried SaveEvents", err)
	for i := range again {
		checkSame(t, "retried batch event", again[i], out[i])
	}
	if n := len(s.all()); n != 4 {
		t.Fatalf("%d events after a retried batch, want 4", n)
	}
	empty, err := batchSave(s, nil)
	noErr(t, "empty SaveEvents", err)
	if len(empty) != 0 {
		t.Fatalf("empty batch returned %d events", len(empty))
	}
}

func testBatchVersions(t *testing.T, k *kit) {
	s := k.open(t, "events", "BatchSaver")
	v := func(n int, payload string) trove.Event {
		e := ev("multi", "kit.batch", payload)
		e.ID.Version = n
		return e
	}
	out, err := batchSave(s, []trove.Event{v(1, `{"v":1}`), v(2, `{"v":2}`), v(3, `{"v":3}`)})
	noErr(t, "a batch of three versions", err)
	if out[2].ID.Version != 3 || !(out[0].Position < out[1].Position && out[1].Position < out[2].Position) {
		t.Fatalf("versions saved as %s at %d %d %d", ids(out), out[0].Position, out[1].Position, out[2].Position)
	}
	checkSame(t, "latest", s.get("multi", 0), out[2])
	_, err = batchSave(s, []trove.Event{v(4, `{"v":4}`), v(6, `{"v":6}`)})
	wantErr(t, "a batch with a gap", err, trove.ErrConflict)
	checkSame(t, "latest after a refused batch", s.get("multi", 0), out[2])
}

// collector gathers what a subscription delivers.
type collector struct {
	mu     sync.Mutex
	events []trove.Event
	more   chan struct{}
}

func newCollector() *collector { return &collector{more: make(chan struct{}, 1)} }

func (c *collector) add(e trove.Event) error {
	c.mu.Lock()
	c.events = append(c.events, e)
	c.mu.Unlock()
	select {
	case c.more <- struct{}{}:
	default:
	}
	return nil
}

// waitFor waits until n events arrived or the subscription ended.
func (c *collector) waitFor(t testing.TB, n int, done <-chan error) []trove.Event {
	t.Helper()
	guard := time.NewTimer(2 * time.Minute) // a hang guard, not a speed limit
	defer guard.Stop()
	for {
		c.mu.Lock()
		got := append([]trove.Event(nil), c.events...)
		c.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-c.more:
		case err := <-done:
			t.Fatalf("subscription ended after %d of %d events: %v", len(got), n, err)
		case <-guard.C:
			t.Fatalf("subscription delivered %d of %d events and then nothing", len(got), n)
		}
	}
}

// checkStream checks that got is exactly the stored events after from, in
// position order: no gap, no duplicate.
func checkStream(t testing.TB, s *store, got []trove.Event, from uint64) {
	t.Helper()
	var want []trove.Event
	for _, e := range s.all() {
		if e.Position > from {
			want = append(want, e)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("stream delivered %d events, the store holds %d after position %d", len(got), len(want), from)
	}
	for i := range want {
		if d := sameStored(got[i], want[i]); d != "" {
			t.Fatalf("stream event %d: %s", i, d)
		}
	}
}

func subscribe(s *store, ctx context.Context, from uint64, fn func(trove.Event) error) <-chan error {
	done := make(chan error, 1)
	go func() { done <- s.ev.(trove.Subscriber).Subscribe(ctx, from, fn) }()
	return done
}

func testSubscribe(t *testing.T, k *kit) {
	s := k.open(t, "events", "Subscriber")
	for i := range 10 {
		s.save(ev(fmt.Sprintf("before-%d", i), "kit.sub", `{}`))
	}
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	c := newCollector()
	done := subscribe(s, ctx, 0, c.add)
	// Concurrent writers while the subscription catches up and goes live.
	const writers, each = 4, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				e := ev(fmt.Sprintf("live-%d-%d", w, i), "kit.sub", fmt.Sprintf(`{"w":%d,"i":%d}`, w, i))
				if _, err := s.ev.SaveEvent(s.ctx, e); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent save: %v", err)
	}
	total := 10 + writers*each
	got := c.waitFor(t, total, done)
	checkStream(t, s, got, 0)
	// Live after catch-up: one more event arrives.
	last := s.save(ev("after", "kit.sub", `{}`))
	got = c.waitFor(t, total+1, done)
	if got[total].ID != last.ID || got[total].Position != last.Position {
		t.Fatalf("live event: got %s at %d, want %s at %d", got[total].ID, got[total].Position, last.ID, last.Position)
	}
	cancel()
	err := <-done
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Subscribe after cancel returned %v, want context.Canceled", err)
	}
	c.mu.Lock()
	n := len(c.events)
	c.mu.Unlock()
	if n != total+1 {
		t.Fatalf("%d events delivered, want %d (a duplicate or an extra event)", n, total+1)
	}
}

func testSubscribeFrom(t *testing.T, k *kit) {
	s := k.open(t, "events", "Subscriber")
	var saved []trove.Event
	for i := range 8 {
		saved = append(saved, s.save(ev(fmt.Sprintf("e%d", i), "kit.sub", `{}`)))
	}
	from := saved[4].Position
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	c := newCollector()
	done := subscribe(s, ctx, from, c.add)
	got := c.waitFor(t, 3, done)
	checkStream(t, s, got, from)
	// From the last position: only new events.
	c2 := newCollector()
	done2 := subscribe(s, ctx, saved[7].Position, c2.add)
	next := s.save(ev("next", "kit.sub", `{}`))
	got2 := c2.waitFor(t, 1, done2)
	if len(got2) != 1 || got2[0].ID != next.ID {
		t.Fatalf("subscription from the end delivered %s, want [next]", ids(got2))
	}
	cancel()
	for _, d := range []<-chan error{done, done2} {
		if err := <-d; !errors.Is(err, context.Canceled) {
			t.Fatalf("Subscribe after cancel returned %v", err)
		}
	}
}

func testSubscribeStop(t *testing.T, k *kit) {
	s := k.open(t, "events", "Subscriber")
	for i := range 5 {
		s.save(ev(fmt.Sprintf("e%d", i), "kit.sub", `{}`))
	}
	stop := errors.New("enough")
	n := 0
	err := s.ev.(trove.Subscriber).Subscribe(s.ctx, 0, func(trove.Event) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	if err != stop {
		t.Fatalf("Subscribe returned %v, want the callback's error as is", err)
	}
	if n != 3 {
		t.Fatalf("callback ran %d times after returning an error at 3", n)
	}
	// A context already done ends it with the context's error.
	ctx, cancel := context.WithCancel(s.ctx)
	cancel()
	err = s.ev.(trove.Subscriber).Subscribe(ctx, 5, func(trove.Event) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Subscribe with a cancelled context returned %v", err)
	}
	// A deadline while waiting for live events.
	ctx, cancel = context.WithTimeout(s.ctx, 50*time.Millisecond)
	defer cancel()
	err = s.ev.(trove.Subscriber).Subscribe(ctx, 0, func(trove.Event) error { return nil })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Subscribe past its deadline returned %v", err)
	}
}

func testReplay(t *testing.T, k *kit) {
	s := k.open(t, "events", "Replayer")
	r := s.ev.(trove.Replayer)
	var none []trove.Event
	noErr(t, "Replay of an empty store", r.Replay(s.ctx, 0, func(e trove.Event) error { none = append(none, e); return nil }))
	if len(none) != 0 {
		t.Fatalf("Replay of an empty store delivered %s", ids(none))
	}
	for i := range 12 {
		e := ev(fmt.Sprintf("r%d", i%8), "kit.replay", fmt.Sprintf(`{"i":%d}`, i))
		if i >= 8 {
			e.ID.Version = 2
		}
		s.save(e)
	}
	for _, from := range []uint64{0, 1, 7, 11, 12, 100} {
		var got []trove.Event
		noErr(t, "Replay", r.Replay(s.ctx, from, func(e trove.Event) error { got = append(got, e); return nil }))
		checkStream(t, s, got, from)
	}
	// Replay stops at the last event committed when it was called, even if
	// the callback saves more.
	var got []trove.Event
	i := 0
	noErr(t, "Replay while saving", r.Replay(s.ctx, 0, func(e trove.Event) error {
		got = append(got, e)
		if i < 3 {
			s.save(ev(fmt.Sprintf("during-%d", i), "kit.replay", `{}`))
			i++
		}
		return nil
	}))
	if len(got) != 12 {
		t.Fatalf("Replay while saving delivered %d events, want the 12 committed before it began", len(got))
	}
	stop := errors.New("stop")
	n := 0
	err := r.Replay(s.ctx, 0, func(trove.Event) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Fatalf("Replay with a failing callback: %v after %d calls", err, n)
	}
}

func testSchemaStore(t *testing.T, k *kit) {
	s := k.open(t, "events", "SchemaStore")
	ss := s.ev.(trove.SchemaStore)
	list := func() []trove.RegisteredSchema {
		t.Helper()
		l, err := ss.ListSchemas(s.ctx)
		noErr(t, "ListSchemas", err)
		return l
	}
	if l := list(); len(l) != 0 {
		t.Fatalf("a new store lists %d schemas", len(l))
	}
	regs := []trove.RegisteredSchema{
		{ID: "invoice", Version: "1", Schema: json.RawMessage(`{"type":"object","properties":{"n":{"type":"number"}}}`)},
		{ID: "invoice", Version: "2", Schema: json.RawMessage(`{"type":"object","required":["n"]}`)},
		{ID: "note", Version: "1.0.0", Schema: json.RawMessage(`{"type":"object"}`)},
	}
	for _, r := range regs {
		noErr(t, "SaveSchema", ss.SaveSchema(s.ctx, r))
	}
	check := func(what string) {
		t.Helper()
		l := list()
		if len(l) != len(regs) {
			t.Fatalf("%s: %d schemas, want %d", what, len(l), len(regs))
		}
		for i := range regs {
			if l[i].ID != regs[i].ID || l[i].Version != regs[i].Version || !trove.JSONEqual(l[i].Schema, regs[i].Schema) {
				t.Fatalf("%s: schema %d is %s@%s %s, want %s@%s %s", what, i, l[i].ID, l[i].Version, l[i].Schema, regs[i].ID, regs[i].Version, regs[i].Schema)
			}
		}
	}
	check("after saving")
	same := regs[0]
	same.Schema = json.RawMessage(`{"properties": {"n": {"type": "number"}}, "type": "object"}`)
	noErr(t, "SaveSchema of the same document again", ss.SaveSchema(s.ctx, same))
	other := regs[1]
	other.Schema = json.RawMessage(`{"type":"string"}`)
	wantErr(t, "SaveSchema of another document under the same id and version", ss.SaveSchema(s.ctx, other), trove.ErrConflict)
	check("after a repeat and a conflict")
	if k.b.Persistent {
		s.reopen()
		ss = s.ev.(trove.SchemaStore)
		check("after reopening")
	} else {
		t.Logf("not applicable: %s has no Persistent: schema persistence not tested", k.name)
	}
}
