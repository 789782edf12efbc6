package local

import (
	"encoding/binary"
	"hash/crc32"
	"slices"

	"github.com/trovedb/trove/blob"
)

// The pack format (FORMAT.md).
const (
	packMagic      = "trovepak"
	packVersion    = 1
	packHeaderSize = 16
	frameHeader    = 9 // type u8, body length u32, CRC u32

	recPut    = 1
	recDelete = 2
	recCommit = 3

	// maxBody caps a record's body; a larger length is damage.
	maxBody = 8 << 20
	// maxContentType caps a packed object's content type; an object with
	// a longer one is stored loose.
	maxContentType = 1024
	// maxMetaEntries caps a put's metadata entries.
	maxMetaEntries = 512
	// groupMax caps the bytes of the records one group writes (at least
	// one record is written whatever its size).
	groupMax = 4 << 20
	// maxGroup caps the group length a commit record may claim.
	maxGroup = groupMax + frameHeader + maxBody
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// errFrame is the reason a frame does not decode; the caller adds where.
type errFrame string

func (e errFrame) Error() string { return string(e) }

// packHeader returns the 16-byte header of a pack file.
func packHeader() []byte {
	b := make([]byte, packHeaderSize)
	copy(b, packMagic)
	binary.LittleEndian.PutUint32(b[8:], packVersion)
	binary.LittleEndian.PutUint32(b[12:], crc32.Checksum(b[:12], crcTable))
	return b
}

// checkHeader checks a pack header.
func checkHeader(b []byte) error {
	if len(b) < packHeaderSize {
		return errFrame("pack header cut short")
	}
	if string(b[:8]) != packMagic {
		return errFrame("not a pack file (bad magic)")
	}
	if binary.LittleEndian.Uint32(b[12:]) != crc32.Checksum(b[:12], crcTable) {
		return errFrame("pack header checksum mismatch")
	}
	if v := binary.LittleEndian.Uint32(b[8:]); v != packVersion {
		return errFrame("pack version not read by this build")
	}
	return nil
}

// packed is a decoded put or delete record.
type packed struct {
	typ         byte
	key         string
	sha256      [32]byte
	contentType string
	meta        map[string]string
	data        []byte // aliases the frame's bytes

	groupLen uint32 // commit: bytes of the group's records before it
	groupCRC uint32 // commit: their CRC-32C
}

// appendFrame appends the frame of a record with body to dst.
func appendFrame(dst []byte, typ byte, body []byte) []byte {
	var h [frameHeader]byte
	h[0] = typ
	binary.LittleEndian.PutUint32(h[1:], uint32(len(body)))
	crc := crc32.Update(crc32.Checksum(h[:5], crcTable), crcTable, body)
	binary.LittleEndian.PutUint32(h[5:], crc)
	dst = append(dst, h[:]...)
	return append(dst, body...)
}

// putFits reports whether an object with this content type and metadata
// can be packed (FORMAT.md 2.1); the caller has validated the metadata.
func putFits(contentType string, meta map[string]string) bool {
	return len(contentType) <= maxContentType && len(meta) <= maxMetaEntries
}

// encodePut returns the frame of a put record, built in place.
func encodePut(key string, sum [32]byte, contentType string, meta map[string]string, data []byte) []byte {
	n := 1 + len(key) + 32 + 2 + len(contentType) + 2 + len(data)
	for k, v := range meta {
		n += 1 + len(k) + 2 + len(v)
	}
	b := make([]byte, frameHeader, frameHeader+n)
	b = append(b, byte(len(key)))
	b = append(b, key...)
	b = append(b, sum[:]...)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(contentType)))
	b = append(b, contentType...)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(meta)))
	names := make([]string, 0, len(meta))
	for k := range meta {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		b = append(b, byte(len(k)))
		b = append(b, k...)
		b = binary.LittleEndian.AppendUint16(b, uint16(len(meta[k])))
		b = append(b, meta[k]...)
	}
	b = append(b, data...)
	b[0] = recPut
	binary.LittleEndian.PutUint32(b[1:], uint32(n))
	crc := crc32.Update(crc32.Checksum(b[:5], crcTable), crcTable, b[frameHeader:])
	binary.LittleEndian.PutUint32(b[5:], crc)
	return b
}

// encodeDelete returns the frame of a delete record.
func encodeDelete(key string) []byte {
	body := append([]byte{byte(len(key))}, key...)
	return appendFrame(nil, recDelete, body)
}

// appendCommit appends the commit record of a group whose records are
// group (FORMAT.md 2.3).
func appendCommit(dst, group []byte) []byte {
	var body [8]byte
	binary.LittleEndian.PutUint32(body[:], uint32(len(group)))
	binary.LittleEndian.PutUint32(body[4:], crc32.Checksum(group, crcTable))
	return appendFrame(dst, recCommit, body[:])
}

// groupCRC is the CRC a commit record holds of its group's bytes.
func groupCRC(group []byte) uint32 { return crc32.Checksum(group, crcTable) }

// frameLen reads a frame header at the start of b and returns the whole
// frame's length, checking the type and the length cap (not the CRC).
func frameLen(b []byte) (int, error) {
	if len(b) < frameHeader {
		return 0, errFrame("record header cut short")
	}
	if b[0] != recPut && b[0] != recDelete && b[0] != recCommit {
		return 0, errFrame("bad record type")
	}
	n := binary.LittleEndian.Uint32(b[1:])
	if n > maxBody {
		return 0, errFrame("record length over the cap")
	}
	return frameHeader + int(n), nil
}

// decodeFrame decodes the frame at the start of b, which holds at least
// the whole frame (frameLen), checking its CRC and every field.
func decodeFrame(b []byte) (packed, int, error) {
	n, err := frameLen(b)
	if err != nil {
		return packed{}, 0, err
	}
	if len(b) < n {
		return packed{}, 0, errFrame("record cut short")
	}
	body := b[frameHeader:n]
	crc := crc32.Update(crc32.Checksum(b[:5], crcTable), crcTable, body)
	if crc != binary.LittleEndian.Uint32(b[5:]) {
		return packed{}, 0, errFrame("record checksum mismatch")
	}
	p, err := decodeBody(b[0], body)
	if err != nil {
		return packed{}, 0, err
	}
	return p, n, nil
}

// bodyReader reads the fields of a record body.
type bodyReader struct {
	b   []byte
	bad bool
}

func (r *bodyReader) next(n int) []byte {
	if r.bad || n > len(r.b) {
		r.bad = true
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *bodyReader) u8() int {
	v := r.next(1)
	if v == nil {
		return 0
	}
	return int(v[0])
}

func (r *bodyReader) u16() int {
	v := r.next(2)
	if v == nil {
		return 0
	}
	return int(binary.LittleEndian.Uint16(v))
}

var errBody = errFrame("record body does not decode")

// decodeBody decodes the body of a record of type typ.
func decodeBody(typ byte, body []byte) (packed, error) {
	p := packed{typ: typ}
	if typ == recCommit {
		if len(body) != 8 {
			return packed{}, errBody
		}
		p.groupLen = binary.LittleEndian.Uint32(body)
		p.groupCRC = binary.LittleEndian.Uint32(body[4:])
		if p.groupLen > maxGroup {
			return packed{}, errBody
		}
		return p, nil
	}
	r := &bodyReader{b: body}
	kl := r.u8()
	p.key = string(r.next(kl))
	if r.bad || blob.ValidateKey(p.key) != nil {
		return packed{}, errFrame("record key is not a valid key")
	}
	if typ == recDelete {
		if len(r.b) != 0 {
			return packed{}, errBody
		}
		return p, nil
	}
	copy(p.sha256[:], r.next(32))
	ctl := r.u16()
	if ctl > maxContentType {
		return packed{}, errBody
	}
	p.contentType = string(r.next(ctl))
	count := r.u16()
	if r.bad || count > maxMetaEntries {
		return packed{}, errBody
	}
	total, prev := 0, ""
	for i := 0; i < count; i++ {
		name := string(r.next(r.u8()))
		value := r.next(r.u16())
		if r.bad || name <= prev || !validMetaName(name) {
			return packed{}, errBody
		}
		if total += len(name) + len(value); total > blob.MaxMetadataSize {
			return packed{}, errBody
		}
		if p.meta == nil {
			p.meta = make(map[string]string, count)
		}
		p.meta[name] = string(value)
		prev = name
	}
	if r.bad {
		return packed{}, errBody
	}
	p.data = r.b
	return p, nil
}

func validMetaName(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// isZero reports whether b is all zero bytes.
func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
