package segment

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/trovedb/trove"
)

// scanWALDir writes 40 entries of one to three records across several
// tidwall files and returns the directory, each entry's records, and the
// file and byte range of every entry (for damage aimed at one of them).
func scanWALDir(t *testing.T) (string, [][]Record, []entrySpan) {
	t.Helper()
	dir := t.TempDir()
	w := openWAL(t, dir, WALOptions{SegmentSize: 2 << 10, NoSync: true})
	var want [][]Record
	pos := uint64(1)
	for i := range 40 {
		n := 1 + i%3
		b := batch(pos, n)
		pos += uint64(n)
		if _, err := w.Append([][]Record{b}); err != nil {
			t.Fatal(err)
		}
		want = append(want, b)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	files, err := listWALFiles(dir)
	if err != nil || len(files) < 3 {
		t.Fatalf("%d WAL files (%v), want several", len(files), err)
	}
	var spans []entrySpan
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(dir, f.name))
		if err != nil {
			t.Fatal(err)
		}
		for off, index := 0, f.index; off < len(data); index++ {
			_, end, ok := nextEntry(data, off)
			if !ok {
				t.Fatalf("%s: entry at %d does not parse", f.name, off)
			}
			spans = append(spans, entrySpan{file: filepath.Join(dir, f.name), index: index, start: off, end: end})
			off = end
		}
	}
	if len(spans) != 40 {
		t.Fatalf("%d entries in the files, want 40", len(spans))
	}
	return dir, want, spans
}

type entrySpan struct {
	file       string
	index      uint64
	start, end int // the tidwall entry's bytes: length prefix and frame
}

// scanAll runs ScanWAL and returns the indexes read (their records checked
// against want) and the damage reported.
func scanAll(t *testing.T, dir string, from uint64, want [][]Record) ([]uint64, []*trove.CorruptionError) {
	t.Helper()
	var got []uint64
	var skipped []*trove.CorruptionError
	err := ScanWAL(dir, from, func(index uint64, recs []Record) error {
		equalRecords(t, recs, want[index-1])
		got = append(got, index)
		return nil
	}, func(c *trove.CorruptionError) error {
		skipped = append(skipped, c)
		return nil
	})
	if err != nil {
		t.Fatalf("ScanWAL: %v", err)
	}
	return got, skipped
}

func indexesExcept(n uint64, from uint64, lost ...uint64) []uint64 {
	var out []uint64
	for i := from; i <= n; i++ {
		if !slices.Contains(lost, i) {
			out = append(out, i)
		}
	}
	return out
}

// ScanWAL reads every intact entry around damage, whatever it hit, and
// reports each damaged stretch once with its file and offset.
func TestScanWAL(t *testing.T) {
	for _, c := range []struct {
		name    string
		damage  func(spans []entrySpan) (file string, at int, with []byte)
		lost    []uint64
		skipped int
	}{
		{"intact", nil, nil, 0},
		{"a frame body byte", func(s []entrySpan) (string, int, []byte) { return s[10].file, s[10].end - 3, nil }, []uint64{11}, 1},
		{"a frame header byte", func(s []entrySpan) (string, int, []byte) { return s[20].file, s[20].start + 2, nil }, []uint64{21}, 1},
		{"a length prefix", func(s []entrySpan) (string, int, []byte) { return s[5].file, s[5].start, []byte{0xff, 0xff} }, []uint64{6}, 1},
		{"two entries zeroed", func(s []entrySpan) (string, int, []byte) {
			return s[15].file, s[15].start, make([]byte, s[16].end-s[15].start)
		}, []uint64{16, 17}, 1},
		{"a torn tail", func(s []entrySpan) (string, int, []byte) { return s[39].file, s[39].end - 1, []byte{} }, []uint64{40}, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir, want, spans := scanWALDir(t)
			var damaged string
			if c.damage != nil {
				file, at, with := c.damage(spans)
				damaged = file
				data, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				switch {
				case with == nil:
					data[at] ^= 0xff
				case len(with) == 0:
					data = data[:at]
				default:
					copy(data[at:], with)
				}
				if err := os.WriteFile(file, data, 0o640); err != nil {
					t.Fatal(err)
				}
			}
			got, skipped := scanAll(t, dir, 1, want)
			if wantIdx := indexesExcept(40, 1, c.lost...); !slices.Equal(got, wantIdx) {
				t.Fatalf("read %v, want %v", got, wantIdx)
			}
			if len(skipped) != c.skipped {
				t.Fatalf("%d damaged stretches reported, want %d: %v", len(skipped), c.skipped, skipped)
			}
			for _, s := range skipped {
				if s.File != damaged || s.Offset < 0 || !errors.Is(s, trove.ErrCorrupt) {
					t.Fatalf("damage reported as %v, in %s", s, damaged)
				}
			}
			// From a later index: the entries before it are left out.
			got, _ = scanAll(t, dir, 30, want)
			if wantIdx := indexesExcept(40, 30, c.lost...); !slices.Equal(got, wantIdx) {
				t.Fatalf("from 30: read %v, want %v", got, wantIdx)
			}
		})
	}
	// A missing directory holds nothing.
	if err := ScanWAL(filepath.Join(t.TempDir(), "none"), 1, nil, nil); err != nil {
		t.Fatalf("missing dir: %v", err)
	}
}

// FuzzScanWAL uses arbitrary bytes as the only tidwall file of a WAL:
// ScanWAL never panics, reads only frames that verify, in increasing
// index order, and accounts for every byte it does not read as an entry
// by a reported stretch.
func FuzzScanWAL(f *testing.F) {
	golden, err := os.ReadFile(goldenWALDir + "/00000000000000000001")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(golden)
	mid := bytes.Clone(golden)
	mid[40] ^= 1
	f.Add(mid)
	f.Add(append(bytes.Clone(golden), make([]byte, 100)...))
	f.Add(append(make([]byte, 7), golden...))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(dir+"/00000000000000000001", data, 0o640); err != nil {
			t.Fatal(err)
		}
		var last uint64
		err := ScanWAL(dir, 1, func(index uint64, recs []Record) error {
			if index <= last && last != 0 {
				t.Fatalf("index %d after %d", index, last)
			}
			last = index
			for _, r := range recs {
				if r.Type == 0 {
					t.Fatalf("a record of type 0 read at index %d", index)
				}
			}
			return nil
		}, func(c *trove.CorruptionError) error {
			if c.Offset < 0 || c.Offset >= int64(len(data)) {
				t.Fatalf("damage at offset %d of %d bytes", c.Offset, len(data))
			}
			return nil
		})
		if err != nil {
			t.Fatalf("ScanWAL: %v", err)
		}
	})
}
