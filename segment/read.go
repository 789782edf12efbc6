package segment

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/klauspost/compress/s2"
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
	// version is the format version, which names the block codec; blocks
	// start at dataOff.
	version uint32
	dataOff int64
	// dict is a version 3 or 6 segment's dictionary. A compact segment
	// reads it again when a read first needs it, checked against dictCRC,
	// the CRC the open checked; dictMu serializes those reads.
	dict    atomic.Pointer[s2.Dict]
	dictCRC uint32
	dictMu  sync.Mutex
	// owner is, for a segment made by full, the segment it was made from:
	// the one Close closes.
	owner *Segment
	// The block table: blocks in full, or, in a compact segment
	// (OpenSegmentCompact), nil and table instead.
	blocks  []blockEntry
	table   *table
	nblocks int
	// evBlocks lists the blocks that hold positions, in order, when some
	// block holds none (nil when every block does); full table only.
	evBlocks  []uint32
	unordered bool // block position ranges do not ascend: FindBlock scans
	footerOff int64
	footerCRC uint32 // the trailer's CRC of the footer, checked at open
	closed    atomic.Bool
}

// OpenSegment opens a sealed segment and verifies its header, trailer,
// footer and block table (not the blocks: see Check). Damage is returned as
// a *trove.CorruptionError. The segment keeps its whole block table in
// memory (56 bytes a block); see OpenSegmentCompact.
func OpenSegment(path string) (*Segment, error) {
	return openFile(path, nil)
}

// OpenSegmentCompact is OpenSegment keeping the block table in the file:
// reads get the entries they need from the footer a group of 32 at a time
// (one pread, verified against a CRC taken at open), through a cache of
// DefaultTableCacheSize bytes of the segment's own. In memory the segment
// keeps 24 bytes per 32 blocks (28 with a packed table). See
// OpenSegmentCached to share a cache among segments.
func OpenSegmentCompact(path string) (*Segment, error) {
	return openFile(path, NewTableCache(DefaultTableCacheSize))
}

// OpenSegmentCached is OpenSegmentCompact with the table's groups kept in
// cache, which any number of segments may share: their tables then hold
// at most the cache's size in memory, however many blocks they have.
func OpenSegmentCached(path string, cache *TableCache) (*Segment, error) {
	if cache == nil {
		return nil, fmt.Errorf("segment: open %s: nil table cache: %w", path, trove.ErrInvalid)
	}
	return openFile(path, cache)
}

func openFile(path string, cache *TableCache) (*Segment, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("segment: open: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("segment: open: %w", err)
	}
	s, err := openSegment(path, f, st.Size(), cache)
	if err != nil {
		f.Close()
		return nil, err
	}
	s.f = f
	return s, nil
}

// entry returns block i's table entry and compressed length.
func (s *Segment) entry(i int) (blockEntry, int64, error) {
	if s.table == nil {
		return s.blocks[i], s.blockLen(i), nil
	}
	grp, err := s.table.group(i / groupBlocks)
	if err != nil {
		return blockEntry{}, 0, err
	}
	b, length := grp.entry(i % groupBlocks)
	return b, length, nil
}

// full returns s if it holds the full block table, else a segment over the
// same file with the table re-read from the footer.
func (s *Segment) full() (*Segment, error) {
	if s.table == nil {
		return s, nil
	}
	if s.closed.Load() {
		return nil, fmt.Errorf("segment: read table of %s: %w", s.name, trove.ErrClosed)
	}
	f, err := openSegment(s.name, s.r, s.size, nil)
	if err != nil {
		return nil, err
	}
	if f.meta != s.meta || f.version != s.version || f.dataOff != s.dataOff || f.dictCRC != s.dictCRC || f.footerCRC != s.footerCRC {
		return nil, corrupt(s.name, 0, "segment changed since it was opened")
	}
	f.owner = s
	return f, nil
}

// Full returns the segment itself when it holds its whole block table in
// memory (OpenSegment), else a view of the same file that does, with its
// dictionary, for one pass over many of its blocks: what a compact
// segment would build and keep for reads stays unbuilt, and the view's
// memory goes when the caller drops it (56 bytes a block). The view reads
// through the segment's file and fails with trove.ErrClosed once the
// segment is closed; it needs no Close of its own.
func (s *Segment) Full() (*Segment, error) { return s.full() }

// ReadMemory returns the bytes of memory a compact segment holds for its
// reads once one has needed them (0 until then): its table's summary of
// groups and its dictionary. Cached table groups are the cache's; a
// segment opened with its whole table (OpenSegment) returns 0.
func (s *Segment) ReadMemory() int64 {
	if s.table == nil {
		return 0
	}
	var n int64
	if st := s.table.st.Load(); st != nil {
		n += int64(len(st.slots))*int64(unsafe.Sizeof(groupSlot{})) + 4*int64(len(st.offs))
	}
	if s.dict.Load() != nil {
		n += s.dataOff - segHeaderSize - 8
	}
	return n
}

// isClosed reports whether the segment, or the one a view was made from,
// is closed.
func (s *Segment) isClosed() bool {
	return s.closed.Load() || s.owner != nil && s.owner.closed.Load()
}

// footerBufs holds the buffers openSegment reads footers into.
var footerBufs = sync.Pool{New: func() any { return new([]byte) }}

// openSegment reads and verifies the fixed parts of a segment held by r;
// with a cache, the segment is compact and keeps its table in the file.
func openSegment(name string, r io.ReaderAt, size int64, cache *TableCache) (*Segment, error) {
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
	case le.Uint32(hdr[8:12]) < segVersionZstd || le.Uint32(hdr[8:12]) > segVersionMax:
		return nil, corrupt(name, 0, "unsupported segment version %d", le.Uint32(hdr[8:12]))
	}
	version := le.Uint32(hdr[8:12])
	packed := packedTable(version)
	dataOff := int64(segHeaderSize)
	var dict *s2.Dict
	var dictCRC uint32
	if codecOf(version) == segVersionS2Dict {
		var err error
		if dict, dataOff, dictCRC, err = readDict(name, r, size); err != nil {
			return nil, err
		}
	}
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
	if fOff < uint64(dataOff) || fOff > uint64(trOff) || int64(fOff)+fLen != trOff ||
		fLen < segMetaSize || !packed && (fLen-segMetaSize)%segBlockEntry != 0 {
		return nil, corrupt(name, trOff, "footer at %d of %d bytes does not end at the trailer", fOff, fLen)
	}
	// With a table cache the footer is read for its checks and summary
	// only, into a reused buffer; without one, parseFooter keeps its
	// entries.
	var footer []byte
	if cache != nil {
		p := footerBufs.Get().(*[]byte)
		defer footerBufs.Put(p)
		if int64(cap(*p)) < fLen {
			*p = make([]byte, fLen)
		}
		footer = (*p)[:fLen]
	} else {
		footer = make([]byte, fLen)
	}
	if _, err := r.ReadAt(footer, int64(fOff)); err != nil {
		return nil, fmt.Errorf("segment: read footer of %s: %w", name, err)
	}
	if crc32.Checksum(footer, castagnoli) != le.Uint32(tr[12:16]) {
		return nil, corrupt(name, int64(fOff), "footer CRC mismatch")
	}
	// A packed table is unpacked into the wide layout (into a reused
	// buffer when only the checks and the summary need it).
	if packed {
		var buf *[]byte // the reused buffer; nil: the table is kept
		var dst []byte
		if cache != nil {
			buf = unpackedBufs.Get().(*[]byte)
			defer unpackedBufs.Put(buf)
			dst = *buf
		}
		wide, _, reason := unpackTable(footer, le.Uint64(footer[40:]), dst)
		if reason != "" {
			return nil, corrupt(name, int64(fOff), "%s", reason)
		}
		if buf != nil {
			*buf = wide[:0] // grown, when it was too small
		}
		footer = wide
	}
	s := &Segment{name: name, r: r, size: size, version: version, dataOff: dataOff, dictCRC: dictCRC, footerCRC: le.Uint32(tr[12:16])}
	if err := s.parseFooter(footer, int64(fOff), cache == nil, packed); err != nil {
		return nil, err
	}
	if cache == nil {
		s.dict.Store(dict)
	} else {
		// A compact segment keeps neither its table nor its dictionary
		// until a read needs them.
		s.table = newTable(name, r, int64(fOff), int(fLen), s.footerCRC, packed, s.nblocks, cache)
	}
	return s, nil
}

// readDict reads and checks a version 3 or 6 segment's dictionary section
// (FORMAT.md §3.2) and returns the dictionary, where the blocks start and
// the section's CRC.
func readDict(name string, r io.ReaderAt, size int64) (*s2.Dict, int64, uint32, error) {
	le := binary.LittleEndian
	var n [4]byte
	if _, err := r.ReadAt(n[:], segHeaderSize); err != nil {
		return nil, 0, 0, fmt.Errorf("segment: read dictionary of %s: %w", name, err)
	}
	length := int64(le.Uint32(n[:]))
	end := segHeaderSize + 8 + length
	if length < s2.MinDictSize || length > s2.MaxDictSize+binary.MaxVarintLen64 || end+segMetaSize+segTrailerLen > size {
		return nil, 0, 0, corrupt(name, segHeaderSize, "dictionary of %d bytes in a file of %d", length, size)
	}
	sec := make([]byte, 8+length)
	if _, err := r.ReadAt(sec, segHeaderSize); err != nil {
		return nil, 0, 0, fmt.Errorf("segment: read dictionary of %s: %w", name, err)
	}
	crc := le.Uint32(sec[4+length:])
	if crc32.Checksum(sec[:4+length], castagnoli) != crc {
		return nil, 0, 0, corrupt(name, segHeaderSize, "dictionary CRC mismatch")
	}
	d := s2.NewDict(sec[4 : 4+length])
	if d == nil {
		return nil, 0, 0, corrupt(name, segHeaderSize, "dictionary does not decode")
	}
	return d, end, crc, nil
}

// dictionary returns the segment's dictionary (nil for a codec without
// one), reading it again when the open did not keep it: it must be the
// section the open checked, its CRC and its end the same.
func (s *Segment) dictionary() (*s2.Dict, error) {
	if codecOf(s.version) != segVersionS2Dict {
		return nil, nil
	}
	if d := s.dict.Load(); d != nil {
		return d, nil
	}
	s.dictMu.Lock()
	defer s.dictMu.Unlock()
	if d := s.dict.Load(); d != nil {
		return d, nil
	}
	d, end, crc, err := readDict(s.name, s.r, s.size)
	if err != nil {
		return nil, err
	}
	if crc != s.dictCRC || end != s.dataOff {
		return nil, corrupt(s.name, segHeaderSize, "dictionary changed since the segment was opened")
	}
	s.dict.Store(d)
	return d, nil
}

// parseFooter decodes the meta and the wide block table (a packed one
// unpacked) and checks their invariants (FORMAT.md §3.5); it keeps the
// decoded table when keep is set. A damaged entry of a packed table is
// reported at the footer's offset, a wide one's at its own.
func (s *Segment) parseFooter(footer []byte, fOff int64, keep, packed bool) error {
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
	if keep {
		s.blocks = make([]blockEntry, nblocks)
	}
	next := s.dataOff
	var total ranges
	var lastPos uint64
	positionless := false
	for i := range m.Blocks {
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
		entryOff := fOff
		if !packed {
			entryOff += int64(segMetaSize + i*segBlockEntry)
		}
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
		} else {
			positionless = true
		}
		total.merge(ranges{records: records, firstPos: b.FirstPosition, lastPos: b.LastPosition,
			minTime: b.MinTime, maxTime: b.MaxTime, hasTime: b.MinTime != 0 || b.MaxTime != 0})
		if keep {
			s.blocks[i] = b
		}
	}
	s.footerOff = fOff
	s.nblocks = m.Blocks
	if keep && positionless {
		for j := range s.blocks {
			if s.blocks[j].FirstPosition != 0 {
				s.evBlocks = append(s.evBlocks, uint32(j))
			}
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
// re-reads the whole footer; if that fails, it reads the table group by
// group, and a group that can't be read gives zero entries).
func (s *Segment) Blocks() []BlockInfo {
	t := s
	if f, err := s.full(); err == nil {
		t = f
	}
	out := make([]BlockInfo, t.nblocks)
	for i := range out {
		b, length, err := t.entry(i)
		if err != nil {
			continue
		}
		out[i] = BlockInfo{Offset: b.Offset, Length: length,
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

// BlockFirst returns the first position in block i (0 when it holds none,
// and in a compact segment when the table group holding block i can't be
// read: ReadBlock(i) then says why).
func (s *Segment) BlockFirst(i int) uint64 {
	if s.table == nil {
		return s.blocks[i].FirstPosition
	}
	grp, err := s.table.group(i / groupBlocks)
	if err != nil {
		return 0
	}
	return grp.first(i % groupBlocks)
}

// FindBlock returns the first block whose position range holds pos; false
// when no block's does, and in a compact segment when the table group that
// would hold it can't be read (LocateBlock then says why). When the
// blocks' ranges ascend (as the engine writes them) it guesses the block
// (in a compact segment, the table group) from pos's place in the
// segment's range, which blocks of even size make right or nearly so, and
// searches from there: a look at one or two table entries instead of a
// binary search's many (each a likely cache miss in a large store).
// Otherwise it scans.
func (s *Segment) FindBlock(pos uint64) (int, bool) {
	i, ok, _ := s.LocateBlock(pos)
	return i, ok
}

// LocateBlock is FindBlock returning, besides, the error that kept it from
// reading the block table of a compact segment: a *trove.CorruptionError
// when the table group's bytes changed since the segment was opened.
func (s *Segment) LocateBlock(pos uint64) (int, bool, error) {
	if pos == 0 || pos < s.meta.FirstPosition || pos > s.meta.LastPosition {
		return 0, false, nil
	}
	if s.table != nil {
		return s.locateInTable(pos)
	}
	if s.unordered {
		for i := range s.nblocks {
			if b := &s.blocks[i]; b.FirstPosition != 0 && b.FirstPosition <= pos && pos <= b.LastPosition {
				return i, true, nil
			}
		}
		return 0, false, nil
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
	g := min(max(s.guess(pos, n), 0), n-1)
	lo, hi := 0, n
	if s.blocks[idx(g)].LastPosition >= pos {
		hi = g
		if g == 0 || s.blocks[idx(g-1)].LastPosition < pos {
			lo = g
		}
	} else {
		lo = g + 1
		if lo < n && s.blocks[idx(lo)].LastPosition >= pos {
			hi = lo
		}
	}
	k := lo + sort.Search(hi-lo, func(j int) bool { return s.blocks[idx(lo+j)].LastPosition >= pos })
	if k == n || s.blocks[idx(k)].FirstPosition > pos {
		return 0, false, nil
	}
	return idx(k), true, nil
}

// locateInTable is LocateBlock in a compact segment, pos within the
// segment's range.
func (s *Segment) locateInTable(pos uint64) (int, bool, error) {
	t := s.table
	if s.unordered {
		for g := range t.groups() {
			grp, err := t.group(g)
			if err != nil {
				return 0, false, err
			}
			for j := range grp.len() {
				if f := grp.first(j); f != 0 && f <= pos && pos <= grp.last(j) {
					return g*groupBlocks + j, true, nil
				}
			}
		}
		return 0, false, nil
	}
	// The blocks' ranges ascend: the block holding pos is the first whose
	// last position reaches it, in the first group whose hi does.
	st, err := t.state()
	if err != nil {
		return 0, false, err
	}
	g := firstReaching(st.slots, pos, s.guess(pos, t.groups()))
	if g == t.groups() {
		return 0, false, nil
	}
	grp, err := t.group(g)
	if err != nil {
		return 0, false, err
	}
	n := grp.len()
	j := 0
	if st.slots[g].flags.Load()&slotGaps != 0 {
		// Blocks without positions have a last position of 0.
		for j < n && grp.last(j) < pos {
			j++
		}
	} else {
		// Guess from pos's place in the group's range (base, hi[g]], then
		// walk: the blocks' last positions ascend.
		var base uint64
		if g > 0 {
			base = st.slots[g-1].hi
		}
		if span := st.slots[g].hi - base; span < 1<<32 {
			j = min(int((pos-base-1)*uint64(n)/span), n-1)
		} else {
			j = min(int(float64(pos-base-1)/float64(span)*float64(n)), n-1)
		}
		if grp.last(j) >= pos {
			for j > 0 && grp.last(j-1) >= pos {
				j--
			}
		} else {
			for j < n && grp.last(j) < pos {
				j++
			}
		}
	}
	if j == n || grp.first(j) > pos {
		return 0, false, nil
	}
	return g*groupBlocks + j, true, nil
}

// guess returns where among n evenly sized parts of the segment's
// position range pos falls (pos within the range).
func (s *Segment) guess(pos uint64, n int) int {
	span := s.meta.LastPosition - s.meta.FirstPosition + 1
	if span > 1<<32 {
		return int(float64(pos-s.meta.FirstPosition) / float64(span) * float64(n))
	}
	return int((pos - s.meta.FirstPosition) * uint64(n) / span)
}

// firstReaching returns the first group k whose hi reaches pos (len(a)
// when none), looking first at the guess g and its neighbours.
func firstReaching(a []groupSlot, pos uint64, g int) int {
	n := len(a)
	if n == 0 {
		return 0
	}
	g = min(max(g, 0), n-1)
	lo, hi := 0, n
	if a[g].hi >= pos {
		if g == 0 || a[g-1].hi < pos {
			return g
		}
		hi = g
	} else {
		lo = g + 1
		if lo == n || a[lo].hi >= pos {
			return lo
		}
	}
	return lo + sort.Search(hi-lo, func(j int) bool { return a[lo+j].hi >= pos })
}

// blockLen returns the compressed length of block i of a full table.
func (s *Segment) blockLen(i int) int64 {
	if i+1 < s.nblocks {
		return s.blocks[i+1].Offset - s.blocks[i].Offset
	}
	return s.footerOff - s.blocks[i].Offset
}

// ReadBlock reads, verifies (CRC, length, record count and ranges) and
// decodes block i. Record bodies alias one new buffer per call, owned by
// the caller.
func (s *Segment) ReadBlock(i int) ([]Record, error) {
	return s.readBlock(i, nil)
}

func (s *Segment) readBlock(i int, dst []Record) ([]Record, error) {
	if s.isClosed() {
		return nil, fmt.Errorf("segment: read block of %s: %w", s.name, trove.ErrClosed)
	}
	if i < 0 || i >= s.nblocks {
		return nil, fmt.Errorf("segment: block %d of %s (%d blocks): %w", i, s.name, s.nblocks, trove.ErrNotFound)
	}
	b, length, err := s.entry(i)
	if err != nil {
		return nil, err
	}
	return s.readEntry(i, &b, length, dst)
}

// readEntry reads block i, whose table entry is b and compressed length
// length, appending its records to dst.
func (s *Segment) readEntry(i int, b *blockEntry, length int64, dst []Record) ([]Record, error) {
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
	dict, err := s.dictionary()
	if err != nil {
		return nil, err
	}
	raw, err := decodeBlock(s.version, dict, comp, int(b.raw))
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
		g.minTime != b.MinTime || g.maxTime != b.MaxTime {
		return nil, corrupt(s.name, b.Offset, "block %d: records disagree with the block table", i)
	}
	return dst, nil
}

// Scan calls fn for every record in order and stops at the first error fn
// returns, which Scan returns as is. Bodies stay valid after fn returns.
// A compact segment reads its table group by group, without caching the
// groups it reads, or through a view (Full) when no read has built its
// table yet.
func (s *Segment) Scan(fn func(Record) error) error {
	var st *tableState
	if s.table != nil {
		if st = s.table.st.Load(); st == nil {
			f, err := s.full()
			if err != nil {
				return err
			}
			return f.Scan(fn)
		}
	}
	var recs []Record
	var grp *tableGroup
	for i := range s.nblocks {
		if s.isClosed() {
			return fmt.Errorf("segment: read block of %s: %w", s.name, trove.ErrClosed)
		}
		var b blockEntry
		var length int64
		if s.table == nil {
			b, length = s.blocks[i], s.blockLen(i)
		} else {
			if i%groupBlocks == 0 {
				var err error
				if grp, err = s.table.peek(st, i/groupBlocks); err != nil {
					return err
				}
			}
			b, length = grp.entry(i % groupBlocks)
		}
		var err error
		if recs, err = s.readEntry(i, &b, length, recs[:0]); err != nil {
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
	if s.isClosed() {
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
	if s.table != nil {
		s.table.cache.drop(s.table)
	}
	if s.f != nil {
		if err := s.f.Close(); err != nil {
			return fmt.Errorf("segment: close %s: %w", s.name, err)
		}
	}
	return nil
}
