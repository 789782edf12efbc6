package segment

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/trovedb/trove"
)

func writeSeg(t testing.TB, recs []Record, opts SegmentOptions) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "000001.seg")
	if err := WriteSegment(path, Meta{FirstWALIndex: 7, LastWALIndex: 19}, recs, opts); err != nil {
		t.Fatalf("WriteSegment: %v", err)
	}
	return path
}

func TestSegmentRoundTrip(t *testing.T) {
	recs := batch(1001, 2000)
	recs[10].Time = 0 // a record without a time
	recs = append(recs, Record{Type: 9, Body: []byte("no position")})
	path := writeSeg(t, recs, SegmentOptions{BlockSize: 16 << 10})
	s, err := OpenSegment(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m := s.Meta()
	want := Meta{FirstPosition: 1001, LastPosition: 3000, MinTime: recs[0].Time, MaxTime: recs[1999].Time,
		Records: 2001, Blocks: len(s.Blocks()), FirstWALIndex: 7, LastWALIndex: 19}
	if m != want {
		t.Fatalf("meta %+v, want %+v", m, want)
	}
	if m.Blocks < 10 {
		t.Fatalf("%d blocks for ~600 KB at 16 KiB a block", m.Blocks)
	}
	// Blocks partition the records in order, with their ranges.
	var all []Record
	for i, b := range s.Blocks() {
		got, err := s.ReadBlock(i)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != b.Records || (got[0].Position != 0 && got[0].Position != b.FirstPosition) {
			t.Fatalf("block %d: %d records from %d, table %+v", i, len(got), got[0].Position, b)
		}
		all = append(all, got...)
	}
	equalRecords(t, all, recs)
	var scanned []Record
	if err := s.Scan(func(r Record) error { scanned = append(scanned, r); return nil }); err != nil {
		t.Fatal(err)
	}
	equalRecords(t, scanned, recs)
	stop := errors.New("stop")
	n := 0
	if err := s.Scan(func(Record) error { n++; return stop }); err != stop || n != 1 {
		t.Fatalf("Scan did not stop: %v after %d", err, n)
	}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(path)
	if s.Size() != st.Size() {
		t.Fatalf("Size %d, file %d", s.Size(), st.Size())
	}
	if _, err := s.ReadBlock(m.Blocks); !errors.Is(err, trove.ErrNotFound) {
		t.Fatalf("ReadBlock past the end: %v", err)
	}
}

func TestSegmentEdgeCases(t *testing.T) {
	t.Run("empty", func(t *testing.T) {
		s, err := OpenSegment(writeSeg(t, nil, SegmentOptions{}))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if m := s.Meta(); m.Records != 0 || m.Blocks != 0 || m.FirstWALIndex != 7 {
			t.Fatalf("meta %+v", m)
		}
		if err := s.Check(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("record larger than a block", func(t *testing.T) {
		recs := []Record{{Type: 1, Position: 1, Body: bytes.Repeat([]byte("x"), 100<<10)}, {Type: 1, Position: 2, Body: []byte("y")}}
		s, err := OpenSegment(writeSeg(t, recs, SegmentOptions{BlockSize: 1024}))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if s.Meta().Blocks != 2 {
			t.Fatalf("%d blocks", s.Meta().Blocks)
		}
		got, err := s.ReadBlock(0)
		if err != nil {
			t.Fatal(err)
		}
		equalRecords(t, got, recs[:1])
	})
	t.Run("negative times and levels", func(t *testing.T) {
		recs := []Record{{Type: 1, Position: 5, Time: -50}, {Type: 2, Position: 6, Time: -10}, {Type: 3, Position: 7, Time: 0}}
		for level := 1; level <= 4; level++ {
			s, err := OpenSegment(writeSeg(t, recs, SegmentOptions{Level: level}))
			if err != nil {
				t.Fatal(err)
			}
			if m := s.Meta(); m.MinTime != -50 || m.MaxTime != -10 {
				t.Fatalf("meta %+v", m)
			}
			if err := s.Check(); err != nil {
				t.Fatal(err)
			}
			s.Close()
		}
	})
	t.Run("invalid input", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "x.seg")
		if err := WriteSegment(path, Meta{}, []Record{{Type: 0}}, SegmentOptions{}); !errors.Is(err, trove.ErrInvalid) {
			t.Fatalf("type 0: %v", err)
		}
		if err := WriteSegment(path, Meta{}, nil, SegmentOptions{Level: 9}); !errors.Is(err, trove.ErrInvalid) {
			t.Fatalf("level 9: %v", err)
		}
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Fatalf("a failed write left %s: %v", path, err)
		}
	})
	t.Run("closed", func(t *testing.T) {
		s, err := OpenSegment(writeSeg(t, batch(1, 3), SegmentOptions{}))
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		if _, err := s.ReadBlock(0); !errors.Is(err, trove.ErrClosed) {
			t.Fatalf("ReadBlock after Close: %v", err)
		}
		if err := s.Close(); !errors.Is(err, trove.ErrClosed) {
			t.Fatalf("second Close: %v", err)
		}
	})
}

// Every kind of damage to a segment is a CorruptionError at the damaged
// structure's offset: from OpenSegment for the fixed parts, from
// ReadBlock/Check for a block.
func TestSegmentCorruption(t *testing.T) {
	recs := batch(1, 600)
	clean, err := os.ReadFile(writeSeg(t, recs, SegmentOptions{BlockSize: 16 << 10}))
	if err != nil {
		t.Fatal(err)
	}
	s, err := openSegment("x", bytes.NewReader(clean), int64(len(clean)), nil)
	if err != nil {
		t.Fatal(err)
	}
	blocks := s.Blocks()
	size := int64(len(clean))
	footerOff := blocks[len(blocks)-1].Offset + blocks[len(blocks)-1].Length
	cases := []struct {
		name   string
		damage func(d []byte) []byte
		atOpen bool
		offset int64
	}{
		{"header magic", func(d []byte) []byte { d[0] = 'X'; return d }, true, 0},
		{"header version", func(d []byte) []byte { d[8] = 9; return d }, true, 0},
		{"unknown version, header CRC fixed", func(d []byte) []byte { return setHeaderVersion(d, 9) }, true, 0},
		{"header and trailer versions disagree", func(d []byte) []byte { return setHeaderVersion(d, segVersionZstd) }, true, size - 32},
		{"trailer magic", func(d []byte) []byte { d[len(d)-1] ^= 1; return d }, true, size - 32},
		{"trailer CRC", func(d []byte) []byte { d[len(d)-32] ^= 1; return d }, true, size - 32},
		{"footer byte", func(d []byte) []byte { d[footerOff+70] ^= 1; return d }, true, footerOff},
		{"truncated file", func(d []byte) []byte { return d[:len(d)-10] }, true, size - 10 - 32},
		{"zeroed file", func(d []byte) []byte { return make([]byte, len(d)) }, true, 0},
		{"too short", func(d []byte) []byte { return d[:20] }, true, 0},
		{"block byte", func(d []byte) []byte { d[blocks[2].Offset+5] ^= 0x80; return d }, false, blocks[2].Offset},
		{"zeroed block", func(d []byte) []byte {
			copy(d[blocks[1].Offset:blocks[1].Offset+blocks[1].Length], make([]byte, blocks[1].Length))
			return d
		}, false, blocks[1].Offset},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.damage(bytes.Clone(clean))
			path := filepath.Join(t.TempDir(), "d.seg")
			if err := os.WriteFile(path, d, 0o640); err != nil {
				t.Fatal(err)
			}
			s, err := OpenSegment(path)
			if tc.atOpen {
				ce := wantCorrupt(t, err)
				if ce.File != path || ce.Offset != tc.offset {
					t.Fatalf("corruption at %s:%d, want %d: %v", ce.File, ce.Offset, tc.offset, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("OpenSegment: %v", err)
			}
			defer s.Close()
			ce := wantCorrupt(t, s.Check())
			if ce.Offset != tc.offset {
				t.Fatalf("Check: corruption at %d, want %d", ce.Offset, tc.offset)
			}
			wantCorrupt(t, s.Scan(func(Record) error { return nil }))
			if _, err := s.ReadBlock(0); err != nil {
				t.Fatalf("an intact block: %v", err)
			}
		})
	}
}

func TestSegmentConcurrentReads(t *testing.T) {
	recs := batch(1, 3000)
	s, err := OpenSegment(writeSeg(t, recs, SegmentOptions{BlockSize: 32 << 10}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for n := 0; n < 40; n++ {
				i := (g*7 + n) % len(s.Blocks())
				got, err := s.ReadBlock(i)
				if err != nil {
					errs <- err
					return
				}
				if got[0].Position != s.Blocks()[i].FirstPosition || !bytes.Equal(got[0].Body, event(got[0].Position)) {
					errs <- errors.New("wrong block contents")
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// setHeaderVersion rewrites the header's version and its CRC.
func setHeaderVersion(d []byte, v uint32) []byte {
	binary.LittleEndian.PutUint32(d[8:12], v)
	binary.LittleEndian.PutUint32(d[12:16], crc32.Checksum(d[:12], castagnoli))
	return d
}

// TestSegmentDictCorruption: damage to a version 3 segment's dictionary
// section is a CorruptionError at the section (offset 16) from
// OpenSegment, and a segment whose header names the wrong kind of start
// does not open.
func TestSegmentDictCorruption(t *testing.T) {
	clean, err := os.ReadFile(writeSeg(t, batch(1, 600), SegmentOptions{BlockSize: 16 << 10, Codec: CodecS2Dict}))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := os.ReadFile(writeSeg(t, batch(1, 600), SegmentOptions{BlockSize: 16 << 10}))
	if err != nil {
		t.Fatal(err)
	}
	setLen := func(n uint32) func(d []byte) []byte {
		return func(d []byte) []byte { binary.LittleEndian.PutUint32(d[16:], n); return d }
	}
	both := func(v uint32) func(d []byte) []byte {
		return func(d []byte) []byte {
			setHeaderVersion(d, v)
			tr := d[len(d)-32:]
			binary.LittleEndian.PutUint32(tr[16:20], v)
			binary.LittleEndian.PutUint32(tr[20:24], crc32.Checksum(tr[:20], castagnoli))
			return d
		}
	}
	cases := []struct {
		name   string
		data   []byte
		damage func(d []byte) []byte
		offset int64
	}{
		{"dictionary byte", clean, func(d []byte) []byte { d[16+4+100] ^= 1; return d }, 16},
		{"dictionary CRC", clean, func(d []byte) []byte { d[16+4+segDictSize+1] ^= 1; return d }, 16},
		{"dictionary longer than the file", clean, setLen(1 << 30), 16},
		{"dictionary too long", clean, setLen(1 << 20), 16},
		{"dictionary too short", clean, setLen(3), 16},
		{"version 2 read as 3", plain, both(segVersionS2Dict), 16},
		{"version 3 read as 2", clean, both(segVersionS2), -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.damage(bytes.Clone(tc.data))
			path := filepath.Join(t.TempDir(), "d.seg")
			if err := os.WriteFile(path, d, 0o640); err != nil {
				t.Fatal(err)
			}
			_, err := OpenSegment(path)
			ce := wantCorrupt(t, err)
			if tc.offset >= 0 && ce.Offset != tc.offset {
				t.Fatalf("corruption at %d, want %d: %v", ce.Offset, tc.offset, err)
			}
		})
	}
	// The clean file opens and reads, through a compact table too.
	path := filepath.Join(t.TempDir(), "c.seg")
	if err := os.WriteFile(path, clean, 0o640); err != nil {
		t.Fatal(err)
	}
	s, err := OpenSegmentCompact(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if d, err := s.dictionary(); d == nil || err != nil || s.Check() != nil {
		t.Fatalf("version 3 segment without its dictionary (%v), or failing its check", err)
	}
	got, err := s.ReadBlock(s.NumBlocks() - 1)
	if err != nil || !bytes.Equal(got[0].Body, event(got[0].Position)) {
		t.Fatalf("last block: %v", err)
	}
}
