package backup_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/backup"
	_ "github.com/trovedb/trove/engine"
	_ "github.com/trovedb/trove/plugins/jsonfile"
	_ "github.com/trovedb/trove/plugins/memory"
	_ "github.com/trovedb/trove/plugins/sqlite"
)

// backends are the stores an export is taken from and loaded into.
var backends = map[string]func(dir string) trove.PluginConfig{
	"storage-log": func(dir string) trove.PluginConfig { return plugin("storage-log", "directory", dir) },
	"storage-sqlite": func(dir string) trove.PluginConfig {
		return plugin("storage-sqlite", "path", filepath.Join(dir, "t.db"))
	},
	"storage-json-file": func(dir string) trove.PluginConfig { return plugin("storage-json-file", "directory", dir) },
	"storage-memory":    func(string) trove.PluginConfig { return trove.PluginConfig{Plugin: "storage-memory"} },
}

func plugin(name, key, value string) trove.PluginConfig {
	opts, _ := json.Marshal(map[string]string{key: value})
	return trove.PluginConfig{Plugin: name, Options: opts}
}

func open(t *testing.T, backend string) *trove.Core {
	t.Helper()
	ctx := context.Background()
	c, err := trove.Open(ctx, trove.Config{Storage: trove.StorageConfig{Events: backends[backend](t.TempDir())}})
	if err != nil {
		t.Fatalf("open %s: %v", backend, err)
	}
	t.Cleanup(func() { _ = c.Shutdown(context.Background()) })
	return c
}

var (
	noteSchema = trove.MustSchema(`{"$id":"note+v1","type":"object"}`)
	docSchema  = trove.MustSchema(`{"$id":"doc+v1","type":"object","properties":{"title":{"type":"string"}}}`)
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// fill saves a store's worth of history: versions, inline files (one
// shared by two events, one of 1.5 MiB that spans chunks), links saved with
// events and added later, interleaved so that the incoming listings of b
// mix both kinds, links to versions and dangling targets, and a registered
// schema with an event that refers to it.
func fill(t *testing.T, c *trove.Core) {
	t.Helper()
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err := c.RegisterSchema(ctx, trove.RegisteredSchema{ID: "task", Version: "1", Schema: json.RawMessage(`{"type":"object","required":["done"]}`)})
	must(err)
	save := func(e trove.Event) {
		t.Helper()
		_, err := c.CreateEvent(ctx, e)
		must(err)
	}
	big := strings.Repeat("0123456789abcdef", 96<<10) // 1.5 MiB
	save(trove.Event{ID: trove.EventID{ID: "b"}, Producer: "web", Schema: noteSchema, Payload: json.RawMessage(`{"n":1}`)})
	save(trove.Event{ID: trove.EventID{ID: "a"}, Schema: docSchema, Payload: json.RawMessage(`{"title":"report"}`),
		Files: []trove.EventFile{{ID: "logo", ContentType: "image/png", Filename: "logo.png", Data: b64("PNG bytes")},
			{ID: "big", Data: b64(big)},
			{ID: "ext", IsReference: true, Data: "s3://bucket/key"}},
		Links: []trove.EventLink{{Type: "parent", TargetEvent: trove.EventID{ID: "b"}}}})
	must(c.SaveLink(ctx, trove.EventID{ID: "a"}, trove.EventLink{Type: "cites", TargetEvent: trove.EventID{ID: "b"}, Metadata: json.RawMessage(`{"page":3}`)}))
	save(trove.Event{ID: trove.EventID{ID: "c"}, Schema: noteSchema, Payload: json.RawMessage(`{"n":2}`),
		Links: []trove.EventLink{{Type: "parent", TargetEvent: trove.EventID{ID: "b", Version: 1}}}})
	must(c.SaveLink(ctx, trove.EventID{ID: "c"}, trove.EventLink{Type: "see", TargetEvent: trove.EventID{ID: "ghost"}}))
	save(trove.Event{ID: trove.EventID{ID: "b", Version: 2}, Producer: "web", Schema: noteSchema, Payload: json.RawMessage(`{"n":3}`)})
	must(c.SaveLink(ctx, trove.EventID{ID: "b", Version: 1}, trove.EventLink{Type: "prev", TargetEvent: trove.EventID{ID: "a"}}))
	must(c.SaveLink(ctx, trove.EventID{ID: "a"}, trove.EventLink{Type: "cites", TargetEvent: trove.EventID{ID: "b", Version: 2}}))
	save(trove.Event{ID: trove.EventID{ID: "d"}, Schema: noteSchema, Payload: json.RawMessage(`{"n":4}`),
		Files: []trove.EventFile{{ID: "logo", ContentType: "image/png", Filename: "logo.png", Data: b64("PNG bytes")}},
		Links: []trove.EventLink{{Type: "parent", TargetEvent: trove.EventID{ID: "b"}}}})
	save(trove.Event{ID: trove.EventID{ID: "t1"}, Schema: trove.SchemaRef("task", "1"), Payload: json.RawMessage(`{"done":true}`)})
	for i := range 30 {
		save(trove.Event{ID: trove.EventID{ID: fmt.Sprintf("n%02d", i)}, Schema: noteSchema, Payload: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))})
	}
	must(c.SaveLink(ctx, trove.EventID{ID: "n05"}, trove.EventLink{Type: "parent", TargetEvent: trove.EventID{ID: "b"}}))
}

// snapshot renders everything a client can read: every event version,
// every link listing of every id (and of the dangling target), linked
// events, the files events name with their bytes, the registry.
func snapshot(t *testing.T, c *trove.Core) string {
	t.Helper()
	ctx := context.Background()
	var out strings.Builder
	all, err := c.QueryEvents(ctx, trove.EventQuery{AllVersions: true})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{"ghost": true}
	files := map[string]bool{}
	for _, e := range all {
		b, _ := json.Marshal(e)
		fmt.Fprintf(&out, "event %s\n", b)
		ids[e.ID.ID] = true
		for _, f := range e.Files {
			if !f.IsReference {
				files[f.ID] = true
			}
		}
	}
	for id := range sortedKeys(ids) {
		for _, dir := range []trove.Direction{trove.Outgoing, trove.Incoming} {
			ls, err := c.GetLinks(ctx, trove.EventID{ID: id}, trove.LinkOptions{Direction: dir})
			if errors.Is(err, trove.ErrNotFound) {
				fmt.Fprintf(&out, "links %s %s: not found\n", id, dir)
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(ls)
			fmt.Fprintf(&out, "links %s %s %s\n", id, dir, b)
			evs, err := c.GetLinkedEvents(ctx, trove.EventID{ID: id}, trove.LinkOptions{Direction: dir})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range evs {
				fmt.Fprintf(&out, "linked %s %s %s@%d\n", id, dir, e.ID.ID, e.Position)
			}
		}
	}
	for id := range sortedKeys(files) {
		f, err := c.GetFile(ctx, id)
		if err != nil {
			t.Fatalf("file %s: %v", id, err)
		}
		rc, err := c.GetFileData(ctx, id)
		if err != nil {
			t.Fatalf("file %s data: %v", id, err)
		}
		data, _ := io.ReadAll(rc)
		rc.Close()
		fmt.Fprintf(&out, "file %s %s %s %d %s %d\n", f.ID, f.ContentType, f.Filename, f.Size, f.Hash, len(data))
		if int64(len(data)) != f.Size {
			t.Fatalf("file %s: %d bytes, size %d", id, len(data), f.Size)
		}
	}
	for _, rs := range c.Schemas() {
		fmt.Fprintf(&out, "schema %s %s %s\n", rs.ID, rs.Version, rs.Schema)
	}
	return out.String()
}

func sortedKeys(m map[string]bool) func(func(string) bool) {
	return func(yield func(string) bool) {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if !yield(k) {
				return
			}
		}
	}
}

func export(t *testing.T, c *trove.Core, opts backup.ExportOptions) ([]byte, backup.ExportStats) {
	t.Helper()
	var buf bytes.Buffer
	st, err := backup.Export(context.Background(), c, &buf, opts)
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	return buf.Bytes(), st
}

// An export loaded into an empty store, of the same or another backend,
// answers every read as the original does; loading it again stores
// nothing new.
func TestExportImportRoundTrip(t *testing.T) {
	pairs := [][2]string{
		{"storage-log", "storage-log"},
		{"storage-log", "storage-sqlite"},
		{"storage-sqlite", "storage-json-file"},
		{"storage-json-file", "storage-log"},
		{"storage-memory", "storage-sqlite"},
	}
	for _, p := range pairs {
		t.Run(p[0]+"→"+p[1], func(t *testing.T) {
			src := open(t, p[0])
			fill(t, src)
			want := snapshot(t, src)
			data, est := export(t, src, backup.ExportOptions{})
			if est.Events != 36 || est.Files != 2 || est.Links != 5 || est.Schemas != 1 || est.Last != 36 {
				t.Fatalf("export stats %+v", est)
			}
			dst := open(t, p[1])
			ist, err := backup.Import(context.Background(), dst, bytes.NewReader(data), backup.ImportOptions{Batch: 4})
			if err != nil {
				t.Fatalf("import: %v", err)
			}
			if ist != (backup.ImportStats{Schemas: 1, Events: 36, Files: 2, Links: 5}) {
				t.Fatalf("import stats %+v", ist)
			}
			if got := snapshot(t, dst); got != want {
				t.Fatalf("imported store differs:\n%s", diff(want, got))
			}
			again, err := backup.Import(context.Background(), dst, bytes.NewReader(data), backup.ImportOptions{})
			if err != nil {
				t.Fatalf("second import: %v", err)
			}
			if again != (backup.ImportStats{SchemasPresent: 1, EventsPresent: 36, FilesPresent: 2, LinksPresent: 5}) {
				t.Fatalf("second import stats %+v", again)
			}
			if got := snapshot(t, dst); got != want {
				t.Fatalf("second import changed the store:\n%s", diff(want, got))
			}
			// The copy exports the same stream.
			if data2, _ := export(t, dst, backup.ExportOptions{}); !bytes.Equal(data, data2) {
				t.Fatalf("the copy's export differs:\n%s", diff(string(data), string(data2)))
			}
		})
	}
}

// Export with From writes the events after it and the links added to them;
// loading a full export's prefix then the rest gives the whole store.
func TestExportFrom(t *testing.T) {
	src := open(t, "storage-log")
	fill(t, src)
	_, est := export(t, src, backup.ExportOptions{From: 6})
	if est.Events != 30 || est.Links != 1 || est.Files != 0 {
		t.Fatalf("export after 6: %+v", est)
	}
}

func diff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out strings.Builder
	for i := range max(len(al), len(bl)) {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			fmt.Fprintf(&out, "line %d:\n  want %s\n  got  %s\n", i+1, x, y)
		}
	}
	return out.String()
}

// Bad streams are refused with ErrInvalid at their line; what came before
// the bad line is saved, nothing after it.
func TestImportBadInput(t *testing.T) {
	ev := `{"id":{"id":"x"},"schema":{"$id":"note+v1","type":"object"},"payload":{}}`
	cases := map[string]struct {
		stream string
		line   int
		events int // stored afterwards
	}{
		"newer version":       {`{"troveExport":99}` + "\n" + ev, 1, 0},
		"header not first":    {ev + "\n" + `{"troveExport":2}`, 2, 0},
		"not JSON":            {ev + "\n" + `{"id":`, 2, 0},
		"not an object":       {`[1,2]`, 1, 0},
		"unknown key":         {`{"link":{"source":{"id":"x"},"type":"a","targetEvent":{"id":"y"}},"extra":1}`, 1, 0},
		"file not ended":      {`{"file":{"id":"f","size":1}}` + "\n" + `{"fileData":"eA=="}` + "\n" + ev, 3, 0},
		"file never ended":    {`{"file":{"id":"f","size":1}}` + "\n" + `{"fileData":"eA=="}`, 2, 0},
		"bad base64":          {`{"file":{"id":"f","size":1}}` + "\n" + `{"fileData":"!!"}`, 2, 0},
		"data outside a file": {`{"fileData":"eA=="}`, 1, 0},
		"wrong fileEnd":       {`{"file":{"id":"f","size":1}}` + "\n" + `{"fileData":"eA=="}` + "\n" + `{"fileEnd":"g"}`, 3, 0},
		"file hash mismatch":  {`{"file":{"id":"f","size":1,"hash":"sha256:00"}}` + "\n" + `{"fileData":"eA=="}` + "\n" + `{"fileEnd":"f"}`, 3, 0},
		"bad file id":         {`{"file":{"id":"../x","size":1}}` + "\n" + `{"fileData":"eA=="}` + "\n" + `{"fileEnd":"../x"}`, 2, 0},
		"link to no source":   {ev + "\n" + `{"link":{"source":{"id":"nope"},"type":"a","targetEvent":{"id":"y"}}}`, 2, 1},
		"invalid event":       {ev + "\n" + `{"id":{"id":"y"},"schema":{"$id":"s","type":"object","required":["q"]},"payload":{}}`, 2, 0},
		"null schema line":    {`{"registeredSchema":null}`, 1, 0},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := open(t, "storage-memory")
			_, err := backup.Import(context.Background(), c, strings.NewReader(tc.stream), backup.ImportOptions{})
			var le *backup.LineError
			if !errors.As(err, &le) || le.Line != tc.line {
				t.Fatalf("error %v, want one at line %d", err, tc.line)
			}
			if !errors.Is(err, trove.ErrInvalid) && !errors.Is(err, trove.ErrNotFound) && !errors.Is(err, trove.ErrConflict) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			all, _ := c.QueryEvents(context.Background(), trove.EventQuery{AllVersions: true})
			if len(all) != tc.events {
				t.Fatalf("%d events stored, want %d", len(all), tc.events)
			}
			if _, err := c.GetFile(context.Background(), "f"); !errors.Is(err, trove.ErrNotFound) && name != "file hash mismatch" {
				t.Fatalf("a refused file was stored: %v", err)
			}
		})
	}
}

// A version-1 export (events and registeredSchema lines, no header) loads.
func TestImportVersion1(t *testing.T) {
	c := open(t, "storage-memory")
	stream := `{"registeredSchema":{"id":"task","version":"1","schema":{"type":"object"}}}` + "\n" +
		`{"id":{"id":"x","version":1},"position":9,"schema":{"id":"task","version":"1"},"payload":{}}` + "\n\n"
	st, err := backup.Import(context.Background(), c, strings.NewReader(stream), backup.ImportOptions{})
	if err != nil || st != (backup.ImportStats{Schemas: 1, Events: 1}) {
		t.Fatalf("import: %+v %v", st, err)
	}
	e, err := c.GetEvent(context.Background(), trove.EventID{ID: "x"})
	if err != nil || e.Position != 1 {
		t.Fatalf("event: %+v %v", e, err)
	}
}

// A stream cut short, or missing a line, is told from a whole one.
func TestImportCutExport(t *testing.T) {
	src := open(t, "storage-memory")
	fill(t, src)
	data, _ := export(t, src, backup.ExportOptions{})
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if !strings.HasPrefix(lines[len(lines)-1], `{"end":`) {
		t.Fatalf("last line %s", lines[len(lines)-1])
	}
	eventLine := -1
	for i, l := range lines {
		if strings.HasPrefix(l, `{"id":`) {
			eventLine = i
		}
	}
	for name, stream := range map[string]string{
		"no end line":      strings.Join(lines[:len(lines)-1], "\n"),
		"an event dropped": strings.Join(append(slices.Clone(lines[:eventLine]), lines[eventLine+1:]...), "\n"),
		"after the end":    strings.Join(lines, "\n") + "\n" + lines[eventLine],
	} {
		_, err := backup.Import(context.Background(), open(t, "storage-memory"), strings.NewReader(stream), backup.ImportOptions{})
		if !errors.Is(err, trove.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}
