package segment

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/trovedb/trove"
)

// TestCodecs: every codec writes segments that read back, each with its own
// format version (4 to 6 with the packed table, 1 to 3 with the wide one),
// and a reader opens any.
func TestCodecs(t *testing.T) {
	recs := batch(1, 500)
	sizes := map[string]int64{}
	for _, c := range []struct {
		codec   string
		version uint32
		wide    bool
	}{
		{"", segVersionS2 + segVersionPacked, false}, {CodecS2, segVersionS2 + segVersionPacked, false},
		{CodecS2Dict, segVersionS2Dict + segVersionPacked, false}, {CodecZstd, segVersionZstd + segVersionPacked, false},
		{CodecS2, segVersionS2, true}, {CodecS2Dict, segVersionS2Dict, true}, {CodecZstd, segVersionZstd, true},
	} {
		path := filepath.Join(t.TempDir(), "s.seg")
		if err := WriteSegment(path, Meta{}, recs, SegmentOptions{BlockSize: 1 << 10, Codec: c.codec, Level: 1, wideTable: c.wide}); err != nil {
			t.Fatal(err)
		}
		s, err := OpenSegment(path)
		if err != nil {
			t.Fatal(err)
		}
		if s.version != c.version {
			t.Errorf("codec %q: version %d, want %d", c.codec, s.version, c.version)
		}
		if c.wide {
			s.Close()
			continue
		}
		if err := s.Check(); err != nil {
			t.Fatalf("codec %q: %v", c.codec, err)
		}
		var got []Record
		if err := s.Scan(func(r Record) error { got = append(got, r); return nil }); err != nil {
			t.Fatal(err)
		}
		equalRecords(t, got, recs)
		sizes[c.codec] = s.Size()
		s.Close()
	}
	if sizes[CodecS2] >= int64(len(appendRecords(nil, recs))) {
		t.Errorf("s2 segment of %d bytes does not compress %d bytes of records", sizes[CodecS2], len(appendRecords(nil, recs)))
	}
	if sizes[CodecS2Dict] >= sizes[CodecS2] {
		t.Errorf("s2dict segment of %d bytes, s2 of %d", sizes[CodecS2Dict], sizes[CodecS2])
	}
	// Too few record bytes for a dictionary: CodecS2Dict writes version 5
	// (S2, packed table).
	path := filepath.Join(t.TempDir(), "small.seg")
	if err := WriteSegment(path, Meta{}, recs[:20], SegmentOptions{BlockSize: 1 << 10, Codec: CodecS2Dict}); err != nil {
		t.Fatal(err)
	}
	if s, err := OpenSegment(path); err != nil || s.version != segVersionS2+segVersionPacked || s.Check() != nil {
		t.Fatalf("small s2dict segment: %v", err)
	} else {
		s.Close()
	}
	if err := WriteSegment(filepath.Join(t.TempDir(), "x.seg"), Meta{}, recs, SegmentOptions{Codec: "lz4"}); !errors.Is(err, trove.ErrInvalid) {
		t.Fatalf("unknown codec: %v, want ErrInvalid", err)
	}
}

// TestCodecDamage: a damaged S2 block, or one whose length disagrees with
// the block table, is ErrCorrupt at the block's offset; other blocks read.
func TestCodecDamage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.seg")
	if err := WriteSegment(path, Meta{}, batch(1, 200), SegmentOptions{BlockSize: 1 << 10}); err != nil {
		t.Fatal(err)
	}
	s, err := OpenSegment(path)
	if err != nil {
		t.Fatal(err)
	}
	blocks := s.Blocks()
	s.Close()
	if len(blocks) < 3 {
		t.Fatalf("%d blocks, want ≥ 3", len(blocks))
	}
	b := blocks[1]
	comp := make([]byte, b.Length)
	data, _ := os.ReadFile(path)
	copy(comp, data[b.Offset:])
	// Bytes that pass the CRC (it is checked first) but not the decoder:
	// decodeBlock alone.
	raw := int(s.blocks[1].raw)
	if _, err := decodeBlock(segVersionS2, nil, comp, raw+1); err == nil {
		t.Fatal("decoded to a length the table does not say")
	}
	bad := bytes.Clone(comp)
	bad[len(bad)/2] ^= 0xff
	bad[len(bad)-1] ^= 0xff
	if out, err := decodeBlock(segVersionS2, nil, bad, raw); err == nil && bytes.Equal(out, mustDecode(t, comp, raw)) {
		t.Fatal("damaged block decoded to the original bytes")
	}
	if _, err := decodeBlock(segVersionS2, nil, comp[:len(comp)/2], raw); err == nil {
		t.Fatal("truncated block decoded")
	}
	// Through the file: damage is ErrCorrupt at the block's offset.
	data[b.Offset+b.Length/2] ^= 0xff
	if err := os.WriteFile(path, data, 0o640); err != nil {
		t.Fatal(err)
	}
	s, err = OpenSegment(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.ReadBlock(1)
	var ce *trove.CorruptionError
	if !errors.As(err, &ce) || ce.Offset != b.Offset {
		t.Fatalf("damaged block: %v, want CorruptionError at %d", err, b.Offset)
	}
	for _, i := range []int{0, 2} {
		if _, err := s.ReadBlock(i); err != nil {
			t.Fatalf("block %d beside the damaged one: %v", i, err)
		}
	}
}

func mustDecode(t *testing.T, comp []byte, raw int) []byte {
	t.Helper()
	out, err := decodeBlock(segVersionS2, nil, comp, raw)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// FuzzDecodeBlock: arbitrary bytes under either codec decode or fail, never
// panic, and a success has exactly the asked length.
func FuzzDecodeBlock(f *testing.F) {
	recs := batch(1, 200)
	dc, dict, ok := dictCodec(recs)
	if !ok {
		f.Fatal("no dictionary for 200 records")
	}
	d := s2.NewDict(dict)
	raw := appendRecords(nil, recs[:5])
	for _, codec := range []string{CodecS2, CodecZstd} {
		c, err := codecFor(codec, 1)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(c.version), c.encode(raw, nil), uint16(len(raw)))
	}
	f.Add(uint8(segVersionS2Dict), dc.encode(raw, nil), uint16(len(raw)))
	f.Add(uint8(segVersionS2), []byte{0xff, 0xff, 0xff, 0xff, 0x0f}, uint16(10))
	f.Fuzz(func(t *testing.T, version uint8, comp []byte, raw uint16) {
		v := uint32(version%3) + 1
		var vd *s2.Dict
		if v == segVersionS2Dict {
			vd = d
		}
		out, err := decodeBlock(v, vd, comp, int(raw))
		if err == nil && len(out) != int(raw) {
			t.Fatalf("decoded %d bytes, asked %d", len(out), raw)
		}
	})
}
