package segment

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// WAL frame layout (FORMAT.md §2.2).
const (
	frameHeaderSize = 18

	frameTypeBatch = 1 // the body is a record list

	flagCommit = 1 << 0 // last entry written by one Append
	flagBegin  = 1 << 1 // first entry written by one Append
	flagsKnown = flagCommit | flagBegin
)

// frameHeader is the decoded, verified header of a WAL frame.
type frameHeader struct {
	typ    byte
	flags  byte
	index  uint64
	length int
}

// appendFrame appends a batch frame holding recs, with the given WAL index
// and flags, to dst.
func appendFrame(dst []byte, index uint64, flags byte, recs []Record) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, frameHeaderSize)...)
	dst = appendRecords(dst, recs)
	h := dst[start : start+frameHeaderSize]
	body := dst[start+frameHeaderSize:]
	h[0] = frameTypeBatch
	h[1] = flags
	binary.LittleEndian.PutUint32(h[2:6], uint32(len(body)))
	binary.LittleEndian.PutUint64(h[6:14], index)
	crc := crc32.Update(crc32.Update(0, castagnoli, h[:14]), castagnoli, body)
	binary.LittleEndian.PutUint32(h[14:18], crc)
	return dst
}

// checkFrame verifies a whole frame (header and CRC) without decoding the
// body. The returned reason is "" when the frame is intact.
func checkFrame(data []byte) (frameHeader, string) {
	if len(data) < frameHeaderSize {
		return frameHeader{}, fmt.Sprintf("frame of %d bytes is shorter than its header", len(data))
	}
	h := frameHeader{
		typ:    data[0],
		flags:  data[1],
		index:  binary.LittleEndian.Uint64(data[6:14]),
		length: int(binary.LittleEndian.Uint32(data[2:6])),
	}
	switch {
	case h.typ == 0:
		return h, "frame type 0 (zeroed space)"
	case h.typ != frameTypeBatch:
		return h, fmt.Sprintf("unknown frame type %d", h.typ)
	case h.flags&^flagsKnown != 0:
		return h, fmt.Sprintf("unknown frame flags %#x", h.flags)
	case h.length > MaxBodySize:
		return h, fmt.Sprintf("frame body length %d exceeds %d", h.length, MaxBodySize)
	case h.length != len(data)-frameHeaderSize:
		return h, fmt.Sprintf("frame body length %d, entry holds %d", h.length, len(data)-frameHeaderSize)
	}
	want := binary.LittleEndian.Uint32(data[14:18])
	got := crc32.Update(crc32.Update(0, castagnoli, data[:14]), castagnoli, data[frameHeaderSize:])
	if got != want {
		return h, fmt.Sprintf("frame CRC %08x, computed %08x", want, got)
	}
	return h, ""
}

// decodeFrame verifies data as the frame of WAL entry index and decodes its
// records, whose bodies alias data. On damage it returns a reason and the
// offset within data where the damage was found.
func decodeFrame(data []byte, index uint64) ([]Record, int, string) {
	h, reason := checkFrame(data)
	if reason != "" {
		return nil, 0, reason
	}
	if h.index != index {
		return nil, 6, fmt.Sprintf("frame holds WAL index %d, expected %d", h.index, index)
	}
	recs, off, err := decodeRecords(data[frameHeaderSize:], nil)
	if err != nil {
		return nil, frameHeaderSize + off, err.Error()
	}
	return recs, 0, ""
}
