package trove

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
)

// claimFiles is a file storage that records deletes.
type claimFiles struct {
	mu      sync.Mutex
	files   map[string][]byte
	deletes []string
}

func newClaimFiles() *claimFiles { return &claimFiles{files: map[string][]byte{}} }

func (f *claimFiles) Name() string                            { return "claim-files" }
func (f *claimFiles) Capabilities() []Capability              { return []Capability{CapFiles} }
func (f *claimFiles) Initialize(context.Context, *Core) error { return nil }
func (f *claimFiles) Shutdown(context.Context) error          { return nil }

func (f *claimFiles) SaveFile(_ context.Context, m EventFile, data io.Reader) (EventFile, error) {
	b, err := io.ReadAll(data)
	if err != nil {
		return m, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if old, ok := f.files[m.ID]; ok && !bytes.Equal(old, b) {
		return m, ErrConflict
	}
	f.files[m.ID] = b
	m.Size = int64(len(b))
	return m, nil
}

func (f *claimFiles) GetFile(_ context.Context, id string) (EventFile, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.files[id]
	if !ok {
		return EventFile{}, ErrNotFound
	}
	return EventFile{ID: id, Size: int64(len(b))}, nil
}

func (f *claimFiles) GetFileData(_ context.Context, id string) (io.ReadCloser, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.files[id]
	if !ok {
		return nil, ErrNotFound
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (f *claimFiles) DeleteFile(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.files[id]; !ok {
		return ErrNotFound
	}
	delete(f.files, id)
	f.deletes = append(f.deletes, id)
	return nil
}

func (f *claimFiles) has(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.files[id]
	return ok
}

// TestFileClaims walks the claim rules: a file is deleted only when the
// claims created it, every claimant is done, none succeeded and none ended
// unsure.
func TestFileClaims(t *testing.T) {
	ctx := context.Background()
	type step struct {
		claimant int
		save     bool // save the file before releasing
		keep     bool // release with keep
	}
	cases := []struct {
		name       string
		preexists  bool
		claimants  int
		steps      []step
		wantExists bool
	}{
		{"refused alone", false, 1, []step{{0, true, false}}, false},
		{"accepted alone", false, 1, []step{{0, true, true}}, true},
		{"existed before", true, 1, []step{{0, true, false}}, true},
		{"refused, then the other accepted", false, 2, []step{{0, true, false}, {1, true, true}}, true},
		{"accepted, then the other refused", false, 2, []step{{0, true, true}, {1, true, false}}, true},
		{"both refused", false, 2, []step{{0, true, false}, {1, true, false}}, false},
		{"refused before saving, the other refused after", false, 2, []step{{1, false, false}, {0, true, false}}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs := newClaimFiles()
			if tc.preexists {
				fs.files["f"] = []byte("x")
			}
			var fc fileClaims
			claims := make([]*fileClaim, tc.claimants)
			for i := range claims {
				c, err := fc.claim(ctx, fs, "f")
				if err != nil {
					t.Fatal(err)
				}
				claims[i] = c
			}
			for _, st := range tc.steps {
				if st.save {
					if _, err := fs.SaveFile(ctx, EventFile{ID: "f"}, bytes.NewReader([]byte("x"))); err != nil {
						t.Fatal(err)
					}
				}
				if err := fc.release(ctx, fs, claims[st.claimant], st.keep); err != nil {
					t.Fatal(err)
				}
			}
			if fs.has("f") != tc.wantExists {
				t.Fatalf("file exists: %v, want %v (deletes %v)", fs.has("f"), tc.wantExists, fs.deletes)
			}
			if len(fs.deletes) > 1 {
				t.Fatalf("deleted %d times", len(fs.deletes))
			}
			if len(fc.mu.m) != 0 {
				t.Fatalf("claims left: %v", fc.mu.m)
			}
		})
	}
}

// outcomeEvents is an event storage whose saves fail with a chosen error.
type outcomeEvents struct {
	fakePlugin
	err error
}

func (p *outcomeEvents) SaveEvent(ctx context.Context, e Event) (Event, error) {
	if p.err != nil {
		return e, p.err
	}
	return p.fakePlugin.SaveEvent(ctx, e)
}

func (p *outcomeEvents) SaveEvents(ctx context.Context, es []Event) ([]Event, error) {
	if p.err != nil {
		return nil, &BatchError{Index: len(es) - 1, Err: p.err}
	}
	return p.fakePlugin.SaveEvents(ctx, es)
}

// TestRefusedOrUnsureSave checks which save errors take the request's
// files back: a refusal (invalid, conflict, not found) does; an error of
// unknown outcome keeps them, since the event may be stored.
func TestRefusedOrUnsureSave(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		err      error
		wantKept bool
	}{
		{nil, true},
		{fmt.Errorf("store: %w", ErrConflict), false},
		{fmt.Errorf("store: %w", ErrInvalid), false},
		{fmt.Errorf("store: %w", ErrNotFound), false},
		{errors.New("store: fsync: input/output error"), true},
		{context.Canceled, true},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc.err), func(t *testing.T) {
			var log []string
			events := &outcomeEvents{fakePlugin: fakePlugin{name: "outcome-events", caps: []Capability{CapEvents}, log: &log}, err: tc.err}
			fs := newClaimFiles()
			core, err := Open(ctx, Config{Storage: StorageConfig{Events: PluginConfig{Plugin: "outcome-events"}, Files: PluginConfig{Plugin: "claim-files"}}},
				WithPlugin("outcome-events", events), WithPlugin("claim-files", fs))
			if err != nil {
				t.Fatal(err)
			}
			defer core.Shutdown(ctx)
			e := Event{Schema: MustSchema(`{"$id":"o+v1","type":"object"}`), Payload: []byte(`{}`),
				Files: []EventFile{{ID: "single", Data: base64.StdEncoding.EncodeToString([]byte("a"))}}}
			_, err = core.CreateEvent(ctx, e, Upload{File: EventFile{ID: "upload"}, Data: bytes.NewReader([]byte("u"))})
			if !errors.Is(err, tc.err) {
				t.Fatalf("CreateEvent: %v, want %v", err, tc.err)
			}
			e.Files = []EventFile{{ID: "batch", Data: base64.StdEncoding.EncodeToString([]byte("b"))}}
			_, err = core.CreateEvents(ctx, []Event{e, e})
			if !errors.Is(err, tc.err) {
				t.Fatalf("CreateEvents: %v, want %v", err, tc.err)
			}
			for _, id := range []string{"single", "upload", "batch"} {
				if fs.has(id) != tc.wantKept {
					t.Fatalf("file %s kept: %v, want %v", id, fs.has(id), tc.wantKept)
				}
			}
		})
	}
}

// TestSaveFileJoinsAClaim checks that a plain SaveFile of an id a refused
// request is saving at the same moment keeps the file.
func TestSaveFileJoinsAClaim(t *testing.T) {
	ctx := context.Background()
	fs := newClaimFiles()
	c := &Core{files: fs}
	w := &fileWrite{c: c}
	if _, err := w.save(ctx, EventFile{ID: "shared"}, bytes.NewReader([]byte("s"))); err != nil {
		t.Fatal(err)
	}
	// A plain save of the same id and bytes while the request holds it.
	if _, err := c.SaveFile(ctx, EventFile{ID: "shared"}, bytes.NewReader([]byte("s"))); err != nil {
		t.Fatal(err)
	}
	w.end(ctx, false) // the request is refused
	if !fs.has("shared") {
		t.Fatal("a file saved by SaveFile was deleted with a refused request")
	}
}
