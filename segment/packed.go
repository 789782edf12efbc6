package segment

import (
	"encoding/binary"
	"fmt"
	"math"
	"sync"
)

// The packed block table of versions 4 to 6 (FORMAT.md §3.3) holds the
// same entries as the wide one, each against the one before it in its
// group of groupBlocks: about 15 bytes an entry instead of 56 on the
// engine's blocks. Readers
// unpack it into the wide layout (at open, and a group at a time when a
// compact segment reads one again), so that everything after works on
// one layout.

// unpackGroup decodes n entries of a packed table group from src into
// dst, n wide entries of segBlockEntry bytes, and returns how many bytes
// of src they took; reason says what is wrong when src does not hold
// them.
func unpackGroup(src, dst []byte, n int) (used int, reason string) {
	le := binary.LittleEndian
	offset, i := binary.Uvarint(src)
	if i <= 0 || offset > math.MaxInt64 {
		return 0, "bad group offset"
	}
	var prevPos uint64
	var prevTime int64
	for j := range n {
		var flags, length, raw uint64
		var k1, k2, k3 int
		flags, k1 = binary.Uvarint(src[i:])
		if k1 > 0 {
			length, k2 = binary.Uvarint(src[i+k1:])
			if k2 > 0 {
				raw, k3 = binary.Uvarint(src[i+k1+k2:])
			}
		}
		if k1 <= 0 || k2 <= 0 || k3 <= 0 || len(src)-(i+k1+k2+k3) < 4 {
			return 0, fmt.Sprintf("entry %d of the group is cut short", j)
		}
		i += k1 + k2 + k3
		if flags>>2 > math.MaxUint32 || length > math.MaxUint32 || raw > math.MaxUint32 {
			return 0, fmt.Sprintf("entry %d of the group: a count past 32 bits", j)
		}
		crc := le.Uint32(src[i:])
		i += 4
		var first, last uint64
		if flags&packedPos != 0 {
			d, span, k := deltaRange(src[i:])
			if k <= 0 {
				return 0, fmt.Sprintf("entry %d of the group: bad position range", j)
			}
			i += k
			first = prevPos + 1 + uint64(d)
			last = first + span
			prevPos = last
			if first == 0 {
				// 0 is no position: the writer leaves the range out.
				return 0, fmt.Sprintf("entry %d of the group: a range from position 0", j)
			}
		}
		var minTime, maxTime int64
		if flags&packedTime != 0 {
			d, span, k := deltaRange(src[i:])
			if k <= 0 {
				return 0, fmt.Sprintf("entry %d of the group: bad time range", j)
			}
			i += k
			minTime = prevTime + d
			maxTime = minTime + int64(span)
			prevTime = minTime
			if minTime == 0 && maxTime == 0 {
				return 0, fmt.Sprintf("entry %d of the group: a time range of no time", j)
			}
		}
		e := dst[j*segBlockEntry : (j+1)*segBlockEntry]
		le.PutUint64(e[0:], offset)
		le.PutUint32(e[8:], uint32(length))
		le.PutUint32(e[12:], uint32(raw))
		le.PutUint32(e[16:], crc)
		le.PutUint32(e[20:], uint32(flags>>2))
		le.PutUint64(e[24:], first)
		le.PutUint64(e[32:], last)
		le.PutUint64(e[40:], uint64(minTime))
		le.PutUint64(e[48:], uint64(maxTime))
		offset += length // wraps past MaxInt64 only in a table parseFooter refuses
	}
	return i, ""
}

// deltaRange decodes a range of a packed entry: its start's delta (a
// varint) and its span (a uvarint), and the bytes they took (0 or less
// when b does not hold them).
func deltaRange(b []byte) (delta int64, span uint64, n int) {
	delta, k := binary.Varint(b)
	if k <= 0 {
		return 0, 0, k
	}
	span, k2 := binary.Uvarint(b[k:])
	if k2 <= 0 {
		return 0, 0, k2
	}
	return delta, span, k + k2
}

// unpackedBufs holds the buffers compact segments unpack their tables
// into at open (the table is kept in the file).
var unpackedBufs = sync.Pool{New: func() any { return new([]byte) }}

// unpackTable decodes the packed table of a footer (meta included) whose
// meta says nblocks blocks into dst, the same footer with the wide table
// (FORMAT.md §3.3), and returns it with the offset of each group's packed
// bytes from the table's start (one more for the table's end). reason
// says what is wrong when the packed table does not hold exactly
// nblocks entries.
func unpackTable(footer []byte, nblocks uint64, dst []byte) (wide []byte, offs []uint32, reason string) {
	packed := footer[segMetaSize:]
	if nblocks > uint64(len(packed))/minPackedEntry {
		return nil, nil, fmt.Sprintf("meta says %d blocks, the packed table holds %d bytes", nblocks, len(packed))
	}
	n := int(nblocks)
	size := segMetaSize + n*segBlockEntry
	if cap(dst) < size {
		dst = make([]byte, size)
	}
	wide = dst[:size]
	copy(wide, footer[:segMetaSize])
	offs = make([]uint32, (n+groupBlocks-1)/groupBlocks+1)
	into := func(g int) []byte { return wide[segMetaSize+g*groupBlocks*segBlockEntry:] }
	end, reason := unpackGroups(packed, n, into, func(g, at int, _ []byte) { offs[g] = uint32(at) })
	if reason != "" {
		return nil, nil, reason
	}
	offs[len(offs)-1] = uint32(end)
	return wide, offs, ""
}

// unpackGroups unpacks the n entries of a packed table (the footer after
// the meta), which the caller checked can hold them, a group at a time:
// group g into the room into(g) gives (which holds at least its entries),
// then each(g, at, entries) with where its packed bytes start. It returns
// where the table ends, or what is wrong when the bytes do not hold
// exactly n entries.
func unpackGroups(packed []byte, n int, into func(g int) []byte, each func(g, at int, entries []byte)) (end int, reason string) {
	at := 0
	for g := range (n + groupBlocks - 1) / groupBlocks {
		cnt := min(groupBlocks, n-g*groupBlocks)
		entries := into(g)[:cnt*segBlockEntry]
		used, reason := unpackGroup(packed[at:], entries, cnt)
		if reason != "" {
			return 0, fmt.Sprintf("packed table group %d: %s", g, reason)
		}
		each(g, at, entries)
		at += used
	}
	if at != len(packed) {
		return 0, fmt.Sprintf("%d bytes after the packed table's %d entries", len(packed)-at, n)
	}
	return at, ""
}
