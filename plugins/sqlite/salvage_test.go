package sqlite_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/backup"
	"github.com/trovedb/trove/plugins/sqlite"
)

// A database with a damaged page: Salvage reads every other event in
// order, the files and links, and names what it skipped.
func TestSalvage(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "t.db")
	s, err := sqlite.New(sqlite.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Initialize(ctx, nil); err != nil {
		t.Fatal(err)
	}
	sc := trove.MustSchema(`{"$id":"n+v1","type":"object"}`)
	const n = 3000
	var batch []trove.Event
	for i := range n {
		batch = append(batch, trove.Event{ID: trove.EventID{ID: fmt.Sprintf("e%04d", i)}, Schema: sc,
			Payload: json.RawMessage(fmt.Sprintf(`{"marker":"marker-%04d","pad":%q}`, i, strings.Repeat("x", 100)))})
		if len(batch) == 500 {
			if _, err := s.SaveEvents(ctx, batch); err != nil {
				t.Fatal(err)
			}
			batch = nil
		}
	}
	if err := s.SaveLink(ctx, trove.EventID{ID: "e0001"}, trove.EventLink{Type: "later", TargetEvent: trove.EventID{ID: "e0002"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SaveFile(ctx, trove.EventFile{ID: "doc"}, strings.NewReader("file bytes")); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveSchema(ctx, trove.RegisteredSchema{ID: "task", Version: "1", Schema: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	// Damage the table page that holds event 1500.
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(raw, []byte("marker-1500"))
	if at < 0 {
		t.Fatal("event 1500 is not in the database file")
	}
	const pageSize = 4096
	page := at / pageSize * pageSize
	copy(raw[page:page+16], bytes.Repeat([]byte{0xee}, 16))
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}

	var got []string
	var files, links, schemas []string
	rep, err := sqlite.Salvage(ctx, path, backup.Sink{
		Event: func(e trove.Event) error {
			var p struct{ Marker string }
			if err := json.Unmarshal(e.Payload, &p); err != nil || p.Marker != "marker-"+e.ID.ID[1:] || e.Position != uint64(mustAtoi(e.ID.ID[1:])+1) {
				t.Fatalf("salvaged a damaged event: %+v", e)
			}
			got = append(got, e.ID.ID)
			return nil
		},
		File: func(f trove.EventFile, data io.Reader) error {
			b, _ := io.ReadAll(data)
			files = append(files, f.ID+"="+string(b))
			return nil
		},
		Link: func(src trove.EventID, l trove.EventLink) error {
			links = append(links, src.String()+">"+l.Type)
			return nil
		},
		Schema: func(rs trove.RegisteredSchema) error { schemas = append(schemas, rs.ID); return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) >= n || len(got) < n-200 || len(rep.Skipped) == 0 {
		t.Fatalf("salvaged %d of %d events, skipped %q", len(got), n, rep.Skipped)
	}
	t.Logf("salvaged %d of %d events; skipped %q", len(got), n, rep.Skipped)
	for _, id := range got {
		if id == "e1500" {
			t.Fatal("the event on the damaged page was salvaged")
		}
	}
	if got[len(got)-1] != fmt.Sprintf("e%04d", n-1) || got[0] != "e0000" {
		t.Fatalf("salvaged from %s to %s", got[0], got[len(got)-1])
	}
	if strings.Join(files, ",") != "doc=file bytes" || strings.Join(links, ",") != "e0001@1>later" || strings.Join(schemas, ",") != "task" {
		t.Fatalf("files %q, links %q, schemas %q", files, links, schemas)
	}
}

func mustAtoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
