package segment

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// footerAt returns the footer's offset and bytes of a segment file's data.
func footerAt(data []byte) (int64, []byte) {
	tr := data[len(data)-segTrailerLen:]
	off, n := binary.LittleEndian.Uint64(tr[0:8]), binary.LittleEndian.Uint32(tr[8:12])
	return int64(off), data[off : off+uint64(n)]
}

// withFooter returns data with its footer replaced by footer and the
// trailer rewritten to match (length and CRCs): damage made this way
// passes every CRC, so only the footer's own checks can find it.
func withFooter(data, footer []byte) []byte {
	off, _ := footerAt(data)
	out := append(bytes.Clone(data[:off]), footer...)
	var tr [segTrailerLen]byte
	copy(tr[:], data[len(data)-segTrailerLen:])
	le := binary.LittleEndian
	le.PutUint32(tr[8:12], uint32(len(footer)))
	le.PutUint32(tr[12:16], crc32.Checksum(footer, castagnoli))
	le.PutUint32(tr[20:24], crc32.Checksum(tr[:20], castagnoli))
	return append(out, tr[:]...)
}

// wideEntries decodes n entries of the wide layout.
func wideEntries(wide []byte, n int) ([]blockEntry, []int64) {
	blocks, lengths := make([]blockEntry, n), make([]int64, n)
	for g := 0; g < n; g += groupBlocks {
		var grp tableGroup
		grp.n = copy(grp.raw[:], wide[g*segBlockEntry:min(n, g+groupBlocks)*segBlockEntry]) / segBlockEntry
		for j := range grp.n {
			blocks[g+j], lengths[g+j] = grp.entry(j)
		}
	}
	return blocks, lengths
}

// packEntries packs blocks (their compressed lengths in lengths) group by
// group, as the writer does.
func packEntries(blocks []blockEntry, lengths []int64) []byte {
	var dst []byte
	for g := 0; g < len(blocks); g += groupBlocks {
		e := min(g+groupBlocks, len(blocks))
		dst = appendPackedGroup(dst, blocks[g:e], lengths[g:e])
	}
	return dst
}

// TestPackedTableSize: blocks of ascending positions and close times (what
// the engine writes) take about a third of the wide table's bytes, and
// both tables give the same blocks.
func TestPackedTableSize(t *testing.T) {
	recs := batch(1, 3000)
	packed := writeSeg(t, recs, SegmentOptions{BlockSize: 1 << 10})
	wide := writeSeg(t, recs, SegmentOptions{BlockSize: 1 << 10, wideTable: true})
	p, err := OpenSegment(packed)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	w, err := OpenSegment(wide)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if p.NumBlocks() != w.NumBlocks() || p.NumBlocks() < 500 {
		t.Fatalf("%d and %d blocks", p.NumBlocks(), w.NumBlocks())
	}
	if p.Meta() != w.Meta() || len(p.blocks) != len(w.blocks) {
		t.Fatalf("meta %+v, wide %+v", p.Meta(), w.Meta())
	}
	for i := range p.blocks {
		if p.blocks[i] != w.blocks[i] {
			t.Fatalf("block %d: packed %+v, wide %+v", i, p.blocks[i], w.blocks[i])
		}
	}
	_, pf := footerAt(mustRead(t, packed))
	_, wf := footerAt(mustRead(t, wide))
	perEntry := float64(len(pf)-segMetaSize) / float64(p.NumBlocks())
	if len(wf) != segMetaSize+segBlockEntry*w.NumBlocks() || perEntry > 16 {
		t.Fatalf("packed table %.1f bytes an entry, wide footer %d bytes for %d blocks", perEntry, len(wf), w.NumBlocks())
	}
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPackedTableCorruption: a packed table that does not unpack into
// exactly the blocks its meta counts, or unpacks into a table that breaks
// an invariant, is a CorruptionError at the footer from OpenSegment, with
// the full table and the compact one, even when every CRC holds.
func TestPackedTableCorruption(t *testing.T) {
	clean := mustRead(t, writeSeg(t, batch(1, 400), SegmentOptions{BlockSize: 1 << 10}))
	fOff, footer := footerAt(clean)
	meta, packed := footer[:segMetaSize], footer[segMetaSize:]
	nblocks := binary.LittleEndian.Uint64(meta[40:])
	wide, _, reason := unpackTable(footer, nblocks, nil)
	if reason != "" {
		t.Fatal(reason)
	}
	blocks, lengths := wideEntries(wide[segMetaSize:], int(nblocks))
	if !bytes.Equal(packEntries(blocks, lengths), packed) {
		t.Fatal("the table does not pack again to the same bytes")
	}
	setBlocks := func(n uint64) []byte {
		m := bytes.Clone(meta)
		binary.LittleEndian.PutUint64(m[40:], n)
		return m
	}
	repack := func(change func(b []blockEntry, l []int64)) []byte {
		b, l := append([]blockEntry(nil), blocks...), append([]int64(nil), lengths...)
		change(b, l)
		return append(bytes.Clone(meta), packEntries(b, l)...)
	}
	join := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	cases := map[string][]byte{
		"one block more in the meta":       join(setBlocks(nblocks+1), packed),
		"one block fewer in the meta":      join(setBlocks(nblocks-1), packed),
		"blocks past any table's bytes":    join(setBlocks(math.MaxUint64/2), packed),
		"table cut short":                  join(meta, packed[:len(packed)-1]),
		"a byte after the table":           join(meta, packed, []byte{0}),
		"an unterminated varint":           join(meta, packed[:len(packed)-8], bytes.Repeat([]byte{0xff}, 8)),
		"no table at all":                  bytes.Clone(meta),
		"records past 32 bits":             join(meta, binary.AppendUvarint(binary.AppendUvarint(nil, uint64(blocks[0].Offset)), 1<<40), packed[8:]),
		"a gap between two groups":         repack(func(b []blockEntry, _ []int64) { b[groupBlocks].Offset++ }),
		"a block past the footer":          repack(func(_ []blockEntry, l []int64) { l[len(l)-1] += 10 }),
		"records disagree with the meta":   repack(func(b []blockEntry, _ []int64) { b[3].Records++ }),
		"an inverted position range":       repack(func(b []blockEntry, _ []int64) { b[5].LastPosition = b[5].FirstPosition - 1 }),
		"an inverted time range":           repack(func(b []blockEntry, _ []int64) { b[7].MaxTime = b[7].MinTime - 1 }),
		"a block of no record":             repack(func(b []blockEntry, _ []int64) { b[9].Records = 0 }),
		"positions disagree with the meta": repack(func(b []blockEntry, _ []int64) { b[len(b)-1].LastPosition += 3 }),
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "d.seg")
			if err := os.WriteFile(path, withFooter(clean, f), 0o640); err != nil {
				t.Fatal(err)
			}
			for _, open := range []func(string) (*Segment, error){OpenSegment, OpenSegmentCompact} {
				s, err := open(path)
				if err == nil {
					s.Close()
				}
				if ce := wantCorrupt(t, err); ce.File != path || ce.Offset != fOff {
					t.Fatalf("corruption at %s:%d, want the footer at %d: %v", ce.File, ce.Offset, fOff, err)
				}
			}
		})
	}
	// The footer rewritten unchanged still opens: the cases above fail for
	// their damage alone.
	path := filepath.Join(t.TempDir(), "same.seg")
	if err := os.WriteFile(path, withFooter(clean, bytes.Clone(footer)), 0o640); err != nil {
		t.Fatal(err)
	}
	s, err := OpenSegmentCompact(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
}

// FuzzPackedTable feeds arbitrary bytes to the packed table's decoder as
// a table of n blocks: it must unpack them or give a reason, never panic;
// what unpacks packs again into bytes that unpack to the same entries.
func FuzzPackedTable(f *testing.F) {
	for _, recs := range [][]Record{batch(1, 5), goldenRecords(), batch(1, 300)} {
		data := mustRead(f, writeSeg(f, recs, SegmentOptions{BlockSize: 512}))
		_, footer := footerAt(data)
		f.Add(footer[segMetaSize:], uint16(binary.LittleEndian.Uint64(footer[40:])))
	}
	f.Add([]byte{}, uint16(0))
	f.Add([]byte{0, 4, 1, 1, 0, 0, 0, 0}, uint16(1))
	f.Fuzz(func(t *testing.T, packed []byte, n uint16) {
		footer := append(make([]byte, segMetaSize), packed...)
		wide, offs, reason := unpackTable(footer, uint64(n), nil)
		if reason != "" {
			if wide != nil || offs != nil {
				t.Fatal("a failed unpack returned a table")
			}
			return
		}
		ng := (int(n) + groupBlocks - 1) / groupBlocks
		if len(wide) != segMetaSize+int(n)*segBlockEntry || len(offs) != ng+1 || int(offs[ng]) != len(packed) {
			t.Fatalf("%d blocks unpacked into %d bytes, %d group offsets", n, len(wide), len(offs))
		}
		blocks, lengths := wideEntries(wide[segMetaSize:], int(n))
		again := append(make([]byte, segMetaSize), packEntries(blocks, lengths)...)
		wide2, _, reason := unpackTable(again, uint64(n), nil)
		if reason != "" || !bytes.Equal(wide2, wide) {
			t.Fatalf("packed again, the table unpacks differently (%s)", reason)
		}
	})
}
