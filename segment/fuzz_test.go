package segment

import (
	"bytes"
	"os"
	"slices"
	"testing"
)

// FuzzFrame feeds arbitrary bytes to the WAL frame decoder and to the tail
// scanner used by recovery: they must return records or a reason, never
// panic, and what decodes must re-encode to a frame that decodes the same.
func FuzzFrame(f *testing.F) {
	f.Add(appendFrame(nil, 1, flagBegin|flagCommit, batch(1, 3)))
	f.Add(appendFrame(nil, 7, flagBegin, nil))
	f.Add(appendFrame(nil, 2, 0, []Record{{Type: 1, Position: 1 << 63, Time: -1}}))
	for _, a := range goldenAppends() {
		for i, b := range a {
			f.Add(appendFrame(nil, uint64(i+1), flagCommit, b))
		}
	}
	f.Add([]byte{})
	f.Add(make([]byte, frameHeaderSize+4))
	f.Fuzz(func(t *testing.T, data []byte) {
		var index uint64
		if len(data) >= 14 {
			index = uint64(data[6]) | uint64(data[7])<<8 | uint64(data[8])<<16 | uint64(data[9])<<24 |
				uint64(data[10])<<32 | uint64(data[11])<<40 | uint64(data[12])<<48 | uint64(data[13])<<56
		}
		recs, at, reason := decodeFrame(data, index)
		if reason != "" {
			if recs != nil || at < 0 || at > len(data) {
				t.Fatalf("failure returned records %d or offset %d", len(recs), at)
			}
		} else {
			again := appendFrame(nil, index, data[1], recs)
			recs2, _, reason := decodeFrame(again, index)
			if reason != "" {
				t.Fatalf("re-encoded frame does not decode: %s", reason)
			}
			equalRecords(t, recs2, recs)
		}
		// The same bytes as the content of a tidwall tail file.
		next, bad, _ := scanEntries(data, 1)
		if bad >= 0 {
			acknowledgedAfter(data, bad, next)
			if n := countEntries(data[bad:]); n < 1 {
				t.Fatalf("damage at %d counts %d entries", bad, n)
			}
		}
	})
}

// FuzzSegment feeds arbitrary bytes to the segment reader: OpenSegment,
// Check and Scan must succeed or return ErrCorrupt, never panic; a segment
// that opens opens compact too, and answers as with its full table.
func FuzzSegment(f *testing.F) {
	for _, codec := range []string{CodecS2, CodecS2Dict, CodecZstd} {
		for _, recs := range [][]Record{nil, batch(1, 5), goldenRecords(), batch(1, 120)} {
			path := writeSeg(f, recs, SegmentOptions{BlockSize: 512, Codec: codec})
			data, err := os.ReadFile(path)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	for _, gs := range goldenSegments {
		if data, err := os.ReadFile(gs.file); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("TROVESEG"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := openSegment("fuzz", bytes.NewReader(data), int64(len(data)), nil)
		c, cerr := openSegment("fuzz", bytes.NewReader(data), int64(len(data)), NewTableCache(1))
		if (err == nil) != (cerr == nil) {
			t.Fatalf("full open: %v; compact open: %v", err, cerr)
		}
		if err != nil {
			wantCorrupt(t, err)
			return
		}
		sameTable(t, s, c)
		n := 0
		err = s.Scan(func(Record) error { n++; return nil })
		if err != nil {
			wantCorrupt(t, err)
			if s.Check() == nil {
				t.Fatalf("Scan failed (%v) but Check passed", err)
			}
			return
		}
		if n != s.Meta().Records {
			t.Fatalf("scanned %d records, meta says %d", n, s.Meta().Records)
		}
		if err := s.Check(); err != nil {
			t.Fatalf("Scan passed but Check failed: %v", err)
		}
	})
}

// sameTable checks that compact segment c answers the table questions as
// full segment s does.
func sameTable(t *testing.T, s, c *Segment) {
	t.Helper()
	blocks := s.Blocks()
	if !slices.Equal(blocks, c.Blocks()) || s.NumBlocks() != c.NumBlocks() {
		t.Fatal("compact table differs")
	}
	m := s.Meta()
	for i, b := range blocks {
		if c.BlockFirst(i) != b.FirstPosition {
			t.Fatalf("block %d: first %d, want %d", i, c.BlockFirst(i), b.FirstPosition)
		}
		for _, p := range []uint64{b.FirstPosition, b.LastPosition, b.LastPosition + 1, m.FirstPosition - 1, m.LastPosition} {
			want, wantOK := s.FindBlock(p)
			got, ok, err := c.LocateBlock(p)
			if err != nil || got != want || ok != wantOK {
				t.Fatalf("position %d: compact %d %v %v, full %d %v", p, got, ok, err, want, wantOK)
			}
		}
		_, err := s.ReadBlock(i)
		_, cerr := c.ReadBlock(i)
		if (err == nil) != (cerr == nil) {
			t.Fatalf("block %d: full %v, compact %v", i, err, cerr)
		}
	}
}

// FuzzRecords feeds arbitrary bytes to the record-list decoder, the part of
// both formats below the CRCs.
func FuzzRecords(f *testing.F) {
	f.Add(appendRecords(nil, batch(1, 4)))
	f.Add(appendRecords(nil, goldenRecords()))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, at, err := decodeRecords(data, nil)
		if err != nil {
			if at < 0 || at > len(data) {
				t.Fatalf("damage offset %d outside %d bytes", at, len(data))
			}
			return
		}
		if again := appendRecords(nil, recs); len(again) > len(data) {
			t.Fatalf("canonical encoding (%d bytes) longer than the input (%d)", len(again), len(data))
		}
	})
}

// FuzzWALTail uses arbitrary bytes as the only tidwall file of a WAL:
// OpenWAL must either report located corruption or open a WAL whose every
// entry reads back, that takes an Append, and that reopens without repair.
func FuzzWALTail(f *testing.F) {
	golden, err := os.ReadFile(goldenWALDir + "/00000000000000000001")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(golden)
	f.Add(append(bytes.Clone(golden), 0x80))
	f.Add(append(bytes.Clone(golden), make([]byte, 100)...))
	f.Add(golden[:len(golden)-7])
	mid := bytes.Clone(golden)
	mid[40] ^= 1
	f.Add(mid)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(dir+"/00000000000000000001", data, 0o640); err != nil {
			t.Fatal(err)
		}
		w, _, err := OpenWAL(dir, WALOptions{NoSync: true})
		if err != nil {
			wantCorrupt(t, err)
			return
		}
		for i := w.FirstIndex(); i != 0 && i <= w.LastIndex(); i++ {
			if _, err := w.Read(i); err != nil {
				t.Fatalf("entry %d after recovery: %v", i, err)
			}
		}
		next := w.NextIndex()
		if first, err := w.Append([][]Record{{{Type: 1, Position: 1}}}); err != nil || first != next {
			t.Fatalf("Append after recovery: %d %v", first, err)
		}
		w.Close()
		w, rec, err := OpenWAL(dir, WALOptions{NoSync: true})
		if err != nil || rec.Reason != "" {
			t.Fatalf("second open: %+v %v", rec, err)
		}
		w.Close()
	})
}
