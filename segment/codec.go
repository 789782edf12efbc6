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
)

// codec is how a segment's blocks are compressed.
type codec struct {
	version uint32
	encode  func(src, dst []byte) []byte
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
	case CodecZstd:
		enc, _ := encoderFor(level)
		return codec{version: segVersionZstd, encode: enc.EncodeAll}, nil
	}
	return codec{}, fmt.Errorf("segment: codec %q (want %q or %q): %w", name, CodecS2, CodecZstd, trove.ErrInvalid)
}

// decodeBlock decompresses a block of a segment of the given version into a
// new slice of exactly raw bytes.
func decodeBlock(version uint32, comp []byte, raw int) ([]byte, error) {
	if version == segVersionS2 {
		n, err := s2.DecodedLen(comp)
		if err != nil {
			return nil, fmt.Errorf("s2: %v", err)
		}
		if n != raw {
			return nil, fmt.Errorf("%d uncompressed bytes, table says %d", n, raw)
		}
		out, err := s2.Decode(make([]byte, raw), comp)
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
