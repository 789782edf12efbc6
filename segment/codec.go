package segment

import (
	"fmt"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/trovedb/trove"
)

// Block codecs (SegmentOptions.Codec). The codec is the segment's format
// version (FORMAT.md §3.1): a reader decodes either.
const (
	// CodecS2 compresses blocks with S2 (klauspost/compress/s2, block
	// format): on kilobyte blocks of event records about 7× faster to
	// compress and 6× faster to decompress than zstd's fastest level, for
	// about 1.4× the bytes. The default.
	CodecS2 = "s2"
	// CodecZstd compresses blocks with zstd (klauspost/compress/zstd) at
	// SegmentOptions.Level: the smallest files.
	CodecZstd = "zstd"
	// CodecS2Dict compresses blocks with S2 against a dictionary of the
	// segment's own, 16 KiB of its records sampled across it and stored
	// after the header: kilobyte blocks of event records take about 0.6×
	// the bytes of CodecS2's, at the same speed to decompress. A segment
	// of too few records for a dictionary is written as CodecS2.
	CodecS2Dict = "s2dict"
)

// codec is how a segment's blocks are compressed.
type codec struct {
	version uint32
	encode  func(src, dst []byte) []byte
}

// dictCodec returns the codec of a version 3 segment of records and its
// dictionary's serialized bytes, or ok false when the records are too few
// for one (FORMAT.md §3.2).
func dictCodec(records []Record) (c codec, dict []byte, ok bool) {
	total := 0
	for i := range records {
		total += len(records[i].Body)
	}
	if total < segDictMin {
		return codec{}, nil, false
	}
	d := s2.MakeDict(dictSample(records), nil)
	if d == nil {
		return codec{}, nil, false
	}
	return codec{version: segVersionS2Dict, encode: func(src, dst []byte) []byte {
		return d.Encode(dst[:cap(dst)], src)
	}}, d.Bytes(), true
}

// dictSample returns segDictSize bytes of record bodies sampled across
// records (which hold at least segDictMin bytes of bodies): rounds over
// 64 records evenly spread, each round starting one record later, until
// the bytes are enough; the last segDictSize bytes are the sample.
func dictSample(records []Record) []byte {
	sample := make([]byte, 0, 2*segDictSize)
	step := max(1, len(records)/64)
	for start := 0; len(sample) < segDictSize; start++ {
		for i := start % step; i < len(records) && len(sample) < segDictSize; i += step {
			sample = append(sample, records[i].Body...)
		}
	}
	return sample[len(sample)-segDictSize:]
}

// codecFor returns the codec named name ("" means CodecS2); level is the
// zstd level (CodecZstd only).
func codecFor(name string, level int) (codec, error) {
	if level != 0 && (level < int(zstd.SpeedFastest) || level > int(zstd.SpeedBestCompression)) {
		// Checked for either codec: a bad level is a mistake either way.
		return codec{}, fmt.Errorf("segment: zstd level %d: %w", level, trove.ErrInvalid)
	}
	switch name {
	case "", CodecS2:
		return codec{version: segVersionS2, encode: func(src, dst []byte) []byte {
			return s2.Encode(dst[:cap(dst)], src)
		}}, nil
	case CodecS2Dict:
		// The encoder comes with the records' dictionary (dictCodec).
		return codec{version: segVersionS2Dict}, nil
	case CodecZstd:
		enc, _ := encoderFor(level)
		return codec{version: segVersionZstd, encode: enc.EncodeAll}, nil
	}
	return codec{}, fmt.Errorf("segment: codec %q (want %q, %q or %q): %w", name, CodecS2, CodecS2Dict, CodecZstd, trove.ErrInvalid)
}

// decodeBlock decompresses a block of a segment of the given format
// version (and dictionary, for versions 3 and 6) into a new slice of
// exactly raw bytes.
func decodeBlock(version uint32, dict *s2.Dict, comp []byte, raw int) ([]byte, error) {
	if c := codecOf(version); c == segVersionS2 || c == segVersionS2Dict {
		n, err := s2.DecodedLen(comp)
		if err != nil {
			return nil, fmt.Errorf("s2: %v", err)
		}
		if n != raw {
			return nil, fmt.Errorf("%d uncompressed bytes, table says %d", n, raw)
		}
		var out []byte
		if dict != nil {
			out, err = dict.Decode(make([]byte, raw), comp)
		} else {
			out, err = s2.Decode(make([]byte, raw), comp)
		}
		if err == nil && len(out) != raw {
			err = fmt.Errorf("%d bytes decoded", len(out))
		}
		if err != nil {
			return nil, fmt.Errorf("s2: %v", err)
		}
		return out, nil
	}
	out, err := decoder().DecodeAll(comp, make([]byte, 0, raw))
	if err != nil {
		return nil, fmt.Errorf("zstd: %v", err)
	}
	if len(out) != raw {
		return nil, fmt.Errorf("%d uncompressed bytes, table says %d", len(out), raw)
	}
	return out, nil
}
