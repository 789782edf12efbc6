package engine

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/trovedb/trove/segment"
)

// TestCompactSegments: the store's segments, opened compact as the store
// opens them, read, find and check exactly as with the full block table.
func TestCompactSegments(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir, Options{SegmentSize: 16 << 10, SearchIndex: "off"})
	saveBatches(t, st, 0, 600, 40)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	names, _ := filepath.Glob(filepath.Join(dir, "segments", "*.seg"))
	if len(names) < 2 {
		t.Fatalf("%d segments", len(names))
	}
	for _, name := range names {
		full, err := segment.OpenSegment(name)
		if err != nil {
			t.Fatal(err)
		}
		lean, err := segment.OpenSegmentCompact(name)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(full.Blocks(), lean.Blocks()) || full.NumBlocks() != lean.NumBlocks() {
			t.Fatalf("%s: block tables differ", name)
		}
		m := full.Meta()
		for pos := m.FirstPosition - 1; pos <= m.LastPosition+1; pos++ {
			i, ok := full.FindBlock(pos)
			j, ok2 := lean.FindBlock(pos)
			if i != j || ok != ok2 || ok != (pos >= m.FirstPosition && pos <= m.LastPosition && pos > 0) {
				t.Fatalf("%s: position %d: block %d %v and %d %v", name, pos, i, ok, j, ok2)
			}
			if ok {
				recs, err := lean.ReadBlock(j)
				if err != nil {
					t.Fatal(err)
				}
				k := slices.IndexFunc(recs, func(r segment.Record) bool { return r.Position != 0 })
				if lean.BlockFirst(j) > pos || k < 0 || recs[k].Position != lean.BlockFirst(j) {
					t.Fatalf("%s: block %d starts at %d, records %+v", name, j, lean.BlockFirst(j), recs)
				}
			}
		}
		if err := lean.Check(); err != nil {
			t.Fatal(err)
		}
		full.Close()
		lean.Close()
		if err := lean.Check(); err == nil {
			t.Fatal("check of a closed segment succeeded")
		}
	}
}
