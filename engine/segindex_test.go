package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/index"
	"github.com/trovedb/trove/segment"
)

// segIndexFiles returns the segment index of every event segment of the
// store in dir, by path, with its bytes ("" when missing).
func segIndexFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	segs, _ := filepath.Glob(filepath.Join(dir, "segments", "*.seg"))
	files := map[string]string{}
	for _, seg := range segs {
		data, err := os.ReadFile(segIndexPath(seg))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		files[segIndexPath(seg)] = string(data)
	}
	return files
}

func TestSealWritesSegIndexes(t *testing.T) {
	dir := t.TempDir()
	o := Options{SegmentSize: 8 << 10, BlockSize: 1 << 10}
	st := openStore(t, dir, o)
	saveBatches(t, st, 0, 300, 7)
	if _, err := st.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	st.Close() // after a seal still running, if any
	rep, err := Check(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	files := segIndexFiles(t, dir)
	if len(files) < 2 { // seals run beside the writer: how many depends on timing
		t.Fatalf("%d segments, want several", len(files))
	}
	for path, data := range files {
		if data == "" {
			t.Fatalf("%s missing after a seal", path)
		}
	}
	if rep.SegIndexes != len(files) || len(rep.Repairable) != 0 {
		t.Fatalf("check: %d segment indexes verified, repairable %v; want %d, none", rep.SegIndexes, rep.Repairable, len(files))
	}

	t.Run("missing", func(t *testing.T) {
		d := copyDir(t, dir)
		for path := range segIndexFiles(t, d) {
			os.Remove(path)
		}
		rep, err := Check(context.Background(), d)
		if err != nil || rep.SegIndexes != 0 {
			t.Fatalf("check without segment indexes: %v, %d verified", err, rep.SegIndexes)
		}
		st := openStore(t, d, o)
		checkEvents(t, st, 300)
		st.Close()
		if got := segIndexFiles(t, d); len(got) != len(files) {
			t.Fatal("segment indexes not rebuilt")
		} else {
			for path, data := range got {
				if data != files[filepath.Join(dir, "segments", filepath.Base(path))] {
					t.Fatalf("rebuilt %s differs from the one the seal wrote", path)
				}
			}
		}
	})

	for _, version := range []uint32{1, 2} {
		t.Run(fmt.Sprintf("version %d", version), func(t *testing.T) {
			// A store whose segment indexes an earlier engine wrote
			// (version 1 without key filters, version 2 with full-width
			// columns and 16-byte keys): it checks clean, keeps them,
			// and answers as the current store does.
			d := copyDir(t, dir)
			for path, data := range oldSegIndexes(t, d, o, version) {
				write(t, path, data)
			}
			rep, err := Check(context.Background(), d)
			if err != nil || rep.SegIndexes != len(files) || len(rep.Repairable) != 0 {
				t.Fatalf("check of version %d segment indexes: %v, %d verified, repairable %v", version, err, rep.SegIndexes, rep.Repairable)
			}
			old, cur := openStore(t, d, o), openStore(t, copyDir(t, dir), o)
			defer old.Close()
			defer cur.Close()
			checkEvents(t, old, 300)
			for q, matches := range map[*trove.EventQuery]int{
				{Payload: map[string]any{"n": 123}}:                             1,
				{Payload: map[string]any{"n": 1000}}:                            0,
				{Payload: map[string]any{"kind": "k3"}, Limit: trove.Limit(20)}: 20,
				{Producer: []string{"producer-1"}, Payload: map[string]any{"text": "event number 7 with some padding text"}}: 1,
			} {
				want, err := cur.QueryEvents(context.Background(), *q)
				if err != nil || len(want) != matches {
					t.Fatalf("query %+v: %d events, %v; want %d", *q, len(want), err, matches)
				}
				got, err := old.QueryEvents(context.Background(), *q)
				if err != nil || !reflect.DeepEqual(got, want) {
					t.Fatalf("query %+v on version %d indexes: %d events, %v; want %d", *q, version, len(got), err, len(want))
				}
			}
			for path, data := range segIndexFiles(t, d) {
				if ix, err := index.DecodeSegIndex(path, []byte(data)); err != nil || ix.Format() != version {
					t.Fatalf("%s: %v, format %d after reopening: a version %d index is read as it is", path, err, ix.Format(), version)
				}
			}
		})
	}

	damage := map[string]func(data []byte, other []byte) []byte{
		"flipped byte":            func(b, _ []byte) []byte { b[len(b)/2] ^= 0x40; return b },
		"truncated":               func(b, _ []byte) []byte { return b[:len(b)-3] },
		"zeroed":                  func(b, _ []byte) []byte { clear(b); return b },
		"another segment's index": func(_, other []byte) []byte { return other },
		// Sections opening leaves to the first lookup (SEGINDEX.md).
		"key table":  func(b, _ []byte) []byte { b[binary.LittleEndian.Uint32(b[40+16*3:])+1] ^= 0x40; return b },
		"key filter": func(b, _ []byte) []byte { b[binary.LittleEndian.Uint32(b[40+16*5:])+1] ^= 0x40; return b },
	}
	for name, mutate := range damage {
		t.Run(name, func(t *testing.T) {
			d := copyDir(t, dir)
			got := segIndexFiles(t, d)
			var victim, other string
			for path := range got {
				if victim == "" {
					victim = path
				} else if other == "" {
					other = path
				}
			}
			write(t, victim, mutate([]byte(got[victim]), []byte(got[other])))
			rep, err := Check(context.Background(), d)
			if !errors.Is(err, trove.ErrCorrupt) || len(rep.Problems) != 0 || len(rep.Repairable) != 1 {
				t.Fatalf("check of a damaged segment index: %v, problems %v, repairable %v", err, rep.Problems, rep.Repairable)
			}
			st := openStore(t, d, o)
			checkEvents(t, st, 300)
			// Damage that opening does not read is found by the check
			// that follows it, which rebuilds the index while the
			// store serves.
			st.checking.Wait()
			if data, _ := os.ReadFile(victim); string(data) != got[victim] {
				t.Fatal("the damaged segment index was not rebuilt as it was")
			}
			checkEvents(t, st, 300)
			for q, want := range map[*trove.EventQuery]int{
				{Payload: map[string]any{"n": 123}}:                             1,
				{Payload: map[string]any{"kind": "k3"}, Limit: trove.Limit(20)}: 20,
			} {
				if evs, err := st.QueryEvents(context.Background(), *q); err != nil || len(evs) != want {
					t.Fatalf("query %+v after the rebuild: %d events, %v; want %d", *q, len(evs), err, want)
				}
			}
			if len(st.w.segIdxDamage) != 1 {
				t.Fatalf("damage recorded: %v", st.w.segIdxDamage)
			}
			if got := st.Stats(); got["segment_index_repairs"] != 1 || got["segment_indexes_unchecked"] != 0 {
				t.Fatalf("stats after the repair: %v repairs, %v unchecked", got["segment_index_repairs"], got["segment_indexes_unchecked"])
			}
			st.Close()
			if rep, err := Check(context.Background(), d); err != nil || rep.SegIndexes != len(files) {
				t.Fatalf("check after the rebuild: %v, %d verified", err, rep.SegIndexes)
			}
		})
	}
}

// TestSegIndexSealCrash: a crash after a segment's publish and before its
// index's leaves a segment without an index; the next Open builds it.
func TestSegIndexSealCrash(t *testing.T) {
	dir := t.TempDir()
	o := Options{SegmentSize: 8 << 10, BlockSize: 1 << 10}
	st := openStore(t, dir, o)
	var once sync.Once
	var crashed string
	var acked uint64
	var mu sync.Mutex
	st.hook = func(p string) {
		if p == "seal:index-writing" { // on the seal's goroutine: the writer goes on
			once.Do(func() {
				mu.Lock()
				defer mu.Unlock()
				acked = st.Last()
				crashed = copyDir(t, dir)
			})
		}
	}
	saveBatches(t, st, 0, 200, 5)
	st.Close()
	mu.Lock()
	defer mu.Unlock()
	if crashed == "" {
		t.Fatal("no seal happened")
	}
	missing := 0
	for _, data := range segIndexFiles(t, crashed) {
		if data == "" {
			missing++
		}
	}
	if missing != 1 {
		t.Fatalf("%d segments without an index after the crash, want 1", missing)
	}
	st = openStore(t, crashed, o)
	if st.Last() < acked {
		t.Fatalf("%d events survive, %d were acknowledged", st.Last(), acked)
	}
	checkEvents(t, st, int(st.Last()))
	st.Close()
	for path, data := range segIndexFiles(t, crashed) {
		if data == "" {
			t.Fatalf("%s not built on open", path)
		}
	}
	rep, err := Check(context.Background(), crashed)
	if err != nil || rep.SegIndexes != len(segIndexFiles(t, crashed)) {
		t.Fatalf("check: %v, %d verified", err, rep.SegIndexes)
	}
}

// TestGoldenStoreGainsSegIndexes: a store written before segment indexes
// existed gets them on its first open, and they check clean.
func TestGoldenStoreGainsSegIndexes(t *testing.T) {
	dir := copyDir(t, goldenStoreDir)
	for _, data := range segIndexFiles(t, dir) {
		if data != "" {
			t.Fatal("the golden store already has segment indexes")
		}
	}
	st := openStore(t, dir, Options{SearchIndex: "off"})
	st.Close()
	files := segIndexFiles(t, dir)
	for path, data := range files {
		if data == "" {
			t.Fatalf("%s not built on open", path)
		}
	}
	rep, err := Check(context.Background(), dir)
	if err != nil || rep.SegIndexes != len(files) || len(files) == 0 {
		t.Fatalf("check: %v, %d of %d verified", err, rep.SegIndexes, len(files))
	}
}

// oldSegIndexes returns the segment indexes of the store in dir as an
// earlier engine wrote them: the same events encoded in that version.
func oldSegIndexes(t *testing.T, dir string, o Options, version uint32) map[string][]byte {
	t.Helper()
	st := openStore(t, dir, o)
	defer st.Close()
	var cols index.Columns
	st.ix.Read(func(r index.Reader) { cols = r.Columns() })
	out := map[string][]byte{}
	for _, sg := range st.w.evSegs {
		sb := newSegIndexBuilder(sg.meta.FirstPosition, sg.meta.LastPosition, st.w.schemas, cols.Prev)
		if err := sg.seg.Scan(func(r segment.Record) error { return sb.add(&r) }); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := sb.b.EncodeVersion(&buf, version); err != nil {
			t.Fatal(err)
		}
		out[segIndexPath(sg.path)] = buf.Bytes()
	}
	return out
}
