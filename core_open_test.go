package trove

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakePlugin is the smallest plugin the core can drive: it stores events in
// a slice and files in a map, and records its life cycle.
type fakePlugin struct {
	name string
	caps []Capability
	log  *[]string

	mu      sync.Mutex
	events  []Event
	files   map[string]EventFile
	schemas []RegisteredSchema
}

func (p *fakePlugin) Name() string               { return p.name }
func (p *fakePlugin) Capabilities() []Capability { return p.caps }
func (p *fakePlugin) Initialize(ctx context.Context, c *Core) error {
	*p.log = append(*p.log, "init "+p.name)
	return nil
}
func (p *fakePlugin) Shutdown(ctx context.Context) error {
	*p.log = append(*p.log, "shutdown "+p.name)
	return nil
}
func (p *fakePlugin) SaveEvent(ctx context.Context, e Event) (Event, error) {
	e, err := Prepare(e, time.Now())
	if err != nil {
		return e, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	e.Position = uint64(len(p.events) + 1)
	p.events = append(p.events, e)
	return e, nil
}
func (p *fakePlugin) GetEvent(ctx context.Context, id EventID) (Event, error) {
	return Event{}, ErrNotFound
}
func (p *fakePlugin) QueryEvents(ctx context.Context, q EventQuery) ([]Event, error) {
	return nil, nil
}
func (p *fakePlugin) SaveEvents(ctx context.Context, es []Event) ([]Event, error) {
	var out []Event
	for _, e := range es {
		s, err := p.SaveEvent(ctx, e)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}
func (p *fakePlugin) SaveFile(ctx context.Context, f EventFile, r io.Reader) (EventFile, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return f, err
	}
	f.Size = int64(len(b))
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.files == nil {
		p.files = map[string]EventFile{}
	}
	p.files[f.ID] = f
	return f, nil
}
func (p *fakePlugin) GetFile(ctx context.Context, id string) (EventFile, error) {
	return EventFile{}, ErrNotFound
}
func (p *fakePlugin) GetFileData(ctx context.Context, id string) (io.ReadCloser, error) {
	return nil, ErrNotFound
}
func (p *fakePlugin) SaveSchema(ctx context.Context, s RegisteredSchema) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.schemas = append(p.schemas, s)
	return nil
}
func (p *fakePlugin) ListSchemas(ctx context.Context) ([]RegisteredSchema, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]RegisteredSchema(nil), p.schemas...), nil
}

var (
	fakeOnce sync.Once
	fakeLog  []string
	fakeMade []*fakePlugin
)

// registerFakes registers test plugins: "fake-events" (events+links) and
// "fake-files" (files only). Options {"name": …} name the instance.
func registerFakes() {
	fakeOnce.Do(func() {
		mk := func(caps ...Capability) Factory {
			return func(opts json.RawMessage) (Plugin, error) {
				var o struct{ Name string }
				if len(opts) > 0 {
					if err := json.Unmarshal(opts, &o); err != nil {
						return nil, invalidf("options: %v", err)
					}
				}
				p := &fakePlugin{name: o.Name, caps: caps, log: &fakeLog}
				fakeMade = append(fakeMade, p)
				return p, nil
			}
		}
		Register("fake-events", mk(CapEvents, CapLinks))
		Register("fake-files", mk(CapFiles))
	})
}

func TestOpenSharesInstancesAndShutsDownInReverse(t *testing.T) {
	registerFakes()
	fakeLog, fakeMade = nil, nil
	cfg, err := ParseConfig([]byte(`{"storage":{
		"events":{"plugin":"fake-events","options":{"name":"A"}},
		"files":{"plugin":"fake-files","options":{"name":"B"}},
		"links":"useEventStorage"}}`))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(fakeMade) != 2 {
		t.Fatalf("made %d plugin instances, want 2", len(fakeMade))
	}
	if err := c.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	want := "init A,init B,shutdown B,shutdown A"
	if got := strings.Join(fakeLog, ","); got != want {
		t.Errorf("life cycle %s, want %s", got, want)
	}
	if _, err := c.GetEvent(ctx, EventID{ID: "x"}); !errors.Is(err, ErrClosed) {
		t.Errorf("after shutdown: %v", err)
	}
}

func TestOpenRoleErrors(t *testing.T) {
	registerFakes()
	ctx := context.Background()
	cases := map[string]string{
		`{"storage":{"events":{"plugin":"fake-files"}}}`:                                   "fake-files does not offer storage:events",
		`{"storage":{"events":{"plugin":"fake-events"},"files":{"plugin":"fake-events"}}}`: "storage.files: plugin fake-events does not offer storage:files",
		`{"storage":{"events":{"plugin":"nope"}}}`:                                         `unknown storage plugin "nope"`,
		`{"storage":{}}`: "storage.events needs a plugin",
		`{"storage":{"events":{"plugin":"fake-events","options":{"name":"a"}},"links":{"plugin":"fake-events","options":{"name":"b"}}}}`: "must be the event storage's instance",
	}
	for js, want := range cases {
		cfg, err := ParseConfig([]byte(js))
		if err == nil {
			_, err = Open(ctx, cfg)
		}
		if err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid containing %q", js, err, want)
		}
	}
}

func TestLoadConfigYAMLAndJSON(t *testing.T) {
	dir := t.TempDir()
	y := filepath.Join(dir, "trove.yaml")
	os.WriteFile(y, []byte("storage:\n  events:\n    plugin: storage-log\n    options:\n      directory: ./data\n  links: useEventStorage\n"), 0o644)
	j := filepath.Join(dir, "trove.json")
	os.WriteFile(j, []byte(`{"storage":{"events":{"plugin":"storage-log","options":{"directory":"./data"}},"links":"useEventStorage"}}`), 0o644)
	for _, p := range []string{y, j} {
		c, err := LoadConfig(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if c.Storage.Events.Plugin != "storage-log" || c.Storage.Links.Plugin != UseEventStorage || canonicalJSON(c.Storage.Events.Options) != `{"directory":"./data"}` {
			t.Errorf("%s: %+v", p, c)
		}
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("storage: [\n"), 0o644)
	if _, err := LoadConfig(bad); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad yaml: %v", err)
	}
}

func openFake(t *testing.T) (*Core, *fakePlugin) {
	registerFakes()
	fakeMade = nil
	c, err := Open(context.Background(), Config{Storage: StorageConfig{
		Events: PluginConfig{Plugin: "fake-events", Options: json.RawMessage(`{"name":"E"}`)},
		Files:  PluginConfig{Plugin: "fake-files", Options: json.RawMessage(`{"name":"F"}`)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Shutdown(context.Background()) })
	return c, fakeMade[0]
}

func TestCreateEventValidates(t *testing.T) {
	c, _ := openFake(t)
	ctx := context.Background()
	schema := MustSchema(`{"$id":"doc+v1","type":"object","required":["title","size"],
		"properties":{"title":{"type":"string"},"size":{"type":"integer","minimum":0},"tags":{"type":"array","items":{"type":"string"}}}}`)
	if _, err := c.CreateEvent(ctx, Event{Schema: schema, Payload: json.RawMessage(`{"title":"a","size":1}`)}); err != nil {
		t.Fatal(err)
	}
	_, err := c.CreateEvent(ctx, Event{Schema: schema, Payload: json.RawMessage(`{"size":-1,"tags":["a",2]}`)})
	var ve *ValidationError
	if !errors.As(err, &ve) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v, want *ValidationError", err)
	}
	paths := map[string]bool{}
	for _, c := range ve.Causes {
		paths[c.Path] = true
	}
	for _, p := range []string{"", "/size", "/tags/1"} {
		if !paths[p] {
			t.Errorf("causes %+v lack path %q", ve.Causes, p)
		}
	}
	// Another document under the same $id is compiled on its own.
	other := MustSchema(`{"$id":"doc+v1","type":"object","required":["x"]}`)
	if _, err := c.CreateEvent(ctx, Event{Schema: other, Payload: json.RawMessage(`{"x":1}`)}); err != nil {
		t.Errorf("same $id, other document: %v", err)
	}
	// draft-07 is honoured when named.
	d7 := MustSchema(`{"$schema":"http://json-schema.org/draft-07/schema#","$id":"d7","type":"object","properties":{"n":{"type":"number","exclusiveMaximum":5}}}`)
	if _, err := c.CreateEvent(ctx, Event{Schema: d7, Payload: json.RawMessage(`{"n":5}`)}); !errors.Is(err, ErrInvalid) {
		t.Errorf("draft-07 exclusiveMaximum: %v", err)
	}
	// A schema document that does not compile is invalid.
	bad := MustSchema(`{"$id":"bad","type":"nonsense"}`)
	if _, err := c.CreateEvent(ctx, Event{Schema: bad, Payload: json.RawMessage(`{}`)}); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad schema: %v", err)
	}
}

func TestSchemaRegistry(t *testing.T) {
	c, p := openFake(t)
	ctx := context.Background()
	reg := RegisteredSchema{ID: "doc", Version: "1.0.0", Schema: json.RawMessage(`{"type":"object","required":["a"]}`)}
	if _, err := c.RegisterSchema(ctx, reg); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RegisterSchema(ctx, reg); err != nil {
		t.Errorf("same registration again: %v", err)
	}
	reg2 := reg
	reg2.Schema = json.RawMessage(`{"type":"object"}`)
	if _, err := c.RegisterSchema(ctx, reg2); !errors.Is(err, ErrConflict) {
		t.Errorf("other document, same id+version: %v", err)
	}
	if len(p.schemas) != 1 {
		t.Errorf("persisted %d schemas, want 1", len(p.schemas))
	}
	ref := SchemaRef("doc", "1.0.0")
	if _, err := c.CreateEvent(ctx, Event{Schema: ref, Payload: json.RawMessage(`{"a":1}`)}); err != nil {
		t.Errorf("valid against reference: %v", err)
	}
	if _, err := c.CreateEvent(ctx, Event{Schema: ref, Payload: json.RawMessage(`{}`)}); !errors.Is(err, ErrInvalid) {
		t.Errorf("invalid against reference: %v", err)
	}
	if _, err := c.CreateEvent(ctx, Event{Schema: SchemaRef("doc", "9"), Payload: json.RawMessage(`{"a":1}`)}); !errors.Is(err, ErrInvalid) {
		t.Errorf("unknown reference: %v", err)
	}
	for _, bad := range []RegisteredSchema{{Version: "1", Schema: json.RawMessage(`{}`)}, {ID: "x", Version: "1", Schema: json.RawMessage(`[]`)}, {ID: "x", Version: "1", Schema: json.RawMessage(`{"type":7}`)}} {
		if _, err := c.RegisterSchema(ctx, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("RegisterSchema(%+v) = %v", bad, err)
		}
	}
	if got, err := c.Schema("doc", ""); err != nil || got.Version != "1.0.0" {
		t.Errorf("latest: %+v %v", got, err)
	}
	if _, err := c.Schema("nope", ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown: %v", err)
	}
}

func TestCreateEventInlineFilesAndBatch(t *testing.T) {
	c, p := openFake(t)
	ctx := context.Background()
	s := MustSchema(`{"$id":"s","type":"object"}`)
	e, err := c.CreateEvent(ctx, Event{Schema: s, Payload: json.RawMessage(`{}`),
		Files: []EventFile{{ID: "f1", Data: "aGVsbG8="}, {ID: "r", IsReference: true, Data: "s3://b/k"}}},
		Upload{File: EventFile{Filename: "u.txt", ContentType: "text/plain"}, Data: strings.NewReader("upload")})
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Files) != 3 || e.Files[0].Size != 5 || e.Files[0].Data != "" || e.Files[1].Data != "s3://b/k" || e.Files[2].ID == "" || e.Files[2].Size != 6 {
		t.Errorf("files: %+v", e.Files)
	}
	if _, err := c.CreateEvent(ctx, Event{Schema: s, Payload: json.RawMessage(`{}`), Files: []EventFile{{ID: "f2", Data: "%%%"}}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad base64: %v", err)
	}
	before := len(p.events)
	_, err = c.CreateEvents(ctx, []Event{{Schema: s, Payload: json.RawMessage(`{}`)}, {Schema: s, Payload: json.RawMessage(`[]`)}})
	var be *BatchError
	if !errors.As(err, &be) || be.Index != 1 || !errors.Is(err, ErrInvalid) {
		t.Errorf("batch: %v", err)
	}
	if len(p.events) != before {
		t.Error("a failing batch saved events")
	}
}

func (p *fakePlugin) SaveLink(ctx context.Context, source EventID, l EventLink) error { return nil }
func (p *fakePlugin) GetLinks(ctx context.Context, id EventID, o LinkOptions) ([]EventLink, error) {
	return nil, nil
}
func (p *fakePlugin) GetLinkedEvents(ctx context.Context, id EventID, o LinkOptions) ([]Event, error) {
	return nil, nil
}
