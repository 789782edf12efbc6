package storagetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trovedb/trove"
)

func lifecycleTests() []test {
	return []test{
		{"Concurrency", testConcurrency},
		{"ConcurrentVersions", testConcurrentVersions},
		{"ConcurrentFilesAndLinks", testConcurrentFilesAndLinks},
		{"Reopen", testReopen},
		{"Closed", testClosed},
	}
}

func testConcurrency(t *testing.T, k *kit) {
	s := k.open(t, "events")
	const workers, each = 8, 40
	var wg sync.WaitGroup
	errs := make(chan error, workers*2)
	for w := range workers {
		wg.Add(2)
		go func() { // a writer that reads its own writes
			defer wg.Done()
			for i := range each {
				e := ev(fmt.Sprintf("w%d-%03d", w, i), fmt.Sprintf("kit.conc%d", w%3), fmt.Sprintf(`{"w":%d,"i":%d}`, w, i))
				saved, err := s.ev.SaveEvent(s.ctx, e)
				if err != nil {
					errs <- fmt.Errorf("save %s: %w", e.ID, err)
					return
				}
				got, err := s.ev.QueryEvents(s.ctx, trove.EventQuery{Payload: map[string]any{"w": w, "i": i}})
				if err != nil || len(got) != 1 || got[0].Position != saved.Position {
					errs <- fmt.Errorf("query right after saving %s: %s, %v", e.ID, ids(got), err)
					return
				}
				if _, err := s.ev.GetEvent(s.ctx, saved.ID); err != nil {
					errs <- fmt.Errorf("get right after saving %s: %w", e.ID, err)
					return
				}
			}
		}()
		go func() { // a reader whose results only grow and stay ordered
			defer wg.Done()
			last := 0
			for range each {
				got, err := s.ev.QueryEvents(s.ctx, trove.EventQuery{Schema: []string{fmt.Sprintf("kit.conc%d", w%3)}})
				if err != nil {
					errs <- err
					return
				}
				if len(got) < last {
					errs <- fmt.Errorf("a query returned %d events after one returned %d", len(got), last)
					return
				}
				last = len(got)
				for i := 1; i < len(got); i++ {
					if got[i].Position <= got[i-1].Position {
						errs <- fmt.Errorf("query results out of position order: %d then %d", got[i-1].Position, got[i].Position)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	all := s.all()
	if len(all) != workers*each {
		t.Fatalf("%d events stored, want %d", len(all), workers*each)
	}
	for i, e := range all {
		if e.Position != uint64(i+1) {
			t.Fatalf("positions are not unique and dense: event %d has position %d", i, e.Position)
		}
	}
	// Every worker's events are in its save order.
	for w := range workers {
		got := s.query(trove.EventQuery{Payload: map[string]any{"w": w}})
		if len(got) != each {
			t.Fatalf("worker %d: %d events", w, len(got))
		}
		for i, e := range got {
			if e.ID.ID != fmt.Sprintf("w%d-%03d", w, i) {
				t.Fatalf("worker %d: event %d is %s: positions do not follow commit order", w, i, e.ID.ID)
			}
		}
	}
}

func testConcurrentVersions(t *testing.T, k *kit) {
	s := k.open(t, "events")
	s.save(ev("hot", "kit.conc", `{"v":1,"by":-1}`))
	const workers, rounds = 6, 15
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := map[int]int{} // version -> winner
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				latest, err := s.ev.GetEvent(s.ctx, id("hot"))
				if err != nil {
					errs <- err
					return
				}
				next := ev("hot", "kit.conc", fmt.Sprintf(`{"v":%d,"by":%d}`, latest.ID.Version+1, w))
				next.ID.Version = latest.ID.Version + 1
				saved, err := s.ev.SaveEvent(s.ctx, next)
				switch {
				case errors.Is(err, trove.ErrConflict):
					continue
				case err != nil:
					errs <- err
					return
				}
				mu.Lock()
				if prev, ok := wins[saved.ID.Version]; ok {
					errs <- fmt.Errorf("version %d saved by workers %d and %d", saved.ID.Version, prev, w)
				}
				wins[saved.ID.Version] = w
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	all := s.query(trove.EventQuery{AllVersions: true})
	if len(all) != len(wins)+1 {
		t.Fatalf("%d versions stored, %d saves succeeded", len(all), len(wins)+1)
	}
	for i, e := range all {
		if e.ID.Version != i+1 {
			t.Fatalf("stored versions are %s: not 1..n in position order", ids(all))
		}
		var p struct{ V, By int }
		noErr(t, "payload", json.Unmarshal(e.Payload, &p))
		if p.V != i+1 || i > 0 && p.By != wins[i+1] {
			t.Fatalf("version %d holds %s, saved by worker %d", i+1, e.Payload, wins[i+1])
		}
	}
}

func testConcurrentFilesAndLinks(t *testing.T, k *kit) {
	s := k.open(t, "events")
	files, links := k.caps[trove.CapFiles], k.caps[trove.CapLinks]
	if !files && !links {
		t.Skipf("not applicable: %s has no %s and no %s", k.name, trove.CapFiles, trove.CapLinks)
	}
	if links {
		s.save(ev("hub", "kit.conc", `{}`))
	}
	const workers, each = 6, 20
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if files {
					// Everyone saves the shared file; each saves its own.
					if _, err := s.fs.SaveFile(s.ctx, trove.EventFile{ID: "shared"}, strings.NewReader("shared bytes")); err != nil {
						errs <- fmt.Errorf("shared file: %w", err)
						return
					}
					fid := fmt.Sprintf("f-%d-%d", w, i)
					if _, err := s.fs.SaveFile(s.ctx, trove.EventFile{ID: fid}, strings.NewReader(fid)); err != nil {
						errs <- err
						return
					}
					r, err := s.fs.GetFileData(s.ctx, fid)
					if err != nil {
						errs <- err
						return
					}
					b, err := io.ReadAll(r)
					r.Close()
					if err != nil || string(b) != fid {
						errs <- fmt.Errorf("file %s read back %q, %v", fid, b, err)
						return
					}
				}
				if links {
					if err := s.ls.SaveLink(s.ctx, id("hub"), lnk(fmt.Sprintf("w%d", w), fmt.Sprintf("t%d", i), 0)); err != nil {
						errs <- err
						return
					}
					if _, err := s.ls.GetLinks(s.ctx, id("hub"), trove.LinkOptions{Type: fmt.Sprintf("w%d", w)}); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if links {
		for w := range workers {
			got, err := s.ls.GetLinks(s.ctx, id("hub"), trove.LinkOptions{Type: fmt.Sprintf("w%d", w)})
			noErr(t, "GetLinks", err)
			if len(got) != each {
				t.Fatalf("worker %d: %d links, want %d", w, len(got), each)
			}
			for i, l := range got {
				if l.TargetEvent.ID != fmt.Sprintf("t%d", i) {
					t.Fatalf("worker %d: link %d targets %s: not in save order", w, i, l.TargetEvent.ID)
				}
			}
		}
		if n := len(s.query(trove.EventQuery{Links: []trove.LinkCriterion{{Type: "w0", TargetEvent: &trove.EventID{ID: "t7"}}}})); n != 1 {
			t.Fatalf("query on a concurrently added link: %d events", n)
		}
	}
	if files {
		f := mustGetFile(t, s, "shared")
		if f.Size != int64(len("shared bytes")) || f.Hash != sha([]byte("shared bytes")) {
			t.Fatalf("shared file: %+v", f)
		}
	}
}

func testReopen(t *testing.T, k *kit) {
	s := k.open(t, "events", "Persistent")
	full := s.save(fullEvent())
	v2in := fullEvent()
	v2in.ID.Version = 2
	v2in.Payload = json.RawMessage(`{"title":"Second"}`)
	v2 := s.save(v2in)
	other := s.save(ev("kit-other", "kit.note", `{"n":1}`))
	if k.caps[trove.CapLinks] {
		s.saveLink(id("kit-other"), lnk("later", "kit-full", 1))
	}
	data := []byte("persistent bytes")
	var file trove.EventFile
	if k.caps[trove.CapFiles] {
		file = s.saveFile(trove.EventFile{ID: "persist.txt", ContentType: "text/plain"}, data)
	}
	s.reopen()
	checkSame(t, "version 1 after reopen", s.get("kit-full", 1), full)
	checkSame(t, "latest after reopen", s.get("kit-full", 0), v2)
	checkSame(t, "other after reopen", s.get("kit-other", 0), other)
	if got := ids(s.all()); got != "[kit-full kit-full@2 kit-other]" {
		t.Fatalf("events after reopen: %s", got)
	}
	if got := ids(s.query(trove.EventQuery{Payload: map[string]any{"title": "Second"}})); got != "[kit-full@2]" {
		t.Fatalf("payload query after reopen: %s", got)
	}
	if k.caps[trove.CapLinks] {
		if got := s.links(id("kit-other"), trove.LinkOptions{}); got != "[kit-other@1>later>kit-full@1]" {
			t.Fatalf("links after reopen: %s", got)
		}
		if got := s.links(id("kit-full"), trove.LinkOptions{Direction: trove.Incoming}); !strings.Contains(got, "kit-other@1>later>kit-full@1") {
			t.Fatalf("incoming links after reopen: %s", got)
		}
		if got := ids(s.query(trove.EventQuery{Links: []trove.LinkCriterion{{Type: "later"}}})); got != "[kit-other]" {
			t.Fatalf("link query after reopen: %s", got)
		}
	}
	if k.caps[trove.CapFiles] {
		checkFile(t, "file after reopen", mustGetFile(t, s, "persist.txt"), file)
		if b := s.fileData("persist.txt"); !bytes.Equal(b, data) {
			t.Fatalf("file bytes after reopen: %q", b)
		}
	}
	// Versions and positions go on after the last ones.
	v3in := fullEvent()
	v3in.ID.Version = 3
	v3 := s.save(v3in)
	if v3.Position <= other.Position {
		t.Fatalf("position after reopen %d, not after %d", v3.Position, other.Position)
	}
	gap := v3in
	gap.ID.Version = 5
	_, err := s.ev.SaveEvent(s.ctx, gap)
	wantErr(t, "version gap after reopen", err, trove.ErrConflict)
	checkSame(t, "idempotent retry after reopen", s.save(fullEvent()), full)
	_, err = s.ev.SaveEvent(s.ctx, ev("kit-other", "kit.note", `{"n":2}`))
	wantErr(t, "conflict after reopen", err, trove.ErrConflict)
	s.reopen()
	positions := []uint64{}
	for _, e := range s.all() {
		positions = append(positions, e.Position)
	}
	if !slices.IsSorted(positions) || len(positions) != 4 || positions[3] != v3.Position {
		t.Fatalf("positions after a second reopen: %v", positions)
	}
	next := s.save(ev("kit-next", "kit.note", `{}`))
	if next.Position <= v3.Position {
		t.Fatalf("position after a second reopen %d, not after %d", next.Position, v3.Position)
	}
}

func testClosed(t *testing.T, k *kit) {
	s := &store{t: t, k: k, ctx: context.Background(), dir: t.TempDir()}
	s.start()
	if s.ev != nil {
		s.save(ev("a", "kit.note", `{}`))
	}
	noErr(t, "Shutdown", s.p.Shutdown(s.ctx))
	noErr(t, "second Shutdown", s.p.Shutdown(s.ctx))
	ctx := s.ctx
	closed := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, trove.ErrClosed) {
			t.Errorf("%s after Shutdown: %v, want ErrClosed", what, err)
		}
	}
	if s.ev != nil && k.caps[trove.CapEvents] {
		_, err := s.ev.SaveEvent(ctx, ev("b", "kit.note", `{}`))
		closed("SaveEvent", err)
		_, err = s.ev.GetEvent(ctx, id("a"))
		closed("GetEvent", err)
		_, err = s.ev.QueryEvents(ctx, trove.EventQuery{})
		closed("QueryEvents", err)
	}
	if s.fs != nil && k.caps[trove.CapFiles] {
		_, err := s.fs.SaveFile(ctx, trove.EventFile{ID: "f"}, strings.NewReader("x"))
		closed("SaveFile", err)
		_, err = s.fs.GetFile(ctx, "f")
		closed("GetFile", err)
		_, err = s.fs.GetFileData(ctx, "f")
		closed("GetFileData", err)
	}
	if s.ls != nil && k.caps[trove.CapLinks] {
		closed("SaveLink", s.ls.SaveLink(ctx, id("a"), lnk("x", "y", 0)))
		_, err := s.ls.GetLinks(ctx, id("a"), trove.LinkOptions{})
		closed("GetLinks", err)
		_, err = s.ls.GetLinkedEvents(ctx, id("a"), trove.LinkOptions{})
		closed("GetLinkedEvents", err)
	}
	if k.tx {
		_, err := s.p.(trove.Transactional).Begin(ctx)
		closed("Begin", err)
	}
	if k.batch {
		_, err := s.p.(trove.BatchSaver).SaveEvents(ctx, []trove.Event{ev("c", "kit.note", `{}`)})
		closed("SaveEvents", err)
	}
	if k.sub {
		closed("Subscribe", s.p.(trove.Subscriber).Subscribe(ctx, 0, func(trove.Event) error { return nil }))
	}
	if k.replay {
		closed("Replay", s.p.(trove.Replayer).Replay(ctx, 0, func(trove.Event) error { return nil }))
	}
	if k.schemas {
		ss := s.p.(trove.SchemaStore)
		closed("SaveSchema", ss.SaveSchema(ctx, trove.RegisteredSchema{ID: "x", Version: "1", Schema: json.RawMessage(`{}`)}))
		_, err := ss.ListSchemas(ctx)
		closed("ListSchemas", err)
	}
	// A transaction begun before Shutdown cannot commit after it.
	if k.tx {
		s2 := k.open(t, "events")
		tx := s2.begin()
		txSave(t, s2, tx, ev("late", "kit.note", `{}`))
		noErr(t, "Shutdown", s2.p.Shutdown(s2.ctx))
		_, err := tx.Commit(s2.ctx)
		closed("Commit of a transaction begun before Shutdown", err)
	}
	// A live subscription ends when the store shuts down.
	if k.sub {
		s3 := k.open(t, "events")
		s3.save(ev("x", "kit.note", `{}`))
		c := newCollector()
		done := subscribe(s3, s3.ctx, 0, c.add)
		c.waitFor(t, 1, done)
		noErr(t, "Shutdown", s3.p.Shutdown(s3.ctx))
		select {
		case err := <-done:
			closed("a subscription live during Shutdown", err)
		case <-time.After(2 * time.Minute): // a hang guard, not a speed limit
			t.Fatalf("a subscription live during Shutdown did not end")
		}
	}
}
