package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/backup"
)

// fileBytes is n deterministic bytes, distinct per i.
func fileBytes(i, n int) []byte {
	b := make([]byte, n)
	for k := range b {
		b[k] = byte(k*13 + i*7 + k/97)
	}
	return b
}

// saveFiles saves n small files (1 KiB, packed) from writers goroutines
// and one large one (loose), each named by an event.
func saveFiles(t *testing.T, st *Store, n, writers int) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	want := map[string][]byte{"big": fileBytes(0, 200<<10)}
	for i := range n {
		want[fmt.Sprintf("f%03d", i)] = fileBytes(i+1, 1<<10)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	ids := make(chan string)
	var failed error
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range ids {
				f, err := st.SaveFile(ctx, trove.EventFile{ID: id, ContentType: "application/octet-stream"}, bytes.NewReader(want[id]))
				if err == nil {
					e := testEvent(0)
					e.ID = trove.EventID{ID: "ev-" + id}
					e.Files = []trove.EventFile{f}
					_, err = st.SaveEvent(ctx, e)
				}
				if err != nil {
					mu.Lock()
					failed = err
					mu.Unlock()
				}
			}
		}()
	}
	for id := range want {
		ids <- id
	}
	close(ids)
	wg.Wait()
	if failed != nil {
		t.Fatal(failed)
	}
	return want
}

func checkFiles(t *testing.T, st *Store, want map[string][]byte, gone ...string) {
	t.Helper()
	ctx := context.Background()
	for id, b := range want {
		rc, err := st.GetFileData(ctx, id)
		if err != nil {
			t.Fatalf("file %s: %v", id, err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if !bytes.Equal(got, b) {
			t.Fatalf("file %s: %d bytes differ from the %d saved", id, len(got), len(b))
		}
	}
	for _, id := range gone {
		if _, err := st.GetFile(ctx, id); !errors.Is(err, trove.ErrNotFound) {
			t.Fatalf("file %s: %v, want ErrNotFound", id, err)
		}
	}
}

// TestFilesPackedAndChecked saves small files from concurrent writers and
// a large one, deletes one, and checks after reopening that every file
// reads back, that the deleted one stays deleted, that Check counts and
// verifies them all, and that damage to the packs of small files is a
// problem Check reports and Open refuses, while Salvage still finds every
// intact file.
func TestFilesPackedAndChecked(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := openStore(t, dir, Options{})
	// One file saved alone first, so that the first record of the first
	// pack, damaged below, is its own and not the deleted file's.
	first := fileBytes(99, 1<<10)
	ff, err := st.SaveFile(ctx, trove.EventFile{ID: "first", ContentType: "application/octet-stream"}, bytes.NewReader(first))
	if err != nil {
		t.Fatal(err)
	}
	fe := testEvent(0)
	fe.ID = trove.EventID{ID: "ev-first"}
	fe.Files = []trove.EventFile{ff}
	if _, err := st.SaveEvent(ctx, fe); err != nil {
		t.Fatal(err)
	}
	want := saveFiles(t, st, 64, 16)
	want["first"] = first
	if err := st.DeleteFile(ctx, "f000"); err != nil {
		t.Fatal(err)
	}
	delete(want, "f000")
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = openStore(t, dir, Options{})
	checkFiles(t, st, want, "f000")
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := Check(ctx, dir)
	if err != nil || rep.Files != len(want) || len(rep.Problems) != 0 {
		t.Fatalf("Check = %+v, %v", rep, err)
	}

	// Damage the first record of the first pack: later groups are intact,
	// so this is no torn write.
	pack := filepath.Join(dir, "files", "packs", "00000001.pack")
	f, err := os.OpenFile(pack, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("damage"), 100); err != nil {
		t.Fatal(err)
	}
	f.Close()
	rep, err = Check(ctx, dir)
	var ce *trove.CorruptionError
	if !errors.As(err, &ce) || ce.File != pack || len(rep.Problems) == 0 || !strings.Contains(rep.Problems[0], pack) {
		t.Fatalf("Check of a damaged pack = %+v, %v", rep, err)
	}
	if _, err := Open(dir, Options{}); !errors.As(err, &ce) {
		t.Fatalf("Open of a damaged pack = %v, want a CorruptionError", err)
	}
	salvaged := map[string][]byte{}
	srep, err := Salvage(ctx, dir, backup.Sink{
		File: func(f trove.EventFile, data io.Reader) error {
			b, err := io.ReadAll(data)
			salvaged[f.ID] = b
			return err
		},
		Event: func(trove.Event) error { return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	// Every file but the damaged record's is found (the deleted one is
	// skipped: its event is there, its bytes are not).
	if _, ok := salvaged["first"]; ok || len(salvaged) != len(want)-1 || srep.Files != len(salvaged) {
		t.Fatalf("salvaged %d files (report %+v), want %d", len(salvaged), srep, len(want)-1)
	}
	for id, b := range salvaged {
		if !bytes.Equal(b, want[id]) {
			t.Fatalf("salvaged file %s differs", id)
		}
	}
}

// TestSmallFileSavesTouchOnlyThePack checks where a small file save goes:
// into the pack log of the store's files (one pack, no file of its own),
// not through the event log (the store's fsyncs and bytes written do not
// move), and that each file reads back with its metadata after a reopen.
func TestSmallFileSavesTouchOnlyThePack(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := openStore(t, dir, Options{})
	before := st.Stats()
	want := map[string][]byte{}
	for i := range 200 {
		id := fmt.Sprintf("s%03d", i)
		want[id] = fileBytes(i, 1<<10+i)
		f, err := st.SaveFile(ctx, trove.EventFile{ID: id, ContentType: "text/plain", Filename: id + ".txt"}, bytes.NewReader(want[id]))
		if err != nil {
			t.Fatal(err)
		}
		if f.Size != int64(len(want[id])) || !strings.HasPrefix(f.Hash, "sha256:") {
			t.Fatalf("SaveFile %s = %+v", id, f)
		}
	}
	after := st.Stats()
	for _, k := range []string{"fsyncs", "bytes_written", "events"} {
		if after[k] != before[k] {
			t.Fatalf("file saves moved the event log's %s: %v, then %v", k, before[k], after[k])
		}
	}
	var got []string
	err := filepath.WalkDir(filepath.Join(dir, "files"), func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, path)
			got = append(got, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, " ") != "files/LOCK files/packs/00000001.pack files/trove-blob.json" {
		t.Fatalf("files of the store after 200 small saves: %v", got)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = openStore(t, dir, Options{})
	defer st.Close()
	checkFiles(t, st, want)
	f, err := st.GetFile(ctx, "s007")
	if err != nil || f.ContentType != "text/plain" || f.Filename != "s007.txt" || f.Size != 1<<10+7 {
		t.Fatalf("GetFile s007 = %+v, %v", f, err)
	}
}

// The file store opens beside the log's recovery. When either fails, Open
// fails and leaves nothing open: once the damage is mended, the store
// opens (within a deadline: a lock left held would wait forever) and
// answers every file and event.
func TestFailedOpenReleasesBoth(t *testing.T) {
	dir := t.TempDir()
	o := Options{SegmentSize: 8 << 10, BlockSize: 1 << 10, SearchIndex: "off"}
	st := openStore(t, dir, o)
	want := saveFiles(t, st, 8, 4)
	saveBatches(t, st, 100, 400, 50)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "segments", "*.seg"))
	if len(segs) == 0 {
		t.Fatal("no sealed segment")
	}
	for _, c := range []struct {
		what string
		path string
		at   int64
	}{
		{"a damaged segment", segs[0], 0},
		{"a damaged pack", filepath.Join(dir, "files", "packs", "00000001.pack"), 100},
	} {
		orig, err := os.ReadFile(c.path)
		if err != nil {
			t.Fatal(err)
		}
		bad := bytes.Clone(orig)
		bad[c.at] ^= 0xff
		if err := os.WriteFile(c.path, bad, 0o640); err != nil {
			t.Fatal(err)
		}
		var ce *trove.CorruptionError
		if _, err := Open(dir, o); !errors.As(err, &ce) || ce.File != c.path {
			t.Fatalf("Open with %s = %v, want a CorruptionError naming %s", c.what, err, c.path)
		}
		if err := os.WriteFile(c.path, orig, 0o640); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		st, err := OpenContext(ctx, dir, o)
		cancel()
		if err != nil {
			t.Fatalf("Open after %s was mended: %v", c.what, err)
		}
		checkFiles(t, st, want)
		for i := 100; i < 500; i += 37 {
			if _, err := st.GetEvent(context.Background(), testEvent(i).ID); err != nil {
				t.Fatalf("after %s: event %d: %v", c.what, i, err)
			}
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
