package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/index"
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

	t.Run("version 1", func(t *testing.T) {
		// A store whose segment indexes an earlier engine wrote, without
		// key filters: it checks clean, keeps them, and answers as the
		// version 2 store does.
		d := copyDir(t, dir)
		for path, data := range segIndexFiles(t, d) {
			write(t, path, segIndexV1(t, []byte(data)))
		}
		rep, err := Check(context.Background(), d)
		if err != nil || rep.SegIndexes != len(files) || len(rep.Repairable) != 0 {
			t.Fatalf("check of version 1 segment indexes: %v, %d verified, repairable %v", err, rep.SegIndexes, rep.Repairable)
		}
		v1, v2 := openStore(t, d, o), openStore(t, copyDir(t, dir), o)
		defer v1.Close()
		defer v2.Close()
		checkEvents(t, v1, 300)
		for q, matches := range map[*trove.EventQuery]int{
			{Payload: map[string]any{"n": 123}}:                             1,
			{Payload: map[string]any{"n": 1000}}:                            0,
			{Payload: map[string]any{"kind": "k3"}, Limit: trove.Limit(20)}: 20,
			{Producer: []string{"producer-1"}, Payload: map[string]any{"text": "event number 7 with some padding text"}}: 1,
		} {
			want, err := v2.QueryEvents(context.Background(), *q)
			if err != nil || len(want) != matches {
				t.Fatalf("query %+v: %d events, %v; want %d", *q, len(want), err, matches)
			}
			got, err := v1.QueryEvents(context.Background(), *q)
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("query %+v on version 1 indexes: %d events, %v; want %d", *q, len(got), err, len(want))
			}
		}
		for path, data := range segIndexFiles(t, d) {
			if ix, err := index.DecodeSegIndex(path, []byte(data)); err != nil || ix.Format() != 1 {
				t.Fatalf("%s: %v, format %d after reopening: a version 1 index is read as it is", path, err, ix.Format())
			}
		}
	})

	damage := map[string]func(data []byte, other []byte) []byte{
		"flipped byte":            func(b, _ []byte) []byte { b[len(b)/2] ^= 0x40; return b },
		"truncated":               func(b, _ []byte) []byte { return b[:len(b)-3] },
		"zeroed":                  func(b, _ []byte) []byte { clear(b); return b },
		"another segment's index": func(_, other []byte) []byte { return other },
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
			st.Close()
			if data, _ := os.ReadFile(victim); string(data) != got[victim] {
				t.Fatal("the damaged segment index was not rebuilt as it was")
			}
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

// segIndexV1 rewrites a version 2 segment index as version 1: the same
// first five sections (key filter dropped) under a version 1 header.
func segIndexV1(t *testing.T, data []byte) []byte {
	t.Helper()
	le := binary.LittleEndian
	if le.Uint32(data[8:]) != 2 || le.Uint32(data[12:]) != 6 {
		t.Fatal("not a version 2 segment index")
	}
	const sections, hdr = 5, 40 + 5*16 + 4
	out := slices.Clone(data[:hdr])
	le.PutUint32(out[8:], 1)
	le.PutUint32(out[12:], sections)
	for i := range sections {
		e := data[40+16*i:]
		off, size := le.Uint32(e), le.Uint32(e[4:])
		for len(out)%8 != 0 {
			out = append(out, 0)
		}
		ne := out[40+16*i:]
		le.PutUint32(ne[0:], uint32(len(out)))
		le.PutUint32(ne[4:], size)
		le.PutUint32(ne[8:], le.Uint32(e[8:]))
		le.PutUint32(ne[12:], 0)
		out = append(out, data[off:off+size]...)
	}
	le.PutUint32(out[hdr-4:], crc32.Checksum(out[:hdr-4], crc32.MakeTable(crc32.Castagnoli)))
	return out
}
