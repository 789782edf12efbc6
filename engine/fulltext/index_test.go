package fulltext

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/trovedb/trove"
)

// memSource is a Source over payloads held in memory: position i+1 is
// payloads[i].
type memSource struct {
	mu       sync.Mutex
	payloads [][]byte
	sealed   uint64
	busy     bool
	err      error // Payloads fails with it when not nil
	calls    int   // Payloads calls
}

func (m *memSource) Positions() (sealed, last uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sealed, uint64(len(m.payloads))
}

func (m *memSource) Payloads(from, to uint64, fn func(pos uint64, payload []byte) error) error {
	m.mu.Lock()
	m.calls++
	err, ps := m.err, m.payloads
	m.mu.Unlock()
	if err != nil {
		return err
	}
	for pos := from; pos <= to; pos++ {
		if err := fn(pos, ps[pos-1]); err != nil {
			return err
		}
	}
	return nil
}

func (m *memSource) Busy() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.busy
}

// add appends n payloads, "word<i mod 7>" at "w" and i at "n".
func (m *memSource) add(n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for range n {
		i := len(m.payloads) + 1
		m.payloads = append(m.payloads, fmt.Appendf(nil, `{"w":"word%d","n":%d}`, i%7, i))
	}
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func openIndex(t *testing.T, path string, logLast uint64, src Source) *Index {
	t.Helper()
	x, err := Open(path, logLast, src, quiet)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func stepAll(t *testing.T, x *Index, unsealed bool) {
	t.Helper()
	for {
		more, err := x.Step(unsealed)
		if err != nil {
			t.Fatal(err)
		}
		if !more {
			return
		}
	}
}

// every returns the positions lo…hi whose word (memSource.add) is w.
func every(lo, hi uint32, w uint32) []uint32 {
	var ps []uint32
	for p := lo; p <= hi; p++ {
		if p%7 == w {
			ps = append(ps, p)
		}
	}
	return ps
}

// candidates returns the candidates of a search, failing when the index does
// not answer.
func candidates(t *testing.T, x *Index, s string) ([]uint32, uint32) {
	t.Helper()
	sq, err := trove.ParseSearch(s)
	if err != nil {
		t.Fatal(err)
	}
	bm, upTo, ok := x.Search(context.Background(), sq)
	if !ok {
		t.Fatalf("%s: the index did not answer", s)
	}
	return bm.ToArray(), upTo
}

// TestIndexSteps: Step indexes sealed positions, or every committed one,
// in batches of searchBatch, and searches answer over what is indexed.
func TestIndexSteps(t *testing.T) {
	src := &memSource{}
	src.add(2500)
	src.sealed = 1500
	x := openIndex(t, filepath.Join(t.TempDir(), "search.bleve"), 2500, src)
	defer x.Close()
	sq, _ := trove.ParseSearch("w:word3")
	if _, _, ok := x.Search(context.Background(), sq); ok {
		t.Fatal("an empty index answered")
	}
	for _, want := range []uint32{1000, 1500} {
		more, err := x.Step(false)
		if err != nil || !more || x.UpTo() != want {
			t.Fatalf("step: more %v, err %v, up to %d; want up to %d", more, err, x.UpTo(), want)
		}
	}
	if more, err := x.Step(false); more || err != nil || x.UpTo() != 1500 {
		t.Fatalf("step past the sealed positions: more %v, err %v, up to %d", more, err, x.UpTo())
	}
	got, upTo := candidates(t, x, "w:word3")
	if want := every(1, 1500, 3); upTo != 1500 || !slices.Equal(got, want) {
		t.Fatalf("w:word3 over 1…%d: %v, want %v", upTo, got, want)
	}
	stepAll(t, x, true)
	if x.UpTo() != 2500 {
		t.Fatalf("up to %d after indexing every committed position", x.UpTo())
	}
	got, _ = candidates(t, x, "n:>=2490")
	if want := []uint32{2490, 2491, 2492, 2493, 2494, 2495, 2496, 2497, 2498, 2499, 2500}; !slices.Equal(got, want) {
		t.Fatalf("n:>=2490: %v", got)
	}
	bm, _, ok := x.SearchRange(context.Background(), mustParse(t, "w:word3"), 100, 130)
	if !ok || !slices.Equal(bm.ToArray(), []uint32{101, 108, 115, 122, 129}) {
		t.Fatalf("w:word3 in 100…129: %v (ok %v)", bm, ok)
	}
	bm, _, ok = x.SearchTerms(context.Background(), []trove.PayloadTerm{{Keys: []string{"w"}, Value: "word3"}, {Keys: []string{"n"}, Value: json.Number("10")}})
	if !ok || !slices.Equal(bm.ToArray(), []uint32{10}) {
		t.Fatalf("w=word3 and n=10: %v (ok %v)", bm, ok)
	}
}

func mustParse(t *testing.T, s string) *trove.SearchQuery {
	t.Helper()
	sq, err := trove.ParseSearch(s)
	if err != nil {
		t.Fatal(err)
	}
	return sq
}

// TestIndexReopen: the index keeps what it covers across a reopen, and is
// rebuilt empty when it is ahead of the log, built with another mapping
// version, or damaged.
func TestIndexReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "search.bleve")
	src := &memSource{}
	src.add(1200)
	build := func() {
		t.Helper()
		if err := os.RemoveAll(path); err != nil {
			t.Fatal(err)
		}
		x := openIndex(t, path, 1200, src)
		stepAll(t, x, true)
		x.Close()
	}
	build()
	x := openIndex(t, path, 1200, src)
	if x.UpTo() != 1200 {
		t.Fatalf("reopened: up to %d, want 1200", x.UpTo())
	}
	if got, _ := candidates(t, x, "w:word0"); !slices.Equal(got, every(1, 1200, 0)) {
		t.Fatalf("reopened: %d candidates for w:word0", len(got))
	}
	x.Close()
	cases := []struct {
		name  string
		spoil func(t *testing.T)
		last  uint64
		upTo  uint32
	}{
		{"log longer", func(*testing.T) {}, 5000, 1200},
		{"index ahead of the log", func(*testing.T) {}, 1199, 0},
		{"other mapping", func(t *testing.T) {
			x := openIndex(t, path, 1200, src)
			if err := x.idx.SetInternal([]byte(searchMappingKey), []byte("5")); err != nil {
				t.Fatal(err)
			}
			x.Close()
		}, 1200, 0},
		{"no mapping version", func(t *testing.T) {
			x := openIndex(t, path, 1200, src)
			if err := x.idx.DeleteInternal([]byte(searchMappingKey)); err != nil {
				t.Fatal(err)
			}
			x.Close()
		}, 1200, 0},
		{"damaged", func(t *testing.T) {
			if err := os.WriteFile(filepath.Join(path, "index_meta.json"), []byte("{garbage"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, 1200, 0},
		{"missing", func(t *testing.T) {
			if err := os.RemoveAll(path); err != nil {
				t.Fatal(err)
			}
		}, 1200, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			build()
			c.spoil(t)
			x := openIndex(t, path, c.last, src)
			defer x.Close()
			if x.UpTo() != c.upTo {
				t.Fatalf("up to %d, want %d", x.UpTo(), c.upTo)
			}
			if ver, err := x.idx.GetInternal([]byte(searchMappingKey)); err != nil || string(ver) != searchMappingVersion {
				t.Fatalf("mapping version %q (%v)", ver, err)
			}
			// A rebuilt index is indexed again from the start.
			stepAll(t, x, true)
			if got, _ := candidates(t, x, "w:word0"); !slices.Equal(got, every(1, 1200, 0)) {
				t.Fatalf("%d candidates for w:word0", len(got))
			}
		})
	}
}

// TestIndexUnavailable: an index that cannot be opened says why, and the
// Index neither indexes nor answers.
func TestIndexUnavailable(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	src := &memSource{}
	src.add(10)
	x, err := Open(filepath.Join(file, "search.bleve"), 10, src, quiet)
	if err == nil {
		t.Fatal("no error opening an index under a file")
	}
	x.Start()
	if more, err := x.Step(true); more || err != nil || x.UpTo() != 0 {
		t.Fatalf("step: more %v, err %v, up to %d", more, err, x.UpTo())
	}
	if _, _, ok := x.Search(context.Background(), mustParse(t, "w:word1")); ok {
		t.Error("Search answered")
	}
	if _, _, ok := x.SearchRange(context.Background(), mustParse(t, "w:word1"), 1, 10); ok {
		t.Error("SearchRange answered")
	}
	if _, _, ok := x.SearchTerms(context.Background(), []trove.PayloadTerm{{Keys: []string{"w"}, Value: "word1"}}); ok {
		t.Error("SearchTerms answered")
	}
	if x.StatsMap() != nil {
		t.Error("figures of no index")
	}
	x.Close()
	if src.calls != 0 {
		t.Errorf("%d reads of the source", src.calls)
	}
}

// TestIndexBadBatch: a batch holding a malformed payload, or whose payloads
// the source cannot read, fails whole: nothing of it is indexed and the
// index still covers what it did.
func TestIndexBadBatch(t *testing.T) {
	src := &memSource{}
	src.add(1500)
	x := openIndex(t, filepath.Join(t.TempDir(), "search.bleve"), 1500, src)
	defer x.Close()
	if _, err := x.Step(true); err != nil {
		t.Fatal(err)
	}
	src.payloads[1200-1] = []byte(`{"w":"word4","n":`)
	if _, err := x.Step(true); !errors.Is(err, errSearchJSON) || x.UpTo() != 1000 {
		t.Fatalf("malformed payload: %v, up to %d", err, x.UpTo())
	}
	if got, upTo := candidates(t, x, "n:>=1001"); len(got) != 0 || upTo != 1000 {
		t.Fatalf("n:>=1001 over 1…%d: %v", upTo, got)
	}
	errRead := errors.New("read failed")
	src.err = errRead
	if _, err := x.Step(true); !errors.Is(err, errRead) || x.UpTo() != 1000 {
		t.Fatalf("unreadable payloads: %v, up to %d", err, x.UpTo())
	}
	src.err = nil
	src.payloads[1200-1] = []byte(`{"w":"word4","n":1200}`)
	stepAll(t, x, true)
	if got, _ := candidates(t, x, "n:>=1001"); len(got) != 500 {
		t.Fatalf("n:>=1001: %d candidates, want 500", len(got))
	}
}

// waitUpTo waits until x covers want (failing after a minute).
func waitUpTo(t *testing.T, x *Index, want uint32) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for x.UpTo() < want {
		if time.Now().After(deadline) {
			t.Fatalf("index at %d a minute on, want %d", x.UpTo(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestIndexBackground: the background indexer indexes sealed positions
// when woken, the unsealed committed ones once the log is quiet, and still
// progresses while the source is busy.
func TestIndexBackground(t *testing.T) {
	src := &memSource{}
	src.add(2500)
	src.sealed = 1500
	x := openIndex(t, filepath.Join(t.TempDir(), "search.bleve"), 2500, src)
	x.Start()
	waitUpTo(t, x, 2500)
	x.Close()

	// Busy: the first batch is taken at once, the rest paced; once the
	// source is idle again, the indexer catches up.
	src = &memSource{busy: true}
	src.add(3000)
	src.sealed = 3000
	x = openIndex(t, filepath.Join(t.TempDir(), "search.bleve"), 3000, src)
	defer x.Close()
	x.Start()
	waitUpTo(t, x, 1000)
	src.mu.Lock()
	src.busy = false
	src.mu.Unlock()
	x.Notify()
	waitUpTo(t, x, 3000)
	if got, _ := candidates(t, x, "w:word5"); !slices.Equal(got, every(1, 3000, 5)) {
		t.Fatalf("w:word5: %d candidates", len(got))
	}
}

// TestIndexPause: a paused index takes no step (neither its own nor
// Step's) and indexes on after Resume.
func TestIndexPause(t *testing.T) {
	src := &memSource{}
	src.add(1500)
	x := openIndex(t, filepath.Join(t.TempDir(), "search.bleve"), 1500, src)
	defer x.Close()
	x.Pause()
	done := make(chan error)
	go func() {
		_, err := x.Step(true)
		done <- err
	}()
	x.Start()
	x.Notify()
	src.mu.Lock()
	calls := src.calls
	src.mu.Unlock()
	if calls != 0 || x.UpTo() != 0 {
		t.Fatalf("paused: %d reads, up to %d", calls, x.UpTo())
	}
	x.Resume()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	waitUpTo(t, x, 1000)
}
