package jsonfile_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/plugins/jsonfile"
)

var noteSchema = trove.MustSchema(`{"$id":"note+v1","type":"object"}`)

func open(t testing.TB, dir string) *jsonfile.Store {
	t.Helper()
	s, err := jsonfile.New(jsonfile.Options{Directory: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Initialize(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return s
}

func note(id string, version int, payload string) trove.Event {
	return trove.Event{ID: trove.EventID{ID: id, Version: version}, Schema: noteSchema, Payload: json.RawMessage(payload)}
}

func TestOptionsRequireDirectory(t *testing.T) {
	if _, err := trove.NewPlugin(jsonfile.Name, json.RawMessage(`{}`)); !errors.Is(err, trove.ErrInvalid) {
		t.Fatalf("no directory: got %v, want ErrInvalid", err)
	}
	p, err := trove.NewPlugin(jsonfile.Name, json.RawMessage(`{"directory":"x"}`))
	if err != nil || p.Name() != jsonfile.Name {
		t.Fatalf("NewPlugin: %v, %v", p, err)
	}
}

func TestSecondStoreOnSameDirectoryFails(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	second, _ := jsonfile.New(jsonfile.Options{Directory: dir})
	err := second.Initialize(context.Background(), nil)
	if !errors.Is(err, jsonfile.ErrLocked) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("second Initialize: got %v, want ErrLocked naming %s", err, dir)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Once the first is shut down the directory is free again.
	third := open(t, dir)
	if _, err := third.QueryEvents(context.Background(), trove.EventQuery{}); err != nil {
		t.Fatal(err)
	}
}

func TestEventFileIsPlainJSON(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	ctx := context.Background()
	saved, err := s.SaveEvent(ctx, trove.Event{
		ID: trove.EventID{ID: "report/2025"}, Producer: "web-api", Schema: noteSchema,
		Payload: json.RawMessage(`{"title":"Annual Report","author":{"name":"Jane"}}`),
		Links:   []trove.EventLink{{Type: "parent", TargetEvent: trove.EventID{ID: "folder-1"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "events", "report%2F2025", "1.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, []byte("\n  \"id\": {")) {
		t.Errorf("event file is not indented:\n%s", raw)
	}
	var doc struct {
		ID       trove.EventID    `json:"id"`
		Position uint64           `json:"position"`
		Producer string           `json:"producer"`
		Schema   map[string]any   `json:"schema"`
		Payload  map[string]any   `json:"payload"`
		Links    []map[string]any `json:"links"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("event file is not JSON: %v\n%s", err, raw)
	}
	if doc.ID != (trove.EventID{ID: "report/2025", Version: 1}) || doc.Position != saved.Position || doc.Producer != "web-api" ||
		doc.Schema["$id"] != "note+v1" || doc.Payload["title"] != "Annual Report" || len(doc.Links) != 1 {
		t.Errorf("event file holds %+v", doc)
	}
}

func TestReopenKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s := open(t, dir)
	for i, id := range []string{"a", "b", "a"} {
		v := 1
		if i == 2 {
			v = 2
		}
		if _, err := s.SaveEvent(ctx, note(id, v, `{"n":1}`)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SaveLink(ctx, trove.EventID{ID: "b"}, trove.EventLink{Type: "ref", TargetEvent: trove.EventID{ID: "a"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SaveFile(ctx, trove.EventFile{ID: "f1", ContentType: "text/plain"}, strings.NewReader("hello")); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveSchema(ctx, trove.RegisteredSchema{ID: "s", Version: "1", Schema: json.RawMessage(`{"type":"object"}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SaveEvent(ctx, note("c", 1, `{"n":2}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	s = open(t, dir)
	all, err := s.QueryEvents(ctx, trove.EventQuery{AllVersions: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range all {
		got = append(got, e.ID.String())
	}
	if strings.Join(got, " ") != "a@1 b@1 a@2 c@1" || all[3].Position != 4 {
		t.Fatalf("after reopen: %v (last position %d)", got, all[len(all)-1].Position)
	}
	e, err := s.SaveEvent(ctx, note("d", 1, `{}`))
	if err != nil || e.Position != 5 {
		t.Fatalf("position after reopen: %d, %v (want 5)", e.Position, err)
	}
	links, err := s.GetLinks(ctx, trove.EventID{ID: "a"}, trove.LinkOptions{Direction: trove.Incoming})
	if err != nil || len(links) != 1 || *links[0].SourceEvent != (trove.EventID{ID: "b", Version: 1}) {
		t.Fatalf("incoming links after reopen: %+v, %v", links, err)
	}
	rc, err := s.GetFileData(ctx, "f1")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "hello" {
		t.Fatalf("file data after reopen: %q", b)
	}
	regs, err := s.ListSchemas(ctx)
	if err != nil || len(regs) != 1 || regs[0].ID != "s" {
		t.Fatalf("schemas after reopen: %+v, %v", regs, err)
	}
}

func TestLinkOrderSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s := open(t, dir)
	link := func(typ string) trove.EventLink {
		return trove.EventLink{Type: typ, TargetEvent: trove.EventID{ID: "t"}}
	}
	mustSave := func(e trove.Event) {
		if _, err := s.SaveEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	e1 := note("x", 1, `{}`)
	e1.Links = []trove.EventLink{link("own1")}
	mustSave(e1)
	if err := s.SaveLink(ctx, trove.EventID{ID: "x"}, link("added1")); err != nil {
		t.Fatal(err)
	}
	e2 := note("y", 1, `{}`)
	e2.Links = []trove.EventLink{link("own2")}
	mustSave(e2)
	if err := s.SaveLink(ctx, trove.EventID{ID: "y"}, link("added2")); err != nil {
		t.Fatal(err)
	}
	types := func() string {
		ls, err := s.GetLinks(ctx, trove.EventID{ID: "t"}, trove.LinkOptions{Direction: trove.Incoming})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, l := range ls {
			out = append(out, l.Type)
		}
		return strings.Join(out, " ")
	}
	before := types()
	if before != "own1 added1 own2 added2" {
		t.Fatalf("incoming order: %s", before)
	}
	s.Shutdown(ctx)
	s = open(t, dir)
	if after := types(); after != before {
		t.Fatalf("incoming order after reopen: %s, before: %s", after, before)
	}
}

func TestTornLinkTailIsCut(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s := open(t, dir)
	if _, err := s.SaveEvent(ctx, note("a", 1, `{}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveLink(ctx, trove.EventID{ID: "a"}, trove.EventLink{Type: "ref", TargetEvent: trove.EventID{ID: "b"}}); err != nil {
		t.Fatal(err)
	}
	s.Shutdown(ctx)
	path := filepath.Join(dir, "links.ndjson")
	good, _ := os.ReadFile(path)
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"source":{"id":"a","version":1},"ty`)
	f.Close()

	s = open(t, dir)
	links, err := s.GetLinks(ctx, trove.EventID{ID: "a"}, trove.LinkOptions{})
	if err != nil || len(links) != 1 {
		t.Fatalf("links: %+v, %v", links, err)
	}
	if now, _ := os.ReadFile(path); !bytes.Equal(now, good) {
		t.Fatalf("torn tail not cut:\n%s", now)
	}
}

func TestCorruptFilesAreReported(t *testing.T) {
	cases := []struct {
		name   string
		break_ func(dir string)
	}{
		{"event file not JSON", func(dir string) {
			os.WriteFile(filepath.Join(dir, "events", "a", "1.json"), []byte("{not json"), 0o644)
		}},
		{"event file in the wrong directory", func(dir string) {
			os.Rename(filepath.Join(dir, "events", "b"), filepath.Join(dir, "events", "c"))
		}},
		{"missing version", func(dir string) {
			os.Remove(filepath.Join(dir, "events", "a", "1.json"))
		}},
		{"bad link line in the middle", func(dir string) {
			os.WriteFile(filepath.Join(dir, "links.ndjson"), []byte("garbage\n"), 0o644)
		}},
		{"position held twice", func(dir string) {
			raw, _ := os.ReadFile(filepath.Join(dir, "events", "b", "1.json"))
			raw = bytes.Replace(raw, []byte(`"position": 3`), []byte(`"position": 1`), 1)
			os.WriteFile(filepath.Join(dir, "events", "b", "1.json"), raw, 0o644)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ctx := context.Background()
			s := open(t, dir)
			for _, e := range []trove.Event{note("a", 1, `{}`), note("a", 2, `{}`), note("b", 1, `{}`)} {
				if _, err := s.SaveEvent(ctx, e); err != nil {
					t.Fatal(err)
				}
			}
			s.Shutdown(ctx)
			tc.break_(dir)
			s2, _ := jsonfile.New(jsonfile.Options{Directory: dir})
			err := s2.Initialize(ctx, nil)
			var ce *trove.CorruptionError
			if !errors.Is(err, trove.ErrCorrupt) || !errors.As(err, &ce) || ce.File == "" {
				t.Fatalf("Initialize: got %v, want a CorruptionError", err)
			}
			// The failed open released the lock: trying again reports the
			// same corruption, not ErrLocked.
			s3, _ := jsonfile.New(jsonfile.Options{Directory: dir})
			if err := s3.Initialize(ctx, nil); !errors.Is(err, trove.ErrCorrupt) {
				t.Fatalf("second Initialize: got %v, want ErrCorrupt", err)
			}
		})
	}
}

func TestInterruptedBatchIsFinishedOnOpen(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s := open(t, dir)
	if _, err := s.SaveEvent(ctx, note("a", 1, `{}`)); err != nil {
		t.Fatal(err)
	}
	s.Shutdown(ctx)
	// A crash after the journal was published and one event file written:
	// the journal holds the whole batch.
	now := time.Date(2025, 4, 15, 8, 0, 0, 0, time.UTC)
	var journal bytes.Buffer
	for i, id := range []string{"b", "c"} {
		e := note(id, 1, `{"i":1}`)
		e.CreatedAt, e.Position = now, uint64(2+i)
		raw, _ := json.Marshal(e)
		journal.Write(append(raw, '\n'))
	}
	os.WriteFile(filepath.Join(dir, "batch.journal"), journal.Bytes(), 0o644)
	os.Mkdir(filepath.Join(dir, "events", "b"), 0o755)
	os.WriteFile(filepath.Join(dir, "events", "b", "1.json"), []byte(`{"id":`), 0o644) // torn

	s = open(t, dir)
	all, err := s.QueryEvents(ctx, trove.EventQuery{})
	if err != nil || len(all) != 3 || all[2].ID.ID != "c" || all[2].Position != 3 {
		t.Fatalf("after recovery: %+v, %v", all, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "batch.journal")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("journal still there: %v", err)
	}
}

func TestBatchIsAtomic(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s := open(t, dir)
	if _, err := s.SaveEvent(ctx, note("a", 1, `{}`)); err != nil {
		t.Fatal(err)
	}
	_, err := s.SaveEvents(ctx, []trove.Event{note("b", 1, `{}`), note("a", 3, `{}`)})
	var be *trove.BatchError
	if !errors.Is(err, trove.ErrConflict) || !errors.As(err, &be) || be.Index != 1 {
		t.Fatalf("batch with a bad version: %v", err)
	}
	if _, err := s.GetEvent(ctx, trove.EventID{ID: "b"}); !errors.Is(err, trove.ErrNotFound) {
		t.Fatalf("b saved by a failed batch: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "events", "b")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("b written by a failed batch: %v", err)
	}
	out, err := s.SaveEvents(ctx, []trove.Event{note("b", 1, `{}`), note("b", 2, `{}`), note("a", 2, `{}`)})
	if err != nil || len(out) != 3 || out[2].Position != 4 {
		t.Fatalf("batch: %+v, %v", out, err)
	}
}

func TestSubscribeCatchesUpThenFollows(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := open(t, t.TempDir())
	if _, err := s.SaveEvent(ctx, note("a", 1, `{}`)); err != nil {
		t.Fatal(err)
	}
	got := make(chan uint64, 4)
	done := make(chan error, 1)
	go func() {
		done <- s.Subscribe(ctx, 0, func(e trove.Event) error { got <- e.Position; return nil })
	}()
	if p := <-got; p != 1 {
		t.Fatalf("first: %d", p)
	}
	if _, err := s.SaveEvent(ctx, note("b", 1, `{}`)); err != nil {
		t.Fatal(err)
	}
	if p := <-got; p != 2 {
		t.Fatalf("second: %d", p)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Subscribe returned %v", err)
	}
}

func TestClosedStoreSaysClosed(t *testing.T) {
	s := open(t, t.TempDir())
	ctx := context.Background()
	s.Shutdown(ctx)
	if _, err := s.SaveEvent(ctx, note("a", 1, `{}`)); !errors.Is(err, trove.ErrClosed) {
		t.Fatalf("save after shutdown: %v", err)
	}
	if _, err := s.QueryEvents(ctx, trove.EventQuery{}); !errors.Is(err, trove.ErrClosed) {
		t.Fatalf("query after shutdown: %v", err)
	}
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("second shutdown: %v", err)
	}
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s := open(t, dir)
	if _, err := s.SaveEvent(ctx, note("a", 1, `{}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SaveFile(ctx, trove.EventFile{ID: "f"}, strings.NewReader("hello")); err != nil {
		t.Fatal(err)
	}
	s.Shutdown(ctx)
	rep, err := jsonfile.Check(ctx, dir)
	if err != nil || rep.Events != 1 || rep.Versions != 1 || rep.Files != 1 || len(rep.Problems) != 0 {
		t.Fatalf("Check of a sound store: %+v, %v", rep, err)
	}
	os.WriteFile(filepath.Join(dir, "files", "f.data"), []byte("jello"), 0o644)
	rep, err = jsonfile.Check(ctx, dir)
	if !errors.Is(err, trove.ErrCorrupt) || len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0], "f.data") {
		t.Fatalf("Check of damaged bytes: %+v, %v", rep, err)
	}
}
