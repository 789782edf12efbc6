package segment

import (
	"bytes"
	"flag"
	"math"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// Golden files pin the formats (FORMAT.md): the WAL's version 1 and the
// segment's versions 1 (zstd blocks), 2 (S2 blocks) and 3 (S2 blocks with
// the segment's dictionary), with the wide block table, and 4 to 6, the
// same codecs with the packed table. They were written by this package
// with -update; a change that breaks these tests changes the format and
// needs a new version, not new golden files.
const goldenWALDir = "testdata/wal-v1"

// goldenSegments are the golden segment files, the codec of each and
// whether its table is wide (versions 1 to 3).
var goldenSegments = []struct {
	file, codec string
	wide        bool
}{
	{"testdata/segment-v1.seg", CodecZstd, true},
	{"testdata/segment-v2.seg", CodecS2, true},
	{"testdata/segment-v3.seg", CodecS2Dict, true},
	{"testdata/segment-v4.seg", CodecZstd, false},
	{"testdata/segment-v5.seg", CodecS2, false},
	{"testdata/segment-v6.seg", CodecS2Dict, false},
}

// goldenAppends are the Append calls of the golden WAL: edge values
// included (no position, the largest position, negative and zero times,
// empty and binary bodies, an empty batch).
func goldenAppends() [][][]Record {
	return [][][]Record{
		{{
			{Type: 1, Position: 1, Time: 1764100000000, Body: []byte(`{"id":"a","payload":{"n":1}}`)},
			{Type: 1, Position: 2, Time: 1764100000001, Body: []byte(`{"id":"b","payload":{"n":2}}`)},
		}},
		{
			{{Type: 2, Position: 0, Time: 0, Body: []byte(`{"link":"a->b"}`)}},
			{},
			{{Type: 3, Position: math.MaxUint64, Time: -1, Body: nil}, {Type: 255, Position: 3, Time: math.MinInt64, Body: []byte{0, 1, 2, 0xff}}},
		},
		{{{Type: 1, Position: 4, Time: 1764100000500, Body: []byte(`{"id":"c","payload":{"s":"é"}}`)}}},
	}
}

func goldenRecords() []Record { return goldenRecordsN(40) }

// goldenRecordsN is n records of batch, one with no position and no time,
// and one at position n+1 with a negative time and no body.
func goldenRecordsN(n int) []Record {
	recs := batch(1, n)
	recs = append(recs, Record{Type: 7, Body: []byte("no position, no time")}, Record{Type: 8, Position: uint64(n) + 1, Time: -5, Body: nil})
	return recs
}

// goldenSegmentRecords is the golden segment's records of a codec: enough
// for a dictionary with CodecS2Dict.
func goldenSegmentRecords(codec string) ([]Record, int) {
	if codec == CodecS2Dict {
		return goldenRecordsN(150), 150
	}
	return goldenRecords(), 40
}

func writeGoldenWAL(t *testing.T, dir string) {
	w := openWAL(t, dir, WALOptions{})
	for _, a := range goldenAppends() {
		if _, err := w.Append(a); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestGoldenWAL(t *testing.T) {
	const file = "00000000000000000001"
	if *update {
		os.RemoveAll(goldenWALDir)
		writeGoldenWAL(t, goldenWALDir)
	}
	golden, err := os.ReadFile(filepath.Join(goldenWALDir, file))
	if err != nil {
		t.Fatal(err)
	}
	// The reader decodes the golden bytes.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, file), golden, 0o640); err != nil {
		t.Fatal(err)
	}
	w := openWAL(t, dir, WALOptions{})
	idx := uint64(1)
	for _, a := range goldenAppends() {
		for _, b := range a {
			got, err := w.Read(idx)
			if err != nil {
				t.Fatalf("entry %d: %v", idx, err)
			}
			equalRecords(t, got, b)
			idx++
		}
	}
	if w.LastIndex() != idx-1 {
		t.Fatalf("golden WAL holds %d entries, want %d", w.LastIndex(), idx-1)
	}
	w.Close()
	// The writer produces exactly the golden bytes.
	fresh := t.TempDir()
	writeGoldenWAL(t, fresh)
	got, err := os.ReadFile(filepath.Join(fresh, file))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, golden) {
		t.Fatalf("WAL encoding changed:\n got %x\nwant %x", got, golden)
	}
}

func TestGoldenSegment(t *testing.T) {
	for _, gs := range goldenSegments {
		t.Run(filepath.Base(gs.file), func(t *testing.T) { testGoldenSegment(t, gs.file, gs.codec, gs.wide) })
	}
}

func testGoldenSegment(t *testing.T, goldenSegment, codec string, wide bool) {
	meta := Meta{FirstWALIndex: 3, LastWALIndex: 9}
	opts := SegmentOptions{BlockSize: 4 << 10, Codec: codec, wideTable: wide}
	records, n := goldenSegmentRecords(codec)
	if *update {
		if err := WriteSegment(goldenSegment, meta, records, opts); err != nil {
			t.Fatal(err)
		}
	}
	g, err := OpenSegment(goldenSegment)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if err := g.Check(); err != nil {
		t.Fatal(err)
	}
	want := Meta{FirstPosition: 1, LastPosition: uint64(n) + 1, MinTime: -5, MaxTime: 1_764_000_000_000 + int64(n)*37,
		Records: n + 2, Blocks: len(g.Blocks()), FirstWALIndex: 3, LastWALIndex: 9}
	if g.Meta() != want || want.Blocks < 3 {
		t.Fatalf("golden meta %+v, want %+v with ≥ 3 blocks", g.Meta(), want)
	}
	var got []Record
	if err := g.Scan(func(r Record) error { got = append(got, r); return nil }); err != nil {
		t.Fatal(err)
	}
	equalRecords(t, got, records)

	// The writer cuts the same blocks with the same uncompressed bytes
	// (compressed bytes may differ between compressor releases).
	path := filepath.Join(t.TempDir(), "fresh.seg")
	if err := WriteSegment(path, meta, records, opts); err != nil {
		t.Fatal(err)
	}
	f, err := OpenSegment(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Meta() != g.Meta() {
		t.Fatalf("fresh meta %+v, golden %+v", f.Meta(), g.Meta())
	}
	gold, _ := os.ReadFile(goldenSegment)
	fresh, _ := os.ReadFile(path)
	if !bytes.Equal(gold[:segHeaderSize], fresh[:segHeaderSize]) {
		t.Fatalf("header changed: %x vs %x", fresh[:segHeaderSize], gold[:segHeaderSize])
	}
	// A dictionary is the same sample of the records.
	if g.dataOff != f.dataOff || !bytes.Equal(gold[:g.dataOff], fresh[:f.dataOff]) {
		t.Fatalf("dictionary section changed: fresh blocks start at %d, golden at %d", f.dataOff, g.dataOff)
	}
	if (codec == CodecS2Dict) != (g.dict.Load() != nil) {
		t.Fatalf("codec %q: dictionary %v", codec, g.dict.Load() != nil)
	}
	if packedTable(g.version) == wide || packedTable(f.version) == wide {
		t.Fatalf("golden version %d with wide table %v", g.version, wide)
	}
	for i := range g.blocks {
		gb, fb := g.blocks[i], f.blocks[i]
		if gb.raw != fb.raw || gb.Records != fb.Records || gb.FirstPosition != fb.FirstPosition ||
			gb.LastPosition != fb.LastPosition || gb.MinTime != fb.MinTime || gb.MaxTime != fb.MaxTime {
			t.Fatalf("block %d: fresh %+v, golden %+v", i, fb, gb)
		}
	}
}
