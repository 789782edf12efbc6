package segment

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"sort"
	"sync/atomic"

	"github.com/trovedb/trove"
)

// Segment is an open, immutable sealed segment file. Its methods are safe
// for concurrent use; Close must come after the last read.
type Segment struct {
	name string
	r    io.ReaderAt
	f    *os.File // nil when reading from memory
	size int64
	meta Meta
	// version is the format version, which names the block codec.
	version uint32
	// The block table: blocks in full, or, in a compact segment
	// (OpenSegmentCompact), nil and lean instead.
	blocks  []blockEntry
	lean    []uint32 // leanStride per block, see leanEntry
	nblocks int
	// evBlocks lists the blocks that hold positions, in order, when some
	// block holds none (nil when every block does).
	evBlocks  []uint32
	unordered bool // block position ranges do not ascend: FindBlock scans
	footerOff int64
	closed    atomic.Bool
}

// OpenSegment opens a sealed segment and verifies its header, trailer,
// footer and block table (not the blocks: see Check). Damage is returned as
// a *trove.CorruptionError.
func OpenSegment(path string) (*Segment, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("segment: open: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("segment: open: %w", err)
	}
	s, err := openSegment(path, f, st.Size())
	if err != nil {
		f.Close()
		return nil, err
	}
	s.f = f
	return s, nil
}

// OpenSegmentCompact is OpenSegment keeping only what reads need of the
// block table: 24 bytes a block (offset, uncompressed length, CRC, record
// count, and the position range relative to the segment's first position)
// instead of 56. The time ranges stay in the file's footer: ReadBlock then
// verifies a block's positions and count but not its time range, which
// Check (re-reading the footer) still does. A segment whose file reaches
// 4 GiB, or whose positions span 2^32 or more, keeps the full table.
func OpenSegmentCompact(path string) (*Segment, error) {
	s, err := OpenSegment(path)
	if err != nil {
		return nil, err
	}
	s.compact()
	return s, nil
}

// Compact block table entries: leanStride uint32s per block.
const (
	leanOffset = iota
	leanRaw
	leanCRC
	leanRecords
	leanFirst // position − Meta.FirstPosition + 1; 0 for none
	leanLast
	leanStride
)

// compact replaces the full block table with the lean one when it fits.
func (s *Segment) compact() {
	span := s.meta.LastPosition - s.meta.FirstPosition
	if s.blocks == nil || s.footerOff >= 1<<32 || span >= 1<<32-1 {
		return
	}
	rel := func(p uint64) uint32 {
		if p == 0 {
			return 0
		}
		return uint32(p - s.meta.FirstPosition + 1)
	}
	lean := make([]uint32, leanStride*len(s.blocks))
	for i := range s.blocks {
		b := &s.blocks[i]
		e := lean[leanStride*i : leanStride*(i+1)]
		e[leanOffset], e[leanRaw], e[leanCRC], e[leanRecords] = uint32(b.Offset), b.raw, b.crc, b.Records
		e[leanFirst], e[leanLast] = rel(b.FirstPosition), rel(b.LastPosition)
	}
	s.lean, s.blocks = lean, nil
}

// entry returns block i's table entry; MinTime and MaxTime are 0 in a
// compact segment.
func (s *Segment) entry(i int) blockEntry {
	if s.blocks != nil {
		return s.blocks[i]
	}
	e := s.lean[leanStride*i : leanStride*(i+1)]
	return blockEntry{Offset: int64(e[leanOffset]), raw: e[leanRaw], crc: e[leanCRC], Records: e[leanRecords],
		FirstPosition: s.abs(e[leanFirst]), LastPosition: s.abs(e[leanLast])}
}

func (s *Segment) abs(rel uint32) uint64 {
	if rel == 0 {
		return 0
	}
	return s.meta.FirstPosition + uint64(rel) - 1
}

func (s *Segment) firstPos(i int) uint64 {
	if s.blocks != nil {
		return s.blocks[i].FirstPosition
	}
	return s.abs(s.lean[leanStride*i+leanFirst])
}

func (s *Segment) lastPos(i int) uint64 {
	if s.blocks != nil {
		return s.blocks[i].LastPosition
	}
	return s.abs(s.lean[leanStride*i+leanLast])
}

func (s *Segment) offset(i int) int64 {
	if s.blocks != nil {
		return s.blocks[i].Offset
	}
	return int64(s.lean[leanStride*i+leanOffset])
}

// full returns s if it holds the full block table, else a segment over the
// same file with the table re-read from the footer.
func (s *Segment) full() (*Segment, error) {
	if s.blocks != nil {
		return s, nil
	}
	if s.closed.Load() {
		return nil, fmt.Errorf("segment: read table of %s: %w", s.name, trove.ErrClosed)
	}
	return openSegment(s.name, s.r, s.size)
}

// openSegment reads and verifies the fixed parts of a segment held by r.
func openSegment(name string, r io.ReaderAt, size int64) (*Segment, error) {
	le := binary.LittleEndian
	if size < segHeaderSize+segMetaSize+segTrailerLen {
		return nil, corrupt(name, 0, "file of %d bytes is too short for a segment", size)
	}
	var hdr [segHeaderSize]byte
	if _, err := r.ReadAt(hdr[:], 0); err != nil {
		return nil, fmt.Errorf("segment: read header of %s: %w", name, err)
	}
	switch {
	case string(hdr[:8]) != segMagic:
		return nil, corrupt(name, 0, "bad header magic %q", hdr[:8])
	case crc32.Checksum(hdr[:12], castagnoli) != le.Uint32(hdr[12:16]):
		return nil, corrupt(name, 0, "header CRC mismatch")
	case le.Uint32(hdr[8:12]) != segVersionZstd && le.Uint32(hdr[8:12]) != segVersionS2:
		return nil, corrupt(name, 0, "unsupported segment version %d", le.Uint32(hdr[8:12]))
	}
	version := le.Uint32(hdr[8:12])
	trOff := size - segTrailerLen
	var tr [segTrailerLen]byte
	if _, err := r.ReadAt(tr[:], trOff); err != nil {
		return nil, fmt.Errorf("segment: read trailer of %s: %w", name, err)
	}
	switch {
	case string(tr[24:32]) != segEndMagic:
		return nil, corrupt(name, trOff, "bad trailer magic %q", tr[24:32])
	case crc32.Checksum(tr[:20], castagnoli) != le.Uint32(tr[20:24]):
		return nil, corrupt(name, trOff, "trailer CRC mismatch")
	case le.Uint32(tr[16:20]) != version:
		return nil, corrupt(name, trOff, "segment version %d in trailer, %d in header", le.Uint32(tr[16:20]), version)
	}
	fOff, fLen := le.Uint64(tr[0:8]), int64(le.Uint32(tr[8:12]))
	if fOff < segHeaderSize || fOff > uint64(trOff) || int64(fOff)+fLen != trOff ||
		fLen < segMetaSize || (fLen-segMetaSize)%segBlockEntry != 0 {
		return nil, corrupt(name, trOff, "footer at %d of %d bytes does not end at the trailer", fOff, fLen)
	}
	footer := make([]byte, fLen)
	if _, err := r.ReadAt(footer, int64(fOff)); err != nil {
		return nil, fmt.Errorf("segment: read footer of %s: %w", name, err)
	}
	if crc32.Checksum(footer, castagnoli) != le.Uint32(tr[12:16]) {
		return nil, corrupt(name, int64(fOff), "footer CRC mismatch")
	}
	s := &Segment{name: name, r: r, size: size, version: version}
	if err := s.parseFooter(footer, int64(fOff)); err != nil {
		return nil, err
	}
	return s, nil
}

// parseFooter decodes the meta and block table and checks their invariants
// (FORMAT.md §3.5).
func (s *Segment) parseFooter(footer []byte, fOff int64) error {
	le := binary.LittleEndian
	m := Meta{
		FirstPosition: le.Uint64(footer[0:]),
		LastPosition:  le.Uint64(footer[8:]),
		MinTime:       int64(le.Uint64(footer[16:])),
		MaxTime:       int64(le.Uint64(footer[24:])),
		FirstWALIndex: le.Uint64(footer[48:]),
		LastWALIndex:  le.Uint64(footer[56:]),
	}
	records, nblocks := le.Uint64(footer[32:]), le.Uint64(footer[40:])
	if nblocks != uint64((len(footer)-segMetaSize)/segBlockEntry) {
		return corrupt(s.name, fOff, "meta says %d blocks, footer holds %d", nblocks, (len(footer)-segMetaSize)/segBlockEntry)
	}
	if records > uint64(s.size) {
		return corrupt(s.name, fOff, "meta says %d records in %d bytes", records, s.size)
	}
	m.Records, m.Blocks = int(records), int(nblocks)
	s.blocks = make([]blockEntry, nblocks)
	next := int64(segHeaderSize)
	var total ranges
	var lastPos uint64
	for i := range s.blocks {
		e := footer[segMetaSize+i*segBlockEntry:]
		length := int64(le.Uint32(e[8:]))
		records, raw := int(le.Uint32(e[20:])), int(le.Uint32(e[12:]))
		b := blockEntry{
			Offset:        int64(le.Uint64(e[0:])),
			Records:       uint32(records),
			FirstPosition: le.Uint64(e[24:]),
			LastPosition:  le.Uint64(e[32:]),
			MinTime:       int64(le.Uint64(e[40:])),
			MaxTime:       int64(le.Uint64(e[48:])),
			raw:           uint32(raw),
			crc:           le.Uint32(e[16:]),
		}
		entryOff := fOff + int64(segMetaSize+i*segBlockEntry)
		switch {
		case b.Offset != next:
			return corrupt(s.name, entryOff, "block %d at offset %d, expected %d", i, b.Offset, next)
		case length == 0 || b.Offset+length > fOff:
			return corrupt(s.name, entryOff, "block %d of %d bytes at %d overruns the footer at %d", i, length, b.Offset, fOff)
		case records < 1 || raw > MaxBodySize || raw < records*minRecordSize:
			return corrupt(s.name, entryOff, "block %d: %d records in %d uncompressed bytes", i, records, raw)
		case b.FirstPosition > b.LastPosition || b.MinTime > b.MaxTime:
			return corrupt(s.name, entryOff, "block %d: inverted position or time range", i)
		}
		next = b.Offset + length
		if b.FirstPosition != 0 {
			if b.FirstPosition <= lastPos {
				s.unordered = true
			}
			lastPos = b.LastPosition
		}
		total.merge(ranges{records: records, firstPos: b.FirstPosition, lastPos: b.LastPosition,
			minTime: b.MinTime, maxTime: b.MaxTime, hasTime: b.MinTime != 0 || b.MaxTime != 0})
		s.blocks[i] = b
	}
	s.footerOff = fOff
	s.nblocks = len(s.blocks)
	for i := range s.blocks {
		if s.blocks[i].FirstPosition == 0 {
			for j := range s.blocks {
				if s.blocks[j].FirstPosition != 0 {
					s.evBlocks = append(s.evBlocks, uint32(j))
				}
			}
			break
		}
	}
	if next != fOff {
		return corrupt(s.name, fOff, "blocks end at %d, footer starts at %d", next, fOff)
	}
	if total.records != m.Records || total.firstPos != m.FirstPosition || total.lastPos != m.LastPosition ||
		total.minTime != m.MinTime || total.maxTime != m.MaxTime {
		return corrupt(s.name, fOff, "meta disagrees with the block table")
	}
	s.meta = m
	return nil
}

// Meta returns the segment's meta.
func (s *Segment) Meta() Meta { return s.meta }

// Blocks returns the block table, built on each call (a compact segment
// re-reads it from the footer; if that fails, its time ranges are 0).
func (s *Segment) Blocks() []BlockInfo {
	t := s
	if f, err := s.full(); err == nil {
		t = f
	}
	out := make([]BlockInfo, t.nblocks)
	for i := range out {
		b := t.entry(i)
		out[i] = BlockInfo{Offset: b.Offset, Length: t.blockLen(i),
			FirstPosition: b.FirstPosition, LastPosition: b.LastPosition,
			MinTime: b.MinTime, MaxTime: b.MaxTime, Records: int(b.Records)}
	}
	return out
}

// Size returns the size of the file in bytes.
func (s *Segment) Size() int64 { return s.size }

// Path returns the file the segment was opened from.
func (s *Segment) Path() string { return s.name }

// NumBlocks returns how many blocks the segment has.
func (s *Segment) NumBlocks() int { return s.nblocks }

// BlockFirst returns the first position in block i (0 when it holds none).
func (s *Segment) BlockFirst(i int) uint64 { return s.firstPos(i) }

// FindBlock returns the first block whose position range holds pos; false
// when no block's does. When the blocks' ranges ascend (as the engine
// writes them) it guesses the block from pos's place in the segment's
// range, which blocks of even size make right or nearly so, and searches
// from there: a look at one or two table entries instead of a binary
// search's many (each a likely cache miss in a large store). Otherwise it
// scans.
func (s *Segment) FindBlock(pos uint64) (int, bool) {
	if pos == 0 || pos < s.meta.FirstPosition || pos > s.meta.LastPosition {
		return 0, false
	}
	if s.unordered {
		for i := range s.nblocks {
			if f := s.firstPos(i); f != 0 && f <= pos && pos <= s.lastPos(i) {
				return i, true
			}
		}
		return 0, false
	}
	n := s.nblocks
	if s.evBlocks != nil {
		n = len(s.evBlocks)
	}
	idx := func(k int) int {
		if s.evBlocks != nil {
			return int(s.evBlocks[k])
		}
		return k
	}
	// The answer is the first k whose last position reaches pos; lo and hi
	// bound it (lo ≤ k ≤ hi), starting from the guess g.
	span := s.meta.LastPosition - s.meta.FirstPosition + 1
	g := int((pos - s.meta.FirstPosition) * uint64(n) / span)
	if span > 1<<32 {
		g = int(float64(pos-s.meta.FirstPosition) / float64(span) * float64(n))
	}
	g = min(max(g, 0), n-1)
	lo, hi := 0, n
	if s.lastPos(idx(g)) >= pos {
		hi = g
		if g == 0 || s.lastPos(idx(g-1)) < pos {
			lo = g
		}
	} else {
		lo = g + 1
		if lo < n && s.lastPos(idx(lo)) >= pos {
			hi = lo
		}
	}
	k := lo + sort.Search(hi-lo, func(j int) bool { return s.lastPos(idx(lo+j)) >= pos })
	if k == n || s.firstPos(idx(k)) > pos {
		return 0, false
	}
	return idx(k), true
}

// blockLen returns the compressed length of block i.
func (s *Segment) blockLen(i int) int64 {
	if i+1 < s.nblocks {
		return s.offset(i+1) - s.offset(i)
	}
	return s.footerOff - s.offset(i)
}

// ReadBlock reads, verifies (CRC, length, record count and ranges) and
// decodes block i. Record bodies alias one new buffer per call, owned by
// the caller.
func (s *Segment) ReadBlock(i int) ([]Record, error) {
	return s.readBlock(i, nil)
}

func (s *Segment) readBlock(i int, dst []Record) ([]Record, error) {
	if s.closed.Load() {
		return nil, fmt.Errorf("segment: read block of %s: %w", s.name, trove.ErrClosed)
	}
	if i < 0 || i >= s.nblocks {
		return nil, fmt.Errorf("segment: block %d of %s (%d blocks): %w", i, s.name, s.nblocks, trove.ErrNotFound)
	}
	b := s.entry(i)
	length := s.blockLen(i)
	bp := getBuf()
	defer putBuf(bp)
	comp := *bp
	if int64(cap(comp)) < length {
		comp = make([]byte, length)
	}
	comp = comp[:length]
	*bp = comp
	if _, err := s.r.ReadAt(comp, b.Offset); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, corrupt(s.name, b.Offset, "block %d: file ends inside the block", i)
		}
		return nil, fmt.Errorf("segment: read block %d of %s: %w", i, s.name, err)
	}
	if crc32.Checksum(comp, castagnoli) != b.crc {
		return nil, corrupt(s.name, b.Offset, "block %d: CRC mismatch", i)
	}
	raw, err := decodeBlock(s.version, comp, int(b.raw))
	if err != nil {
		return nil, corrupt(s.name, b.Offset, "block %d: %v", i, err)
	}
	if dst == nil {
		dst = make([]Record, 0, int(b.Records))
	}
	start := len(dst)
	dst, _, err = decodeRecords(raw, dst)
	if err != nil {
		return nil, corrupt(s.name, b.Offset, "block %d: %v", i, err)
	}
	var g ranges
	for j := start; j < len(dst); j++ {
		g.add(&dst[j])
	}
	if g.records != int(b.Records) || g.firstPos != b.FirstPosition || g.lastPos != b.LastPosition ||
		s.blocks != nil && (g.minTime != b.MinTime || g.maxTime != b.MaxTime) {
		return nil, corrupt(s.name, b.Offset, "block %d: records disagree with the block table", i)
	}
	return dst, nil
}

// Scan calls fn for every record in order and stops at the first error fn
// returns, which Scan returns as is. Bodies stay valid after fn returns.
func (s *Segment) Scan(fn func(Record) error) error {
	var recs []Record
	for i := range s.nblocks {
		var err error
		recs, err = s.readBlock(i, recs[:0])
		if err != nil {
			return err
		}
		for _, r := range recs {
			if err := fn(r); err != nil {
				return err
			}
		}
	}
	return nil
}

// Check verifies every CRC and structural invariant of the segment: what
// OpenSegment checked plus every block, against the full block table
// (re-read from the footer in a compact segment).
func (s *Segment) Check() error {
	if s.closed.Load() {
		return fmt.Errorf("segment: check %s: %w", s.name, trove.ErrClosed)
	}
	t, err := s.full()
	if err != nil {
		return err
	}
	var recs []Record
	for i := range t.nblocks {
		var err error
		if recs, err = t.readBlock(i, recs[:0]); err != nil {
			return err
		}
	}
	return nil
}

// Close closes the file. Reads after Close return errors wrapping
// trove.ErrClosed.
func (s *Segment) Close() error {
	if s.closed.Swap(true) {
		return fmt.Errorf("segment: close %s: %w", s.name, trove.ErrClosed)
	}
	if s.f != nil {
		if err := s.f.Close(); err != nil {
			return fmt.Errorf("segment: close %s: %w", s.name, err)
		}
	}
	return nil
}
