package jsonfile_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/backup"
	"github.com/trovedb/trove/plugins/jsonfile"
)

// A store with a damaged event file no longer opens; Salvage reads every
// other event, the links in their place, the files and the schemas, and
// names what it skipped, without changing the directory.
func TestSalvage(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s := open(t, dir)
	sc := trove.MustSchema(`{"$id":"n+v1","type":"object"}`)
	for i := range 10 {
		if _, err := s.SaveEvent(ctx, trove.Event{ID: trove.EventID{ID: fmt.Sprintf("e%d", i)}, Schema: sc, Payload: json.RawMessage(`{}`)}); err != nil {
			t.Fatal(err)
		}
		if i == 3 {
			if err := s.SaveLink(ctx, trove.EventID{ID: "e1"}, trove.EventLink{Type: "after3", TargetEvent: trove.EventID{ID: "e0"}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.SaveLink(ctx, trove.EventID{ID: "e5"}, trove.EventLink{Type: "lost", TargetEvent: trove.EventID{ID: "e0"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SaveFile(ctx, trove.EventFile{ID: "doc"}, strings.NewReader("bytes")); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveSchema(ctx, trove.RegisteredSchema{ID: "task", Version: "1", Schema: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	bad, _ := filepath.Glob(filepath.Join(dir, "events", "e5", "1.json"))
	if len(bad) != 1 {
		t.Fatalf("no event file for e5: %v", bad)
	}
	if err := os.WriteFile(bad[0], []byte(`{"id":`), 0o600); err != nil {
		t.Fatal(err)
	}
	if s2, err := jsonfile.New(jsonfile.Options{Directory: dir}); err != nil {
		t.Fatal(err)
	} else if err := s2.Initialize(ctx, nil); err == nil {
		s2.Shutdown(ctx)
		t.Fatal("the damaged store opened")
	}
	before := tree(t, dir)

	var got []string
	rep, err := jsonfile.Salvage(ctx, dir, backup.Sink{
		Schema: func(rs trove.RegisteredSchema) error { got = append(got, "schema "+rs.ID); return nil },
		File: func(f trove.EventFile, data io.Reader) error {
			b, _ := io.ReadAll(data)
			got = append(got, "file "+f.ID+" "+string(b))
			return nil
		},
		Event: func(e trove.Event) error {
			got = append(got, fmt.Sprintf("event %s@%d", e.ID.ID, e.Position))
			return nil
		},
		Link: func(src trove.EventID, l trove.EventLink) error {
			got = append(got, "link "+src.ID+">"+l.Type)
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"schema task", "file doc bytes", "event e0@1", "event e1@2", "event e2@3", "event e3@4",
		"link e1>after3", "event e4@5", "event e6@7", "event e7@8", "event e8@9", "event e9@10"}
	if !slices.Equal(got, want) {
		t.Fatalf("salvaged\n%q\nwant\n%q", got, want)
	}
	joined := strings.Join(rep.Skipped, "\n")
	if len(rep.Skipped) != 2 || !strings.Contains(joined, bad[0]) || !strings.Contains(joined, "e5@1, which was not salvaged") {
		t.Fatalf("skipped %q", rep.Skipped)
	}
	if rep.Events != 9 || rep.Links != 1 || rep.Files != 1 || rep.Schemas != 1 {
		t.Fatalf("report %+v", rep)
	}
	if after := tree(t, dir); !bytes.Equal(after, before) {
		t.Fatal("salvage changed the directory")
	}
}

// tree renders every file under dir with its contents.
func tree(t *testing.T, dir string) []byte {
	t.Helper()
	var b bytes.Buffer
	err := filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		fmt.Fprintf(&b, "%s %q\n", path, data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
