package segment

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/tidwall/wal"
)

// Ingest benchmarks: one op is one batch of 1,000 records of ~300 bytes,
// written and fsynced. Compare Append with raw tidwall/wal writing the same
// bodies (one entry each, one WriteBatch, one fsync) — the engine's target
// is ≥ 60% of raw.
const benchBatch = 1000

func benchRecords(b *testing.B) ([]Record, int64) {
	recs := batch(1, benchBatch)
	var n int64
	for _, r := range recs {
		n += int64(len(r.Body))
	}
	return recs, n
}

func benchAppend(b *testing.B, noSync bool) {
	recs, bytes := benchRecords(b)
	w, _, err := OpenWAL(b.TempDir(), WALOptions{NoSync: noSync})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	batches := [][]Record{recs}
	b.SetBytes(bytes)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := w.Append(batches); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkAppend(b *testing.B)       { benchAppend(b, false) }
func BenchmarkAppendNoSync(b *testing.B) { benchAppend(b, true) }

func benchRaw(b *testing.B, noSync, oneEntry bool) {
	recs, bytes := benchRecords(b)
	l, err := wal.Open(filepath.Join(b.TempDir(), "raw"), &wal.Options{NoSync: noSync, SegmentSize: DefaultWALSegmentSize})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	var all []byte
	for _, r := range recs {
		all = append(all, r.Body...)
	}
	var wb wal.Batch
	idx := uint64(1)
	b.SetBytes(bytes)
	b.ReportAllocs()
	for b.Loop() {
		if oneEntry {
			wb.Write(idx, all)
			idx++
		} else {
			for _, r := range recs {
				wb.Write(idx, r.Body)
				idx++
			}
		}
		if err := l.WriteBatch(&wb); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkRawTidwall(b *testing.B)         { benchRaw(b, false, false) }
func BenchmarkRawTidwallOneEntry(b *testing.B) { benchRaw(b, false, true) }
func BenchmarkRawTidwallNoSync(b *testing.B)   { benchRaw(b, true, false) }

// Sealed segments: encode and decode speed over ~300-byte JSON-like
// events, and the compressed size as a share of the bodies' bytes.
const benchSegRecords = 20000

func BenchmarkSegmentWrite(b *testing.B) {
	for _, level := range []int{1, 2, 3} {
		b.Run(fmt.Sprintf("level%d", level), func(b *testing.B) {
			recs := batch(1, benchSegRecords)
			var raw int64
			for _, r := range recs {
				raw += int64(len(r.Body))
			}
			path := filepath.Join(b.TempDir(), "s.seg")
			b.SetBytes(raw)
			b.ReportAllocs()
			for b.Loop() {
				if err := WriteSegment(path, Meta{}, recs, SegmentOptions{Level: level}); err != nil {
					b.Fatal(err)
				}
			}
			st, _ := os.Stat(path)
			b.ReportMetric(float64(st.Size())/float64(raw)*100, "%size")
			b.ReportMetric(float64(b.N*benchSegRecords)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

func BenchmarkSegmentScan(b *testing.B) {
	recs := batch(1, benchSegRecords)
	var raw int64
	for _, r := range recs {
		raw += int64(len(r.Body))
	}
	path := filepath.Join(b.TempDir(), "s.seg")
	if err := WriteSegment(path, Meta{}, recs, SegmentOptions{}); err != nil {
		b.Fatal(err)
	}
	s, err := OpenSegment(path)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.SetBytes(raw)
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		if err := s.Scan(func(Record) error { n++; return nil }); err != nil || n != benchSegRecords {
			b.Fatal(err, n)
		}
	}
	b.ReportMetric(float64(b.N*benchSegRecords)/b.Elapsed().Seconds(), "events/s")
}

// ReadBlock is a point read's cost: smaller blocks read faster and
// compress worse.
func BenchmarkSegmentReadBlock(b *testing.B) {
	for _, size := range []int{4 << 10, 16 << 10, 64 << 10} {
		b.Run(fmt.Sprintf("block%dK", size>>10), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "s.seg")
			if err := WriteSegment(path, Meta{}, batch(1, benchSegRecords), SegmentOptions{BlockSize: size}); err != nil {
				b.Fatal(err)
			}
			s, err := OpenSegment(path)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := s.ReadBlock(i % len(s.Blocks())); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(s.Size())/float64(s.Meta().Records), "file-bytes/event")
		})
	}
}

// BenchmarkSegmentGet is a read by position on a block cache miss, as the
// engine does one: find the block holding a random position, read it and
// its first position, over a segment of 1 KiB blocks (the engine's
// default, ~3 events a block: ~26k blocks, ~800 table groups). "find" is
// the engine's path on a block cache hit: FindBlock and BlockFirst alone.
// The table is the full one (OpenSegment), or a compact segment's read
// through a cache that holds the whole table ("warm"), or one group, so
// that nearly every read reads its group from the file ("cold").
func BenchmarkSegmentGet(b *testing.B) {
	const n = 80_000
	path := filepath.Join(b.TempDir(), "s.seg")
	if err := WriteSegment(path, Meta{}, batch(1, n), SegmentOptions{BlockSize: 1 << 10}); err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	positions := make([]uint64, 1<<16)
	for i := range positions {
		positions[i] = 1 + r.Uint64N(n)
	}
	opens := []struct {
		name string
		open func() (*Segment, error)
	}{
		{"full", func() (*Segment, error) { return OpenSegment(path) }},
		{"warm", func() (*Segment, error) { return OpenSegmentCached(path, NewTableCache(64<<20)) }},
		{"cold", func() (*Segment, error) { return OpenSegmentCached(path, NewTableCache(1)) }},
	}
	for _, o := range opens {
		for _, op := range []string{"get", "find"} {
			b.Run(o.name+"/"+op, func(b *testing.B) {
				s, err := o.open()
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				if o.name == "warm" {
					for i := 0; i < s.NumBlocks(); i += groupBlocks {
						s.BlockFirst(i)
					}
				}
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					pos := positions[i%len(positions)]
					i++
					j, ok := s.FindBlock(pos)
					if !ok {
						b.Fatalf("position %d not found", pos)
					}
					if op == "get" {
						if _, err := s.ReadBlock(j); err != nil {
							b.Fatal(err)
						}
					}
					if s.BlockFirst(j) > pos {
						b.Fatal("wrong block")
					}
				}
			})
		}
	}
}
