package storagetest

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/trovedb/trove"
)

// refusedTests check that a request the Core refuses leaves nothing
// behind, files included: the files it stored are taken back through the
// backend's trove.FileDeleter, and only those.
func refusedTests() []test {
	return []test{
		{"DeleteFile", testDeleteFile},
		{"BatchConflictAfterInlineFile", testRefusedBatchConflict},
		{"PreexistingFileStays", testRefusedKeepsPreexisting},
		{"InvalidEventStoresNoFile", testRefusedInvalidFirst},
		{"EventConflictWithUpload", testRefusedEventUpload},
		{"AcceptedFilesStay", testAcceptedFilesStay},
	}
}

func testDeleteFile(t *testing.T, k *kit) {
	s := k.open(t, "files", "FileDeleter")
	del := s.p.(trove.FileDeleter)
	s.saveFile(trove.EventFile{ID: "doomed", ContentType: "text/plain"}, []byte("old bytes"))
	s.saveFile(trove.EventFile{ID: "twin"}, []byte("old bytes")) // same bytes, another id
	noErr(t, "DeleteFile", del.DeleteFile(s.ctx, "doomed"))
	_, err := s.fs.GetFile(s.ctx, "doomed")
	wantErr(t, "GetFile after DeleteFile", err, trove.ErrNotFound)
	_, err = s.fs.GetFileData(s.ctx, "doomed")
	wantErr(t, "GetFileData after DeleteFile", err, trove.ErrNotFound)
	wantErr(t, "DeleteFile again", del.DeleteFile(s.ctx, "doomed"), trove.ErrNotFound)
	wantErr(t, "DeleteFile of an id never saved", del.DeleteFile(s.ctx, "never"), trove.ErrNotFound)
	for _, id := range []string{"", "..", "a/b", "../x"} {
		wantErr(t, fmt.Sprintf("DeleteFile(%q)", id), del.DeleteFile(s.ctx, id), trove.ErrInvalid)
	}
	if b := s.fileData("twin"); string(b) != "old bytes" {
		t.Fatalf("a file with the same bytes read back %q after the other was deleted", b)
	}
	// The id is free again, for any bytes.
	s.saveFile(trove.EventFile{ID: "doomed"}, []byte("new bytes"))
	if b := s.fileData("doomed"); string(b) != "new bytes" {
		t.Fatalf("saved again after DeleteFile: read back %q", b)
	}
	if k.b.Persistent {
		noErr(t, "DeleteFile", del.DeleteFile(s.ctx, "twin"))
		s.reopen()
		_, err = s.fs.GetFile(s.ctx, "twin")
		wantErr(t, "GetFile of a deleted file after a reopen", err, trove.ErrNotFound)
		if b := s.fileData("doomed"); string(b) != "new bytes" {
			t.Fatalf("after a reopen: read back %q", b)
		}
	}
}

// coreStore is a Core over the backend under test: the backend serves
// files (and events and links when it offers them); a backend without
// events gets the kit's own small event storage for that role.
type coreStore struct {
	t    testing.TB
	k    *kit
	ctx  context.Context
	dir  string
	core *trove.Core
	p    trove.Plugin
}

const (
	kitBackend = "storagetest-backend"
	kitEvents  = "storagetest-events"
)

func (k *kit) openCore(t testing.TB, features ...string) *coreStore {
	t.Helper()
	k.needs(t, features...)
	c := &coreStore{t: t, k: k, ctx: context.Background(), dir: t.TempDir()}
	c.start()
	return c
}

func (c *coreStore) start() {
	c.t.Helper()
	c.p = c.k.b.Open(c.t, c.dir)
	opts := []trove.Option{trove.WithPlugin(kitBackend, c.p)}
	cfg := trove.Config{Storage: trove.StorageConfig{Events: trove.PluginConfig{Plugin: kitBackend}, Files: trove.PluginConfig{Plugin: kitBackend}}}
	if !c.k.caps[trove.CapEvents] {
		cfg.Storage.Events.Plugin = kitEvents
		opts = append(opts, trove.WithPlugin(kitEvents, &eventsOnly{events: map[trove.EventID]trove.Event{}}))
	}
	core, err := trove.Open(c.ctx, cfg, opts...)
	if err != nil {
		c.t.Fatalf("trove.Open over %s: %v", c.k.name, err)
	}
	c.core = core
	c.t.Cleanup(func() { _ = core.Shutdown(context.Background()) })
}

func (c *coreStore) reopen() {
	c.t.Helper()
	if err := c.core.Shutdown(c.ctx); err != nil {
		c.t.Fatalf("Shutdown: %v", err)
	}
	c.start()
}

// absent fails unless file id is unknown to the backend.
func (c *coreStore) absent(what, id string) {
	c.t.Helper()
	fs := c.p.(trove.FileStorage)
	_, err := fs.GetFile(c.ctx, id)
	wantErr(c.t, what+": GetFile("+id+")", err, trove.ErrNotFound)
	_, err = fs.GetFileData(c.ctx, id)
	wantErr(c.t, what+": GetFileData("+id+")", err, trove.ErrNotFound)
}

// present fails unless file id holds data.
func (c *coreStore) present(what, id string, data []byte) {
	c.t.Helper()
	fs := c.p.(trove.FileStorage)
	f, err := fs.GetFile(c.ctx, id)
	noErr(c.t, what+": GetFile("+id+")", err)
	if f.Hash != sha(data) {
		c.t.Fatalf("%s: file %s has hash %s, want %s", what, id, f.Hash, sha(data))
	}
	r, err := fs.GetFileData(c.ctx, id)
	noErr(c.t, what+": GetFileData("+id+")", err)
	defer r.Close()
	var b bytes.Buffer
	_, err = b.ReadFrom(r)
	noErr(c.t, what+": read "+id, err)
	if !bytes.Equal(b.Bytes(), data) {
		c.t.Fatalf("%s: file %s read back %q, want %q", what, id, b.Bytes(), data)
	}
}

// withInline returns e with an inline file id holding data.
func withInline(e trove.Event, id string, data []byte) trove.Event {
	e.Files = append(e.Files, trove.EventFile{ID: id, ContentType: "text/plain", Data: base64.StdEncoding.EncodeToString(data)})
	return e
}

func testRefusedBatchConflict(t *testing.T, k *kit) {
	c := k.openCore(t, "files", "FileDeleter")
	_, err := c.core.CreateEvent(c.ctx, ev("taken", "kit.refused+v1", `{"v":1}`))
	noErr(t, "CreateEvent", err)
	data := []byte("bytes of a refused batch")
	_, err = c.core.CreateEvents(c.ctx, []trove.Event{
		withInline(ev("first", "kit.refused+v1", `{"v":1}`), "orphan1", data),
		ev("taken", "kit.refused+v1", `{"v":2}`), // same id and version, other payload
	})
	wantErr(t, "CreateEvents whose 2nd event conflicts", err, trove.ErrConflict)
	c.absent("after the refused batch", "orphan1")
	_, err = c.core.GetEvent(c.ctx, trove.EventID{ID: "first"})
	wantErr(t, "GetEvent of the refused batch's first event", err, trove.ErrNotFound)
	if k.b.Persistent {
		c.reopen()
		c.absent("after the refused batch and a reopen", "orphan1")
	}
	// The id is free: the same batch without the conflict saves it.
	_, err = c.core.CreateEvents(c.ctx, []trove.Event{withInline(ev("first", "kit.refused+v1", `{"v":1}`), "orphan1", []byte("other bytes"))})
	noErr(t, "CreateEvents again", err)
	c.present("saved again", "orphan1", []byte("other bytes"))
}

func testRefusedKeepsPreexisting(t *testing.T, k *kit) {
	c := k.openCore(t, "files", "FileDeleter")
	data := []byte("bytes that were there before")
	_, err := c.core.SaveFile(c.ctx, trove.EventFile{ID: "kept1"}, bytes.NewReader(data))
	noErr(t, "SaveFile", err)
	_, err = c.core.CreateEvent(c.ctx, ev("taken", "kit.refused+v1", `{"v":1}`))
	noErr(t, "CreateEvent", err)
	_, err = c.core.CreateEvents(c.ctx, []trove.Event{
		withInline(ev("first", "kit.refused+v1", `{}`), "kept1", data), // the same id and bytes
		withInline(ev("second", "kit.refused+v1", `{}`), "new1", []byte("new")),
		ev("taken", "kit.refused+v1", `{"v":2}`),
	})
	wantErr(t, "CreateEvents whose 3rd event conflicts", err, trove.ErrConflict)
	c.present("a file saved before the refused batch", "kept1", data)
	c.absent("a file the refused batch stored", "new1")
	// A single refused event with the same file keeps it too.
	_, err = c.core.CreateEvent(c.ctx, withInline(ev("taken", "kit.refused+v1", `{"v":3}`), "kept1", data))
	wantErr(t, "CreateEvent that conflicts", err, trove.ErrConflict)
	c.present("a file saved before the refused event", "kept1", data)
}

func testRefusedInvalidFirst(t *testing.T, k *kit) {
	c := k.openCore(t, "files")
	strict := trove.MustSchema(`{"$id":"kit.strict+v1","type":"object","required":["must"]}`)
	bad := ev("bad", "kit.refused+v1", `{}`)
	bad.Schema = strict
	_, err := c.core.CreateEvents(c.ctx, []trove.Event{
		withInline(ev("first", "kit.refused+v1", `{}`), "orphan2", []byte("never stored")),
		bad,
	})
	wantErr(t, "CreateEvents whose 2nd event fails its schema", err, trove.ErrInvalid)
	var be *trove.BatchError
	if !errors.As(err, &be) || be.Index != 1 {
		t.Fatalf("CreateEvents: %v, want a BatchError at index 1", err)
	}
	c.absent("after a batch refused by validation", "orphan2")
	// A bad inline file later in the batch stores nothing earlier either.
	_, err = c.core.CreateEvents(c.ctx, []trove.Event{
		withInline(ev("first", "kit.refused+v1", `{}`), "orphan3", []byte("never stored")),
		withInline(ev("second", "kit.refused+v1", `{}`), "bad/id", []byte("x")),
	})
	wantErr(t, "CreateEvents with a bad file id in the 2nd event", err, trove.ErrInvalid)
	c.absent("after a batch refused for a bad file id", "orphan3")
}

func testRefusedEventUpload(t *testing.T, k *kit) {
	c := k.openCore(t, "files", "FileDeleter")
	_, err := c.core.CreateEvent(c.ctx, ev("taken", "kit.refused+v1", `{"v":1}`))
	noErr(t, "CreateEvent", err)
	e := withInline(ev("taken", "kit.refused+v1", `{"v":2}`), "orphan4", []byte("inline"))
	_, err = c.core.CreateEvent(c.ctx, e, trove.Upload{File: trove.EventFile{ID: "orphan5", Filename: "u.bin"}, Data: bytes.NewReader([]byte("uploaded"))})
	wantErr(t, "CreateEvent that conflicts", err, trove.ErrConflict)
	c.absent("inline file of a refused event", "orphan4")
	c.absent("upload of a refused event", "orphan5")
	// An upload that fails its hash takes back the inline file stored
	// before it.
	e = withInline(ev("fresh", "kit.refused+v1", `{}`), "orphan6", []byte("inline"))
	_, err = c.core.CreateEvent(c.ctx, e, trove.Upload{File: trove.EventFile{ID: "orphan7", Hash: sha([]byte("other"))}, Data: bytes.NewReader([]byte("uploaded"))})
	wantErr(t, "CreateEvent with an upload whose hash does not match", err, trove.ErrInvalid)
	c.absent("inline file before a refused upload", "orphan6")
	c.absent("refused upload", "orphan7")
}

func testAcceptedFilesStay(t *testing.T, k *kit) {
	c := k.openCore(t, "files", "FileDeleter")
	out, err := c.core.CreateEvents(c.ctx, []trove.Event{
		withInline(ev("a", "kit.refused+v1", `{}`), "kept2", []byte("accepted")),
		withInline(ev("b", "kit.refused+v1", `{}`), "kept2", []byte("accepted")), // the same file twice
	})
	noErr(t, "CreateEvents", err)
	if len(out) != 2 || len(out[0].Files) != 1 || out[0].Files[0].Hash != sha([]byte("accepted")) || out[0].Files[0].Data != "" {
		t.Fatalf("CreateEvents returned %+v", out)
	}
	c.present("a file of an accepted batch", "kept2", []byte("accepted"))
	// A refused batch that references the same file does not take it.
	_, err = c.core.CreateEvents(c.ctx, []trove.Event{
		withInline(ev("c", "kit.refused+v1", `{}`), "kept2", []byte("accepted")),
		ev("a", "kit.refused+v1", `{"v":2}`),
	})
	wantErr(t, "CreateEvents that conflicts", err, trove.ErrConflict)
	c.present("a file of an accepted batch, after a refused one", "kept2", []byte("accepted"))
}

// eventsOnly is the kit's event storage for backends that serve files
// only: enough of the contract for the Core's refusals (same id and
// version with another payload is ErrConflict; batches all or nothing).
type eventsOnly struct {
	mu     sync.Mutex
	events map[trove.EventID]trove.Event
	last   uint64
}

var (
	_ trove.EventStorage = (*eventsOnly)(nil)
	_ trove.BatchSaver   = (*eventsOnly)(nil)
)

func (s *eventsOnly) Name() string                                  { return kitEvents }
func (s *eventsOnly) Capabilities() []trove.Capability              { return []trove.Capability{trove.CapEvents} }
func (s *eventsOnly) Initialize(context.Context, *trove.Core) error { return nil }
func (s *eventsOnly) Shutdown(context.Context) error                { return nil }

func (s *eventsOnly) SaveEvent(ctx context.Context, e trove.Event) (trove.Event, error) {
	out, err := s.SaveEvents(ctx, []trove.Event{e})
	if err != nil {
		return e, err
	}
	return out[0], nil
}

func (s *eventsOnly) SaveEvents(_ context.Context, events []trove.Event) ([]trove.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]trove.Event, len(events))
	staged := map[trove.EventID]trove.Event{}
	for i, e := range events {
		p, err := trove.Prepare(e, time.Now())
		if err != nil {
			return nil, &trove.BatchError{Index: i, Err: err}
		}
		old, ok := s.events[p.ID]
		if !ok {
			old, ok = staged[p.ID]
		}
		if ok && !trove.JSONEqual(old.Payload, p.Payload) {
			return nil, &trove.BatchError{Index: i, Err: fmt.Errorf("%w: event %s exists", trove.ErrConflict, p.ID)}
		}
		if ok {
			out[i] = old // a retry
			continue
		}
		staged[p.ID] = p
		out[i] = p
	}
	for i := range out {
		if out[i].Position == 0 {
			s.last++
			out[i].Position = s.last
			s.events[out[i].ID] = out[i]
		}
	}
	return out, nil
}

func (s *eventsOnly) GetEvent(_ context.Context, id trove.EventID) (trove.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id.Version == 0 {
		id.Version = 1
	}
	e, ok := s.events[id]
	if !ok {
		return trove.Event{}, fmt.Errorf("%w: event %s", trove.ErrNotFound, id)
	}
	return e, nil
}

func (s *eventsOnly) QueryEvents(context.Context, trove.EventQuery) ([]trove.Event, error) {
	return nil, fmt.Errorf("%w: the kit's event storage answers no query", trove.ErrInvalid)
}
