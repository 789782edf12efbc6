package segment

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/internal/fsutil"
)

// SegmentOptions configures WriteSegment.
type SegmentOptions struct {
	// BlockSize is the uncompressed size in bytes at which a block is cut.
	// Default (0) DefaultBlockSize, 64 KiB. Larger blocks compress better
	// and make point reads decompress more.
	BlockSize int
	// Codec is CodecS2 (default; "" means it) or CodecZstd.
	Codec string
	// Level is the zstd level as a klauspost/compress/zstd EncoderLevel
	// (1 fastest .. 4 best), for CodecZstd. Default (0) zstd.SpeedDefault.
	Level int
	// wideTable writes the codec's version 1 to 3, with the wide block
	// table, instead of the packed table of versions 4 to 6: for the tests
	// of the older versions, which readers still take.
	wideTable bool
}

// Meta describes a sealed segment.
type Meta struct {
	// FirstPosition and LastPosition are the lowest and highest position
	// over records with one; 0, 0 when none has one. The engine writes
	// positions in increasing order, so these are the first and the last.
	FirstPosition, LastPosition uint64
	// MinTime and MaxTime range over records with a non-zero Time; 0, 0
	// when none has one.
	MinTime, MaxTime int64
	Records, Blocks  int
	// FirstWALIndex and LastWALIndex are the WAL entries this segment holds
	// (for recovery after a crash between seal and WAL truncation).
	FirstWALIndex, LastWALIndex uint64
}

// BlockInfo describes one block of a sealed segment (ranges as in Meta).
type BlockInfo struct {
	Offset, Length              int64 // of the compressed block in the file
	FirstPosition, LastPosition uint64
	MinTime, MaxTime            int64
	Records                     int
}

// blockEntry is a block table entry as a segment keeps it in memory: the
// ranges, where the block starts (it ends where the next one starts, the
// last one at the footer) and what verifies it. A sealed block holds about
// a kilobyte of records by default, so this is kept small.
type blockEntry struct {
	FirstPosition, LastPosition uint64
	MinTime, MaxTime            int64
	Offset                      int64  // of the compressed block in the file
	raw                         uint32 // uncompressed length
	crc                         uint32 // of the compressed bytes
	Records                     uint32
}

// WriteSegment encodes records, in order, into compressed blocks
// followed by a footer with the block table and Meta, and publishes path
// atomically (temporary file, fsync, rename, fsync of the directory). Of
// meta only FirstWALIndex and LastWALIndex are used; the ranges and counts
// are computed from records. Records must have a non-zero Type.
func WriteSegment(path string, meta Meta, records []Record, opts SegmentOptions) error {
	if opts.BlockSize < 0 {
		return fmt.Errorf("segment: negative block size %d: %w", opts.BlockSize, trove.ErrInvalid)
	}
	if opts.BlockSize == 0 {
		opts.BlockSize = DefaultBlockSize
	}
	opts.BlockSize = min(opts.BlockSize, MaxBodySize/2)
	enc, err := codecFor(opts.Codec, opts.Level)
	if err != nil {
		return err
	}
	if err := validateRecords(records); err != nil {
		return fmt.Errorf("segment: write %s: %w", path, err)
	}
	return fsutil.WriteFileAtomic(path, 0o640, func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 256<<10)
		if err := encodeSegment(bw, meta, records, opts, enc); err != nil {
			return err
		}
		if err := bw.Flush(); err != nil {
			return fmt.Errorf("segment: write %s: %w", path, err)
		}
		return nil
	})
}

// encodeSegment writes a whole segment file to w.
func encodeSegment(w io.Writer, meta Meta, records []Record, opts SegmentOptions, enc codec) error {
	var dict []byte
	if enc.version == segVersionS2Dict {
		var ok bool
		if enc, dict, ok = dictCodec(records); !ok {
			enc, _ = codecFor(CodecS2, 0)
		}
	}
	version := enc.version
	if !opts.wideTable {
		version += segVersionPacked
	}
	var hdr [segHeaderSize]byte
	copy(hdr[:8], segMagic)
	binary.LittleEndian.PutUint32(hdr[8:12], version)
	binary.LittleEndian.PutUint32(hdr[12:16], crc32.Checksum(hdr[:12], castagnoli))
	if _, err := w.Write(hdr[:]); err != nil {
		return fmt.Errorf("segment: write: %w", err)
	}
	off := int64(segHeaderSize)
	if dict != nil {
		sec := appendDictSection(make([]byte, 0, len(dict)+8), dict)
		if _, err := w.Write(sec); err != nil {
			return fmt.Errorf("segment: write: %w", err)
		}
		off += int64(len(sec))
	}

	rawp, outp := getBuf(), getBuf()
	defer putBuf(rawp)
	defer putBuf(outp)
	var blocks []blockEntry
	var total ranges
	for start := 0; start < len(records); {
		// Cut a block: records until the encoded list reaches BlockSize.
		end, size := start, uvarintLen(uint64(len(records)))
		var g ranges
		var prevPos uint64
		var prevTime int64
		for end < len(records) && (end == start || size < opts.BlockSize) {
			r := &records[end]
			size += 1 + varintLen(int64(r.Position-prevPos)) + varintLen(r.Time-prevTime) +
				uvarintLen(uint64(len(r.Body))) + len(r.Body)
			prevPos, prevTime = r.Position, r.Time
			g.add(r)
			end++
		}
		if size > MaxBodySize {
			return fmt.Errorf("segment: block of %d bytes exceeds %d: %w", size, MaxBodySize, trove.ErrInvalid)
		}
		raw := appendRecords((*rawp)[:0], records[start:end])
		out := enc.encode(raw, (*outp)[:0])
		*rawp, *outp = raw, out
		if _, err := w.Write(out); err != nil {
			return fmt.Errorf("segment: write: %w", err)
		}
		blocks = append(blocks, blockEntry{
			Offset:        off,
			FirstPosition: g.firstPos, LastPosition: g.lastPos,
			MinTime: g.minTime, MaxTime: g.maxTime,
			Records: uint32(g.records),
			raw:     uint32(len(raw)),
			crc:     crc32.Checksum(out, castagnoli),
		})
		off += int64(len(out))
		total.merge(g)
		start = end
	}

	meta.FirstPosition, meta.LastPosition = total.firstPos, total.lastPos
	meta.MinTime, meta.MaxTime = total.minTime, total.maxTime
	meta.Records, meta.Blocks = total.records, len(blocks)
	var footer []byte
	if opts.wideTable {
		footer = appendFooter(make([]byte, 0, segMetaSize+segBlockEntry*len(blocks)+segTrailerLen), meta, blocks, off)
	} else {
		footer = appendPackedFooter(make([]byte, 0, segMetaSize+24*len(blocks)+segTrailerLen), meta, blocks, off)
	}
	flen := len(footer)
	var tr [segTrailerLen]byte
	binary.LittleEndian.PutUint64(tr[0:8], uint64(off))
	binary.LittleEndian.PutUint32(tr[8:12], uint32(flen))
	binary.LittleEndian.PutUint32(tr[12:16], crc32.Checksum(footer, castagnoli))
	binary.LittleEndian.PutUint32(tr[16:20], version)
	binary.LittleEndian.PutUint32(tr[20:24], crc32.Checksum(tr[:20], castagnoli))
	copy(tr[24:32], segEndMagic)
	footer = append(footer, tr[:]...)
	if _, err := w.Write(footer); err != nil {
		return fmt.Errorf("segment: write: %w", err)
	}
	return nil
}

// appendDictSection appends a version 3 segment's dictionary section
// (FORMAT.md §3.2): its length, its bytes and their CRC.
func appendDictSection(dst, dict []byte) []byte {
	start := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(dict)))
	dst = append(dst, dict...)
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli))
}

// appendMeta appends the footer's meta (FORMAT.md §3.3).
func appendMeta(dst []byte, m Meta) []byte {
	le := binary.LittleEndian
	dst = le.AppendUint64(dst, m.FirstPosition)
	dst = le.AppendUint64(dst, m.LastPosition)
	dst = le.AppendUint64(dst, uint64(m.MinTime))
	dst = le.AppendUint64(dst, uint64(m.MaxTime))
	dst = le.AppendUint64(dst, uint64(m.Records))
	dst = le.AppendUint64(dst, uint64(m.Blocks))
	dst = le.AppendUint64(dst, m.FirstWALIndex)
	return le.AppendUint64(dst, m.LastWALIndex)
}

// appendFooter appends the meta and the wide block table of versions 1 to
// 3 (FORMAT.md §3.3); end is where the last block ends (the footer's
// offset).
func appendFooter(dst []byte, m Meta, blocks []blockEntry, end int64) []byte {
	le := binary.LittleEndian
	dst = appendMeta(dst, m)
	for i := range blocks {
		b := &blocks[i]
		next := end
		if i+1 < len(blocks) {
			next = blocks[i+1].Offset
		}
		dst = le.AppendUint64(dst, uint64(b.Offset))
		dst = le.AppendUint32(dst, uint32(next-b.Offset))
		dst = le.AppendUint32(dst, b.raw)
		dst = le.AppendUint32(dst, b.crc)
		dst = le.AppendUint32(dst, b.Records)
		dst = le.AppendUint64(dst, b.FirstPosition)
		dst = le.AppendUint64(dst, b.LastPosition)
		dst = le.AppendUint64(dst, uint64(b.MinTime))
		dst = le.AppendUint64(dst, uint64(b.MaxTime))
	}
	return dst
}

// appendPackedFooter appends the meta and the packed block table of
// versions 4 to 6 (FORMAT.md §3.3); end is where the last block ends.
func appendPackedFooter(dst []byte, m Meta, blocks []blockEntry, end int64) []byte {
	dst = appendMeta(dst, m)
	lengths := make([]int64, len(blocks))
	for i := range blocks {
		next := end
		if i+1 < len(blocks) {
			next = blocks[i+1].Offset
		}
		lengths[i] = next - blocks[i].Offset
	}
	for g := 0; g < len(blocks); g += groupBlocks {
		e := min(g+groupBlocks, len(blocks))
		dst = appendPackedGroup(dst, blocks[g:e], lengths[g:e])
	}
	return dst
}

// appendPackedGroup appends one group of the packed table: the offset of
// its first block, then each entry (its block's compressed length in
// lengths) against the one before it in the group.
func appendPackedGroup(dst []byte, group []blockEntry, lengths []int64) []byte {
	dst = binary.AppendUvarint(dst, uint64(group[0].Offset))
	var prevPos uint64
	var prevTime int64
	for i := range group {
		b := &group[i]
		hasPos, hasTime := b.FirstPosition != 0, b.MinTime != 0 || b.MaxTime != 0
		flags := uint64(b.Records) << 2
		if hasPos {
			flags |= packedPos
		}
		if hasTime {
			flags |= packedTime
		}
		dst = binary.AppendUvarint(dst, flags)
		dst = binary.AppendUvarint(dst, uint64(lengths[i]))
		dst = binary.AppendUvarint(dst, uint64(b.raw))
		dst = binary.LittleEndian.AppendUint32(dst, b.crc)
		if hasPos {
			// Positions wrap modulo 2^64, as in the record encoding.
			dst = binary.AppendVarint(dst, int64(b.FirstPosition-prevPos-1))
			dst = binary.AppendUvarint(dst, b.LastPosition-b.FirstPosition)
			prevPos = b.LastPosition
		}
		if hasTime {
			dst = binary.AppendVarint(dst, b.MinTime-prevTime)
			dst = binary.AppendUvarint(dst, uint64(b.MaxTime-b.MinTime))
			prevTime = b.MinTime
		}
	}
	return dst
}

// The flag bits of a packed table entry, below its record count.
const (
	packedPos  = 1 << iota // the block holds positions: its range follows
	packedTime             // the block holds times: its range follows
)
