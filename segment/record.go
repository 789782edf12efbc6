package segment

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/trovedb/trove"
)

// Record is one logical entry of the log. Type is the engine's (1..255; 0 is
// invalid, so that zeroed space is never mistaken for a record).
type Record struct {
	Type     byte
	Position uint64 // the event position it carries, 0 for records without one
	Time     int64  // unix milliseconds (createdAt), 0 when none
	Body     []byte // opaque to this package
}

const (
	// MaxBodySize is the largest record body, and the largest frame body and
	// uncompressed block, this package writes or accepts (256 MiB). Lengths
	// read from disk are checked against it before anything is allocated.
	MaxBodySize = 256 << 20

	minRecordSize = 4 // type + 1-byte position delta + 1-byte time delta + 1-byte length
)

var (
	castagnoli = crc32.MakeTable(crc32.Castagnoli)

	// ErrOutOfRange is returned by WAL.TruncateFront for an index past the
	// next one to be written.
	ErrOutOfRange = errors.New("segment: index out of range")

	// errDecode is the internal cause of every decoding failure; callers see
	// it wrapped in a *trove.CorruptionError that says where.
	errDecode = errors.New("bad record list")
)

// corrupt builds the error for damaged bytes at offset of file.
func corrupt(file string, offset int64, format string, args ...any) error {
	return &trove.CorruptionError{File: file, Offset: offset, Reason: "segment: " + fmt.Sprintf(format, args...)}
}

// recordsSize returns the encoded size of recs as a record list (an upper
// bound is enough: it sizes buffers).
func recordsSize(recs []Record) int {
	n := binary.MaxVarintLen64
	for i := range recs {
		n += 1 + 3*binary.MaxVarintLen64 + len(recs[i].Body)
	}
	return n
}

// validateRecords returns an error wrapping trove.ErrInvalid if a record can
// not be written; callers add the package and the operation.
func validateRecords(recs []Record) error {
	for i := range recs {
		if recs[i].Type == 0 {
			return fmt.Errorf("%w: record %d has type 0", trove.ErrInvalid, i)
		}
		if len(recs[i].Body) > MaxBodySize {
			return fmt.Errorf("%w: record %d body of %d bytes exceeds %d", trove.ErrInvalid, i, len(recs[i].Body), MaxBodySize)
		}
	}
	return nil
}

// appendRecords appends recs as a record list (FORMAT.md §1) to dst.
func appendRecords(dst []byte, recs []Record) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(recs)))
	var prevPos uint64
	var prevTime int64
	for i := range recs {
		r := &recs[i]
		dst = append(dst, r.Type)
		dst = binary.AppendVarint(dst, int64(r.Position-prevPos))
		dst = binary.AppendVarint(dst, r.Time-prevTime)
		dst = binary.AppendUvarint(dst, uint64(len(r.Body)))
		dst = append(dst, r.Body...)
		prevPos, prevTime = r.Position, r.Time
	}
	return dst
}

// decodeRecords decodes a record list. Record bodies alias src. On damage
// it returns an error wrapping errDecode and the offset within src where the
// damage was found.
func decodeRecords(src []byte, dst []Record) ([]Record, int, error) {
	count, n := binary.Uvarint(src)
	if n <= 0 {
		return dst, 0, fmt.Errorf("%w: bad record count", errDecode)
	}
	p := n
	if count > uint64(len(src)-p)/minRecordSize {
		return dst, 0, fmt.Errorf("%w: record count %d does not fit in %d bytes", errDecode, count, len(src)-p)
	}
	if dst == nil {
		dst = make([]Record, 0, count)
	}
	var pos uint64
	var tm int64
	for i := uint64(0); i < count; i++ {
		start := p
		if p >= len(src) {
			return dst, start, fmt.Errorf("%w: record %d: truncated", errDecode, i)
		}
		typ := src[p]
		if typ == 0 {
			return dst, start, fmt.Errorf("%w: record %d: type 0", errDecode, i)
		}
		p++
		dp, n := binary.Varint(src[p:])
		if n <= 0 {
			return dst, start, fmt.Errorf("%w: record %d: bad position", errDecode, i)
		}
		p += n
		dt, n := binary.Varint(src[p:])
		if n <= 0 {
			return dst, start, fmt.Errorf("%w: record %d: bad time", errDecode, i)
		}
		p += n
		blen, n := binary.Uvarint(src[p:])
		if n <= 0 {
			return dst, start, fmt.Errorf("%w: record %d: bad body length", errDecode, i)
		}
		p += n
		if blen > MaxBodySize || blen > uint64(len(src)-p) {
			return dst, start, fmt.Errorf("%w: record %d: body length %d past the end", errDecode, i, blen)
		}
		pos += uint64(dp)
		tm += dt
		end := p + int(blen)
		dst = append(dst, Record{Type: typ, Position: pos, Time: tm, Body: src[p:end:end]})
		p = end
	}
	if p != len(src) {
		return dst, p, fmt.Errorf("%w: %d trailing bytes", errDecode, len(src)-p)
	}
	return dst, p, nil
}

// ranges accumulates the position and time ranges of records.
type ranges struct {
	firstPos, lastPos uint64
	minTime, maxTime  int64
	records           int
	hasTime           bool
}

func (g *ranges) add(r *Record) {
	g.records++
	if r.Position != 0 {
		if g.firstPos == 0 || r.Position < g.firstPos {
			g.firstPos = r.Position
		}
		if r.Position > g.lastPos {
			g.lastPos = r.Position
		}
	}
	if r.Time != 0 {
		g.addTime(r.Time, r.Time)
	}
}

func (g *ranges) addTime(lo, hi int64) {
	if !g.hasTime {
		g.minTime, g.maxTime, g.hasTime = lo, hi, true
		return
	}
	g.minTime = min(g.minTime, lo)
	g.maxTime = max(g.maxTime, hi)
}

// merge folds the ranges of o into g.
func (g *ranges) merge(o ranges) {
	g.records += o.records
	if o.firstPos != 0 && (g.firstPos == 0 || o.firstPos < g.firstPos) {
		g.firstPos = o.firstPos
	}
	g.lastPos = max(g.lastPos, o.lastPos)
	if o.hasTime {
		g.addTime(o.minTime, o.maxTime)
	}
}
