package engine

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/trovedb/trove"
)

var testSchema = trove.MustSchema(`{"$id":"test.event+v1","type":"object"}`)

// testEvent returns event i: a small payload with a few indexed paths.
func testEvent(i int) trove.Event {
	return trove.Event{
		ID:        trove.EventID{ID: fmt.Sprintf("ev-%06d", i)},
		CreatedAt: time.UnixMilli(1_700_000_000_000 + int64(i)*1000).UTC(),
		Producer:  fmt.Sprintf("producer-%d", i%3),
		Schema:    testSchema,
		Payload:   []byte(fmt.Sprintf(`{"n":%d,"kind":"k%d","text":"event number %d with some padding text"}`, i, i%7, i)),
	}
}

func openStore(t testing.TB, dir string, o Options) *Store {
	t.Helper()
	st, err := Open(dir, o)
	if err != nil {
		t.Fatalf("open %s: %v", dir, err)
	}
	return st
}

// saveBatches saves events first…first+n-1 in batches of size per.
func saveBatches(t testing.TB, st *Store, first, n, per int) {
	t.Helper()
	for i := first; i < first+n; i += per {
		var evs []trove.Event
		for j := i; j < min(i+per, first+n); j++ {
			evs = append(evs, testEvent(j))
		}
		if _, err := st.SaveEvents(context.Background(), evs); err != nil {
			t.Fatalf("save batch at %d: %v", i, err)
		}
	}
}

// copyDir copies a store directory as it is on disk now: what a crash at
// this instant would leave (every acknowledged write is synced).
func copyDir(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.Walk(src, func(path string, info os.FileInfo, err error) error {
		if os.IsNotExist(err) {
			return nil // removed or renamed meanwhile (background work)
		}
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		to := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(to, 0o750)
		}
		in, err := os.Open(path)
		if os.IsNotExist(err) {
			return nil
		}
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(to)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		t.Fatalf("copy %s: %v", src, err)
	}
	return dst
}

// lastWALFile returns the newest tidwall file of a store and the offset of
// its last entry.
func lastWALFile(t testing.TB, dir string) (string, int64) {
	t.Helper()
	names, _ := filepath.Glob(filepath.Join(dir, "wal", "[0-9]*"))
	if len(names) == 0 {
		t.Fatal("no WAL file")
	}
	name := names[len(names)-1]
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	off, last := 0, 0
	for off < len(data) {
		n, size := binary.Uvarint(data[off:])
		if size <= 0 {
			break
		}
		last = off
		off += size + int(n)
	}
	return name, int64(last)
}

// checkEvents asserts the store holds exactly events 0…n-1 at positions
// 1…n, intact.
func checkEvents(t testing.TB, st *Store, n int) {
	t.Helper()
	ctx := context.Background()
	var got int
	err := st.Replay(ctx, 0, func(e trove.Event) error {
		want := testEvent(got)
		if e.Position != uint64(got+1) || e.ID.ID != want.ID.ID || string(e.Payload) != string(want.Payload) ||
			!e.CreatedAt.Equal(want.CreatedAt) || e.Producer != want.Producer {
			return fmt.Errorf("position %d: got %s %s, want %s", got+1, e.ID, e.Payload, want.ID.ID)
		}
		got++
		return nil
	})
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	if got != n {
		t.Fatalf("store holds %d events, want %d", got, n)
	}
	for _, i := range []int{0, n / 2, n - 1} {
		if n == 0 {
			break
		}
		e, err := st.GetEvent(ctx, trove.EventID{ID: testEvent(i).ID.ID})
		if err != nil || e.Position != uint64(i+1) {
			t.Fatalf("get event %d: %v (position %d)", i, err, e.Position)
		}
	}
	res, err := st.QueryEvents(ctx, trove.EventQuery{Payload: map[string]any{"kind": "k3"}})
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for i := range n {
		if i%7 == 3 {
			want++
		}
	}
	if len(res) != want {
		t.Fatalf("payload query: %d events, want %d", len(res), want)
	}
	if _, err := st.Check(ctx); err != nil {
		t.Fatalf("check: %v", err)
	}
}
