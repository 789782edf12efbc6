package jsonfile

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/trovedb/trove"
)

var rbSchema = trove.MustSchema(`{"$id":"rollback+v1","type":"object"}`)

func rbEvent(id string) trove.Event {
	return trove.Event{ID: trove.EventID{ID: id}, Schema: rbSchema, Payload: json.RawMessage(`{"id":"` + id + `"}`)}
}

func openRB(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := New(Options{Directory: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Initialize(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return s
}

// faults injects an error into the file operations whose op and path
// suffix are listed, each time they run.
type faults struct {
	mu   sync.Mutex
	on   map[string]string // op → path suffix ("" for any path)
	seen []string
}

var errInjected = errors.New("injected I/O error")

func (f *faults) hook(op, path string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if suffix, ok := f.on[op]; ok && strings.HasSuffix(path, suffix) {
		f.seen = append(f.seen, op+" "+filepath.Base(path))
		return errInjected
	}
	return nil
}

// TestRollback injects write failures into saves, and failures into their
// rollback, then reopens the store: a save reported as failed whose
// rollback worked is gone, and stays gone; a failed rollback makes the
// store refuse writes (ErrCorrupt) and the reopened store holds the whole
// batch or none of it, never a part.
func TestRollback(t *testing.T) {
	batch := []string{"b1", "b2", "b3"}
	cases := []struct {
		name   string
		events []string          // saved together (one: SaveEvent)
		on     map[string]string // faults
		broken bool              // the rollback fails
		after  []string          // events of the save found after a reopen (nil: none)
	}{
		{"batch: an event file fails", batch, map[string]string{"write event": "/1.json"}, false, nil},
		{"batch: syncfs fails", batch, map[string]string{"syncfs": ""}, false, nil},
		{"batch: the journal is published but fails", batch, map[string]string{"write journal": ""}, false, nil},
		{"single: the directory sync fails", []string{"s1"}, map[string]string{"sync dir": "events"}, false, nil},
		{"batch: an event file and an earlier one's removal fail", batch, map[string]string{"write event": "b3/1.json", "remove event": "b1/1.json"}, true, batch},
		{"batch: syncfs and the journal's removal fail", batch, map[string]string{"syncfs": "", "remove journal": ""}, true, batch},
		{"batch: syncfs and a directory sync of the rollback fail", batch, map[string]string{"syncfs": "", "sync dir": "/b2"}, true, batch},
		{"single: the directory sync and the removal fail", []string{"s1"}, map[string]string{"sync dir": "events", "remove event": ""}, true, []string{"s1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			s := openRB(t, dir)
			if _, err := s.SaveEvent(ctx, rbEvent("before")); err != nil {
				t.Fatal(err)
			}
			f := &faults{on: tc.on}
			s.fault = f.hook
			events := make([]trove.Event, len(tc.events))
			for i, id := range tc.events {
				events[i] = rbEvent(id)
			}
			var err error
			if len(events) == 1 {
				_, err = s.SaveEvent(ctx, events[0])
			} else {
				_, err = s.SaveEvents(ctx, events)
			}
			if err == nil || len(f.seen) == 0 {
				t.Fatalf("save: %v (faults hit: %v), want a failure", err, f.seen)
			}
			if got := errors.Is(err, trove.ErrCorrupt); got != tc.broken {
				t.Fatalf("save: %v; ErrCorrupt %v, want %v (faults hit: %v)", err, got, tc.broken, f.seen)
			}
			s.fault = nil
			for _, id := range tc.events {
				if _, gerr := s.GetEvent(ctx, trove.EventID{ID: id}); !errors.Is(gerr, trove.ErrNotFound) {
					t.Fatalf("GetEvent(%s) after the failed save: %v, want ErrNotFound", id, gerr)
				}
			}
			// Writes after the save: refused when the rollback failed.
			writes := map[string]error{}
			_, writes["SaveEvent"] = s.SaveEvent(ctx, rbEvent("next"))
			_, writes["SaveEvents"] = s.SaveEvents(ctx, []trove.Event{rbEvent("n1"), rbEvent("n2")})
			writes["SaveLink"] = s.SaveLink(ctx, trove.EventID{ID: "before"}, trove.EventLink{Type: "t", TargetEvent: trove.EventID{ID: "x"}})
			_, writes["SaveFile"] = s.SaveFile(ctx, trove.EventFile{ID: "f"}, bytes.NewReader([]byte("f")))
			writes["SaveSchema"] = s.SaveSchema(ctx, trove.RegisteredSchema{ID: "r", Version: "1", Schema: json.RawMessage(`{"type":"object"}`)})
			tx, err := s.Begin(ctx)
			if err == nil {
				_, writes["transaction"] = tx.SaveEvent(ctx, rbEvent("tx"))
				_ = tx.Rollback(ctx)
			}
			for op, werr := range writes {
				if tc.broken && !errors.Is(werr, trove.ErrCorrupt) {
					t.Fatalf("%s after a failed rollback: %v, want ErrCorrupt", op, werr)
				}
				if !tc.broken && werr != nil {
					t.Fatalf("%s after a failed save: %v", op, werr)
				}
			}
			if _, err := s.GetEvent(ctx, trove.EventID{ID: "before"}); err != nil {
				t.Fatalf("reads go on: %v", err)
			}
			if err := s.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}

			s = openRB(t, dir)
			all, err := s.QueryEvents(ctx, trove.EventQuery{})
			if err != nil {
				t.Fatal(err)
			}
			var found []string
			for i, e := range all {
				if e.Position != uint64(i+1) {
					t.Fatalf("after a reopen: positions %v not dense", all)
				}
				for _, id := range tc.events {
					if e.ID.ID == id {
						found = append(found, id)
					}
				}
			}
			if fmt.Sprint(found) != fmt.Sprint(tc.after) {
				t.Fatalf("after a reopen the failed save's events are %v, want %v", found, tc.after)
			}
			if _, err := os.Stat(filepath.Join(dir, journalFile)); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("journal after a reopen: %v", err)
			}
			// The reopened store takes writes again.
			if _, err := s.SaveEvent(ctx, rbEvent("later")); err != nil {
				t.Fatalf("SaveEvent after the reopen: %v", err)
			}
		})
	}
}
