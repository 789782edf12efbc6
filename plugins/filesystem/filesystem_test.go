package filesystem_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"testing"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/blob/blobtest"
	"github.com/trovedb/trove/plugins/filesystem"
	_ "github.com/trovedb/trove/plugins/memory"
	"github.com/trovedb/trove/storagetest"
)

func open(t testing.TB, dir string) trove.Plugin {
	t.Helper()
	opts, _ := json.Marshal(map[string]string{"directory": dir})
	p, err := trove.NewPlugin(filesystem.Name, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestStorageKit(t *testing.T) {
	storagetest.Run(t, storagetest.Backend{Open: open, Persistent: true})
}

func TestFiles(t *testing.T) {
	blobtest.RunFiles(t, func(t testing.TB) (trove.FileStorage, func() error) {
		p := open(t, t.TempDir())
		if err := p.Initialize(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Shutdown(context.Background()) })
		return p.(trove.FileStorage), func() error { return p.Shutdown(context.Background()) }
	})
}

func TestOptions(t *testing.T) {
	for name, opts := range map[string]string{
		"no directory":  `{}`,
		"no options":    ``,
		"unknown field": `{"directory": "x", "dir": "y"}`,
		"not an object": `[1]`,
	} {
		_, err := trove.NewPlugin(filesystem.Name, json.RawMessage(opts))
		if !errors.Is(err, trove.ErrInvalid) {
			t.Errorf("%s: error = %v, want ErrInvalid", name, err)
		}
	}
}

func TestReopenKeepsFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	p := open(t, dir)
	if _, err := p.(trove.FileStorage).SaveFile(ctx, trove.EventFile{ID: "f"}, bytes.NewReader([]byte("x"))); !errors.Is(err, trove.ErrClosed) {
		t.Fatalf("SaveFile before Initialize: %v, want ErrClosed", err)
	}
	if err := p.Initialize(ctx, nil); err != nil {
		t.Fatal(err)
	}
	data := blobtest.Data(1, 100000)
	saved, err := p.(trove.FileStorage).SaveFile(ctx, trove.EventFile{ID: "f", Filename: "f.bin", ContentType: "application/x-test"}, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	q := open(t, dir)
	if err := q.Initialize(ctx, nil); err != nil {
		t.Fatal(err)
	}
	defer q.Shutdown(ctx)
	got, err := q.(trove.FileStorage).GetFile(ctx, "f")
	if err != nil || got != saved {
		t.Fatalf("GetFile after reopen = %+v, %v; want %+v", got, err, saved)
	}
	rc, err := q.(trove.FileStorage).GetFileData(ctx, "f")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	if !bytes.Equal(b, data) {
		t.Fatal("bytes changed across reopen")
	}
}

// TestCore uses the plugin for the files role of a core, as a config
// file would, next to an in-memory event storage.
func TestCore(t *testing.T) {
	ctx := context.Background()
	dir, _ := json.Marshal(t.TempDir())
	cfg, err := trove.ParseConfig([]byte(`{"storage": {"events": {"plugin": "storage-memory"}, "files": {"plugin": "storage-file-system", "options": {"directory": ` + string(dir) + `}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	c, err := trove.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Shutdown(ctx)
	var e trove.Event
	if err := json.Unmarshal([]byte(`{"schema": {"$id": "doc+v1", "type": "object"}, "payload": {"title": "t"}}`), &e); err != nil {
		t.Fatal(err)
	}
	data := blobtest.Data(2, 70000)
	saved, err := c.CreateEvent(ctx, e, trove.Upload{File: trove.EventFile{ID: "report", Filename: "r.pdf", ContentType: "application/pdf"}, Data: bytes.NewReader(data)})
	if err != nil {
		t.Fatal(err)
	}
	if len(saved.Files) != 1 || saved.Files[0].Hash != "sha256:"+blobtest.Digest(data) || saved.Files[0].Size != int64(len(data)) {
		t.Fatalf("event files = %+v", saved.Files)
	}
	rc, err := c.GetFileData(ctx, "report")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if b, _ := io.ReadAll(rc); !bytes.Equal(b, data) {
		t.Fatal("bytes differ")
	}
}
