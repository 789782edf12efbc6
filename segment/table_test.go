package segment

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/trovedb/trove"
)

// oneBlockEach writes recs one record per block (BlockSize 1), so that
// block numbers, and the table's group edges, are the records' indexes;
// with the wide table of versions 1 to 3 when wide is set, else the packed
// one.
func oneBlockEach(t testing.TB, recs []Record, wide bool) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "one.seg")
	if err := WriteSegment(path, Meta{}, recs, SegmentOptions{BlockSize: 1, wideTable: wide}); err != nil {
		t.Fatal(err)
	}
	return path
}

// layouts runs test once with each table layout: packed (versions 4 to
// 6) and wide (1 to 3).
func layouts(t *testing.T, test func(t *testing.T, wide bool)) {
	for _, wide := range []bool{false, true} {
		name := "packed"
		if wide {
			name = "wide"
		}
		t.Run(name, func(t *testing.T) { test(t, wide) })
	}
}

// groupBytes returns where group g of a compact segment's table lies in
// its file.
func groupBytes(s *Segment, g int) (off, size int64) {
	t := s.table
	st, err := t.state()
	if err != nil {
		panic(err)
	}
	entries := t.footerOff + segMetaSize
	if st.offs != nil {
		return entries + int64(st.offs[g]), int64(st.offs[g+1] - st.offs[g])
	}
	n := min(groupBlocks, t.n-g*groupBlocks)
	return entries + int64(g)*groupBlocks*segBlockEntry, int64(n) * segBlockEntry
}

// sameAsFull checks that a compact segment opened over path with cache
// answers every table question exactly as the full table does: Blocks,
// FindBlock and LocateBlock at every position around the range,
// BlockFirst, ReadBlock of every block, Scan and Check.
func sameAsFull(t *testing.T, path string, cache *TableCache) {
	t.Helper()
	full, err := OpenSegment(path)
	if err != nil {
		t.Fatal(err)
	}
	defer full.Close()
	s, err := OpenSegmentCached(path, cache)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.NumBlocks() != full.NumBlocks() || s.Meta() != full.Meta() || !slices.Equal(s.Blocks(), full.Blocks()) {
		t.Fatalf("tables differ: %d and %d blocks", s.NumBlocks(), full.NumBlocks())
	}
	m := full.Meta()
	check := func(p uint64) {
		want, wantOK := full.FindBlock(p)
		got, ok, err := s.LocateBlock(p)
		if err != nil || got != want || ok != wantOK {
			t.Fatalf("position %d: block %d %v %v, want %d %v", p, got, ok, err, want, wantOK)
		}
		if got2, ok2 := s.FindBlock(p); got2 != got || ok2 != ok {
			t.Fatalf("position %d: FindBlock %d %v, LocateBlock %d %v", p, got2, ok2, got, ok)
		}
	}
	if m.LastPosition-m.FirstPosition < 1<<16 {
		for p := m.FirstPosition - min(m.FirstPosition, 1); p <= m.LastPosition+1; p++ {
			check(p)
		}
	}
	for _, b := range full.Blocks() {
		for _, p := range []uint64{b.FirstPosition - 1, b.FirstPosition, b.LastPosition, b.LastPosition + 1} {
			check(p)
		}
	}
	for i := range full.NumBlocks() {
		if s.BlockFirst(i) != full.BlockFirst(i) {
			t.Fatalf("block %d: first %d, want %d", i, s.BlockFirst(i), full.BlockFirst(i))
		}
		got, err := s.ReadBlock(i)
		if err != nil {
			t.Fatal(err)
		}
		want, err := full.ReadBlock(i)
		if err != nil {
			t.Fatal(err)
		}
		equalRecords(t, got, want)
	}
	var got, want []Record
	if err := s.Scan(func(r Record) error { got = append(got, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := full.Scan(func(r Record) error { want = append(want, r); return nil }); err != nil {
		t.Fatal(err)
	}
	equalRecords(t, got, want)
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
}

// TestTableGroupEdges: a compact segment finds and reads the blocks on
// both sides of every group edge, with tables of one group, a whole
// number of groups and one more block, through a cache of one group and a
// large one.
func TestTableGroupEdges(t *testing.T) { layouts(t, testTableGroupEdges) }

func testTableGroupEdges(t *testing.T, wide bool) {
	for _, n := range []int{1, groupBlocks - 1, groupBlocks, groupBlocks + 1, 2 * groupBlocks, 3*groupBlocks + 5} {
		for _, size := range []int64{1, 1 << 20} {
			t.Run(fmt.Sprintf("%d blocks, cache %d", n, size), func(t *testing.T) {
				path := oneBlockEach(t, batch(100, n), wide)
				sameAsFull(t, path, NewTableCache(size))
				s, err := OpenSegmentCached(path, NewTableCache(size))
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				if s.NumBlocks() != n {
					t.Fatalf("%d blocks, want %d", s.NumBlocks(), n)
				}
				for _, i := range []int{0, groupBlocks - 1, groupBlocks, 2*groupBlocks - 1, 2 * groupBlocks, n - 1} {
					if i >= n {
						continue
					}
					p := uint64(100 + i)
					if got, ok := s.FindBlock(p); !ok || got != i {
						t.Fatalf("position %d: block %d %v, want %d", p, got, ok, i)
					}
					recs, err := s.ReadBlock(i)
					if err != nil || len(recs) != 1 || recs[0].Position != p || s.BlockFirst(i) != p {
						t.Fatalf("block %d: %v %v, first %d", i, recs, err, s.BlockFirst(i))
					}
				}
			})
		}
	}
}

// TestTablePositionless: blocks holding no position (at the start, at the
// end, a whole group of them, a few inside groups) and segments with no
// position at all are found, skipped and read as with the full table.
func TestTablePositionless(t *testing.T) { layouts(t, testTablePositionless) }

func testTablePositionless(t *testing.T, wide bool) {
	mk := func(n int, hasPos func(i int) bool) []Record {
		var recs []Record
		pos := uint64(1000)
		for i := range n {
			if hasPos(i) {
				recs = append(recs, Record{Type: 1, Position: pos, Time: int64(i + 1), Body: event(pos)})
				pos += 1 + uint64(i%3) // gaps between blocks
			} else {
				recs = append(recs, Record{Type: 7, Body: []byte(fmt.Sprintf("link %d", i))})
			}
		}
		return recs
	}
	cases := map[string][]Record{
		"leading and trailing":  mk(3*groupBlocks, func(i int) bool { return i >= 10 && i < 3*groupBlocks-10 }),
		"a whole group without": mk(4*groupBlocks, func(i int) bool { return i < groupBlocks || i >= 2*groupBlocks+3 }),
		"scattered":             mk(3*groupBlocks+9, func(i int) bool { return i%7 != 3 }),
		"every other":           mk(2*groupBlocks, func(i int) bool { return i%2 == 0 }),
		"only the last":         mk(2*groupBlocks+1, func(i int) bool { return i == 2*groupBlocks }),
		"none":                  mk(2*groupBlocks, func(int) bool { return false }),
	}
	for name, recs := range cases {
		t.Run(name, func(t *testing.T) {
			path := oneBlockEach(t, recs, wide)
			sameAsFull(t, path, NewTableCache(1))
			sameAsFull(t, path, NewTableCache(1<<20))
		})
	}
}

// TestTableUnorderedAndWide: segments the engine does not write but the
// format allows, blocks whose ranges do not ascend and positions that span
// more than 2^32, answer as with the full table.
func TestTableUnorderedAndWide(t *testing.T) { layouts(t, testTableUnorderedAndWide) }

func testTableUnorderedAndWide(t *testing.T, wideTable bool) {
	r := rand.New(rand.NewPCG(3, 4))
	var unordered []Record
	for i := range 3*groupBlocks + 1 {
		p := uint64(1 + r.IntN(500))
		if i%10 == 0 {
			unordered = append(unordered, Record{Type: 2, Body: []byte("none")})
			continue
		}
		unordered = append(unordered, Record{Type: 1, Position: p, Time: 5, Body: event(p)})
	}
	var wide []Record
	for i := range 2*groupBlocks + 3 {
		p := uint64(1) + uint64(i)*(1<<27)
		wide = append(wide, Record{Type: 1, Position: p, Time: 5, Body: event(p)})
	}
	for name, recs := range map[string][]Record{"unordered": unordered, "wide": wide} {
		t.Run(name, func(t *testing.T) {
			path := oneBlockEach(t, recs, wideTable)
			s, err := OpenSegment(path)
			if err != nil {
				t.Fatal(err)
			}
			if name == "unordered" && !s.unordered {
				t.Fatal("segment not unordered")
			}
			if name == "wide" && s.Meta().LastPosition-s.Meta().FirstPosition < 1<<32 {
				t.Fatal("segment not wide")
			}
			s.Close()
			sameAsFull(t, path, NewTableCache(1))
			sameAsFull(t, path, NewTableCache(1<<20))
		})
	}
}

// TestTableDamagedGroup: a table group whose bytes change after the
// segment was opened is reported as a CorruptionError naming the file and
// the group's offset, by every read that needs it; blocks of other groups
// still read, and Check reports the footer.
func TestTableDamagedGroup(t *testing.T) { layouts(t, testTableDamagedGroup) }

func testTableDamagedGroup(t *testing.T, wide bool) {
	recs := batch(1, 4*groupBlocks)
	for name, damage := range map[string]func(path string, off, size int64){
		"flipped byte": func(path string, off, size int64) {
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			at := off + min(3*segBlockEntry+25, size/2)
			b := make([]byte, 1)
			f.ReadAt(b, at)
			b[0] ^= 0x10
			if _, err := f.WriteAt(b, at); err != nil {
				t.Fatal(err)
			}
		},
		"zeroed group": func(path string, off, size int64) {
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteAt(make([]byte, size), off); err != nil {
				t.Fatal(err)
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			path := oneBlockEach(t, recs, wide)
			s, err := OpenSegmentCached(path, NewTableCache(1)) // holds one group
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			const g = 2 // the damaged group
			groupOff, groupSize := groupBytes(s, g)
			damage(path, groupOff, groupSize)
			if _, err := s.ReadBlock(0); err != nil { // group 0 in the cache
				t.Fatal(err)
			}
			i := g*groupBlocks + 5
			pos := recs[i].Position
			_, ok, err := s.LocateBlock(pos)
			ce := wantCorrupt(t, err)
			if ok || ce.File != path || ce.Offset != groupOff {
				t.Fatalf("LocateBlock: %v %v, want corruption in %s at %d", ok, err, path, groupOff)
			}
			if _, ok := s.FindBlock(pos); ok {
				t.Fatal("FindBlock found a block in a damaged group")
			}
			_, err = s.ReadBlock(i)
			if ce := wantCorrupt(t, err); ce.File != path || ce.Offset != groupOff {
				t.Fatalf("ReadBlock: %v, want corruption at %d", err, groupOff)
			}
			if s.BlockFirst(i) != 0 {
				t.Fatal("BlockFirst of a block in a damaged group")
			}
			if err := s.Scan(func(Record) error { return nil }); err == nil {
				t.Fatal("Scan passed a damaged group")
			} else if ce := wantCorrupt(t, err); ce.Offset != groupOff {
				t.Fatalf("Scan: %v, want corruption at %d", err, groupOff)
			}
			if ce := wantCorrupt(t, s.Check()); ce.File != path || ce.Offset != s.footerOff {
				t.Fatalf("Check: %v, want corruption of the footer at %d", ce, s.footerOff)
			}
			// Other groups still read, and Blocks gives what it can.
			for _, j := range []int{0, groupBlocks, 3*groupBlocks + 1} {
				if got, ok, err := s.LocateBlock(recs[j].Position); err != nil || !ok || got != j {
					t.Fatalf("block %d: %d %v %v", j, got, ok, err)
				}
				if _, err := s.ReadBlock(j); err != nil {
					t.Fatal(err)
				}
			}
			blocks := s.Blocks()
			if len(blocks) != len(recs) || blocks[i] != (BlockInfo{}) || blocks[3*groupBlocks].FirstPosition != recs[3*groupBlocks].Position {
				t.Fatalf("Blocks over a damaged group: %d blocks, %+v", len(blocks), blocks[i])
			}
		})
	}
	t.Run("truncated file", func(t *testing.T) {
		path := oneBlockEach(t, recs, wide)
		s, err := OpenSegmentCached(path, NewTableCache(1))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		groupOff, groupSize := groupBytes(s, s.table.groups()-1)
		if err := os.Truncate(path, groupOff+groupSize/2); err != nil {
			t.Fatal(err)
		}
		_, _, err = s.LocateBlock(recs[len(recs)-1].Position)
		if ce := wantCorrupt(t, err); ce.File != path || ce.Offset != groupOff {
			t.Fatalf("%v, want corruption at %d", err, groupOff)
		}
	})
}

// TestTableConcurrentReaders: readers of several segments sharing a cache
// too small for their tables (groups are read, evicted and read again
// while others use them) all get the right blocks. Run with -race.
func TestTableConcurrentReaders(t *testing.T) { layouts(t, testTableConcurrentReaders) }

func testTableConcurrentReaders(t *testing.T, wide bool) {
	cache := NewTableCache(3 * groupMem)
	var segs []*Segment
	for k := range 3 {
		recs := batch(uint64(1+k*10_000), 5*groupBlocks+k)
		s, err := OpenSegmentCached(oneBlockEach(t, recs, wide), cache)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		segs = append(segs, s)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for range 2000 {
				s := segs[r.IntN(len(segs))]
				m := s.Meta()
				pos := m.FirstPosition + r.Uint64N(m.LastPosition-m.FirstPosition+1)
				i, ok, err := s.LocateBlock(pos)
				if err != nil || !ok || s.BlockFirst(i) != pos {
					errs <- fmt.Errorf("position %d: block %d %v %v, first %d", pos, i, ok, err, s.BlockFirst(i))
					return
				}
				recs, err := s.ReadBlock(i)
				if err != nil {
					errs <- err
					return
				}
				if len(recs) != 1 || recs[0].Position != pos {
					errs <- fmt.Errorf("position %d: block %d holds %v", pos, i, recs)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n, size := cache.Stats(); n < 1 || size > cache.max {
		t.Fatalf("cache holds %d groups, %d bytes, max %d", n, size, cache.max)
	}
}

// TestTableCacheBound: a shared cache never holds more than its size, and
// a closed segment's groups leave it.
func TestTableCacheBound(t *testing.T) {
	one := groupMem
	cache := NewTableCache(5 * one)
	var segs []*Segment
	for k := range 3 {
		s, err := OpenSegmentCached(oneBlockEach(t, batch(uint64(1+k*1000), 4*groupBlocks), false), cache)
		if err != nil {
			t.Fatal(err)
		}
		segs = append(segs, s)
	}
	for _, s := range segs {
		for i := 0; i < s.NumBlocks(); i += groupBlocks {
			if _, err := s.ReadBlock(i); err != nil {
				t.Fatal(err)
			}
			if n, size := cache.Stats(); size > 5*one || n > 5 {
				t.Fatalf("cache holds %d groups, %d bytes, max %d", n, size, 5*one)
			}
		}
	}
	if n, _ := cache.Stats(); n != 5 {
		t.Fatalf("cache holds %d groups after reading 12, want 5", n)
	}
	for _, s := range segs {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if n, size := cache.Stats(); n != 0 || size != 0 {
		t.Fatalf("closed segments left %d groups, %d bytes", n, size)
	}
	// A closed segment reads nothing and caches nothing.
	if _, err := segs[0].ReadBlock(0); !errors.Is(err, trove.ErrClosed) {
		t.Fatalf("ReadBlock after Close: %v", err)
	}
	segs[0].FindBlock(segs[0].Meta().FirstPosition)
	if n, _ := cache.Stats(); n != 0 {
		t.Fatalf("a closed segment cached %d groups", n)
	}
	if _, err := OpenSegmentCached(segs[0].Path(), nil); !errors.Is(err, trove.ErrInvalid) {
		t.Fatalf("nil cache: %v", err)
	}
}

// TestTableSlotSize pins what a compact segment keeps per group (besides
// a packed table's 4-byte group offset).
func TestTableSlotSize(t *testing.T) {
	if n := unsafe.Sizeof(groupSlot{}); n > 24 {
		t.Fatalf("a group slot takes %d bytes, want at most 24", n)
	}
}

// TestTableBuiltWhenRead: a compact segment keeps neither its table's
// state nor its dictionary until a read needs them; a view (Full) and
// Scan read the whole segment without building them; what changed on
// disk between the open and the first read is reported, never used.
func TestTableBuiltWhenRead(t *testing.T) { layouts(t, testTableBuiltWhenRead) }

func testTableBuiltWhenRead(t *testing.T, wide bool) {
	recs := batch(1, 3*groupBlocks+7)
	write := func(t *testing.T) string {
		path := filepath.Join(t.TempDir(), "d.seg")
		if err := WriteSegment(path, Meta{}, recs, SegmentOptions{BlockSize: 600, Codec: CodecS2Dict, wideTable: wide}); err != nil {
			t.Fatal(err)
		}
		return path
	}
	open := func(t *testing.T, path string) *Segment {
		s, err := OpenSegmentCached(path, NewTableCache(1<<20))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if codecOf(s.version) != segVersionS2Dict {
			t.Fatalf("version %d: no dictionary", s.version)
		}
		if s.table.st.Load() != nil || s.dict.Load() != nil {
			t.Fatal("the open kept the table's state or the dictionary")
		}
		return s
	}
	flip := func(t *testing.T, path string, at int64) {
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		b := make([]byte, 1)
		if _, err := f.ReadAt(b, at); err != nil {
			t.Fatal(err)
		}
		b[0] ^= 0x40
		if _, err := f.WriteAt(b, at); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("view and scan", func(t *testing.T) {
		path := write(t)
		s := open(t, path)
		full, err := OpenSegment(path)
		if err != nil {
			t.Fatal(err)
		}
		defer full.Close()
		v, err := s.Full()
		if err != nil {
			t.Fatal(err)
		}
		if v == s || v.table != nil || v.NumBlocks() != full.NumBlocks() {
			t.Fatalf("view: %d blocks, compact %v", v.NumBlocks(), v.table != nil)
		}
		for _, r := range recs {
			i, ok := v.FindBlock(r.Position)
			want, wantOK := full.FindBlock(r.Position)
			if i != want || ok != wantOK {
				t.Fatalf("position %d: view finds block %d %v, want %d %v", r.Position, i, ok, want, wantOK)
			}
		}
		for i := range full.NumBlocks() {
			got, err := v.ReadBlock(i)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := full.ReadBlock(i)
			equalRecords(t, got, want)
		}
		var got []Record
		if err := s.Scan(func(r Record) error { got = append(got, r); return nil }); err != nil {
			t.Fatal(err)
		}
		equalRecords(t, got, recs)
		if s.table.st.Load() != nil || s.dict.Load() != nil {
			t.Fatal("a view or a scan built the compact segment's state")
		}
		// A read builds both, once.
		if _, ok, err := s.LocateBlock(recs[40].Position); !ok || err != nil {
			t.Fatalf("LocateBlock: %v %v", ok, err)
		}
		st := s.table.st.Load()
		if st == nil || len(st.slots) != s.table.groups() {
			t.Fatal("LocateBlock did not build the table's state")
		}
		if _, err := s.ReadBlock(0); err != nil {
			t.Fatal(err)
		}
		d := s.dict.Load()
		if d == nil {
			t.Fatal("ReadBlock did not keep the dictionary")
		}
		sameAsFull(t, path, NewTableCache(1))
		if _, err := s.ReadBlock(s.NumBlocks() - 1); err != nil || s.table.st.Load() != st || s.dict.Load() != d {
			t.Fatalf("the state or dictionary was built again: %v", err)
		}
		// A view of a closed segment reads nothing.
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := v.ReadBlock(0); !errors.Is(err, trove.ErrClosed) {
			t.Fatalf("view of a closed segment: %v, want ErrClosed", err)
		}
		if err := v.Check(); !errors.Is(err, trove.ErrClosed) {
			t.Fatalf("Check of a view of a closed segment: %v, want ErrClosed", err)
		}
		if _, err := s.Full(); !errors.Is(err, trove.ErrClosed) {
			t.Fatalf("Full of a closed segment: %v, want ErrClosed", err)
		}
	})

	t.Run("footer changed before the first read", func(t *testing.T) {
		path := write(t)
		s := open(t, path)
		flip(t, path, s.footerOff+segMetaSize+3) // an entry: the table's first bytes
		_, ok, err := s.LocateBlock(recs[0].Position)
		if ce := wantCorrupt(t, err); ok || ce.File != path || ce.Offset != s.footerOff {
			t.Fatalf("LocateBlock: %v %v, want corruption of the footer at %d", ok, err, s.footerOff)
		}
		if _, err := s.ReadBlock(1); err == nil {
			t.Fatal("ReadBlock through a changed footer")
		}
		if err := s.Scan(func(Record) error { return nil }); err == nil {
			t.Fatal("Scan through a changed footer")
		}
		if _, err := s.Full(); err == nil {
			t.Fatal("a view through a changed footer")
		}
		if s.table.st.Load() != nil {
			t.Fatal("a state built from a changed footer")
		}
		// Put back, the footer reads.
		flip(t, path, s.footerOff+segMetaSize+3)
		if i, ok, err := s.LocateBlock(recs[0].Position); err != nil || !ok || i != 0 {
			t.Fatalf("restored footer: %d %v %v", i, ok, err)
		}
	})

	if wide { // a wide table's entries lie at fixed offsets
		t.Run("footer replaced by another that passes its CRC", func(t *testing.T) {
			path := write(t)
			s := open(t, path)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			// Block 2's CRC changes; the footer's and the trailer's CRCs
			// are computed again, so the file opens afresh.
			data[s.footerOff+segMetaSize+2*segBlockEntry+16] ^= 0x40
			tr := data[len(data)-segTrailerLen:]
			binary.LittleEndian.PutUint32(tr[12:], crc32.Checksum(data[s.footerOff:len(data)-segTrailerLen], castagnoli))
			binary.LittleEndian.PutUint32(tr[20:], crc32.Checksum(tr[:20], castagnoli))
			if err := os.WriteFile(path, data, 0o640); err != nil {
				t.Fatal(err)
			}
			if again, err := OpenSegmentCompact(path); err != nil {
				t.Fatalf("the new file does not open: %v", err)
			} else {
				again.Close()
			}
			if _, err := s.Full(); !errors.Is(err, trove.ErrCorrupt) {
				t.Fatalf("a view of a segment whose footer was replaced: %v, want corruption", err)
			}
			if err := s.Scan(func(Record) error { return nil }); !errors.Is(err, trove.ErrCorrupt) {
				t.Fatalf("Scan of a segment whose footer was replaced: %v, want corruption", err)
			}
			_, _, err = s.LocateBlock(recs[0].Position)
			if ce := wantCorrupt(t, err); ce.Offset != s.footerOff {
				t.Fatalf("LocateBlock: %v, want the footer reported changed", err)
			}
		})
	}

	t.Run("dictionary changed before the first read", func(t *testing.T) {
		path := write(t)
		s := open(t, path)
		if _, _, err := s.LocateBlock(recs[0].Position); err != nil { // the table, not the dictionary
			t.Fatal(err)
		}
		flip(t, path, segHeaderSize+4+100)
		_, err := s.ReadBlock(0)
		if ce := wantCorrupt(t, err); ce.File != path || ce.Offset != segHeaderSize {
			t.Fatalf("ReadBlock: %v, want corruption of the dictionary at %d", err, segHeaderSize)
		}
		if s.dict.Load() != nil {
			t.Fatal("a changed dictionary was kept")
		}
	})

	t.Run("dictionary replaced by another that passes its CRC", func(t *testing.T) {
		path := write(t)
		s := open(t, path)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		length := int64(binary.LittleEndian.Uint32(data[segHeaderSize:]))
		sec := data[segHeaderSize : segHeaderSize+8+length]
		sec[4+100] ^= 0x40
		binary.LittleEndian.PutUint32(sec[4+length:], crc32.Checksum(sec[:4+length], castagnoli))
		if err := os.WriteFile(path, data, 0o640); err != nil {
			t.Fatal(err)
		}
		_, err = s.ReadBlock(0)
		if ce := wantCorrupt(t, err); ce.Offset != segHeaderSize || !strings.Contains(ce.Reason, "changed since") {
			t.Fatalf("ReadBlock: %v, want the dictionary reported changed", err)
		}
	})
}
