package index

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/cespare/xxhash/v2"
	"github.com/trovedb/trove"
)

// A segment index is the immutable index of the events of one sealed
// segment (positions First…Last): their columns, the hashes of their ids,
// and postings of their schema, producer, links and payload terms, every
// payload path included whatever its cardinality. SEGINDEX.md documents
// the file byte by byte. SegIndexBuilder writes one; OpenSegIndex and
// DecodeSegIndex read one in place (a memory map on Linux): nothing of it
// is copied into the Go heap but its dictionaries.
//
// Postings are found by a hash of their key (64 bits up to version 2, the
// high 32 of them in version 3), so a lookup may return the positions of
// another key sharing the hash: postings are candidates, a superset of the
// true answer, which the caller verifies (package query verifies every
// candidate).

const (
	segIndexMagic = "TRVSEGIX"
	// SegIndexVersion is the version SegIndexBuilder.Encode writes:
	// version 2 adds the key filter (section 5) to version 1's sections;
	// version 3 narrows the columns to the widths their values need and
	// the key table to 8-byte entries. All three are read.
	SegIndexVersion = 3
	// maxSegIndexBytes caps a segment index (section offsets are u32).
	maxSegIndexBytes = 1<<32 - 1
)

// segSectionsOf returns the section count of a version (1, 2 or 3).
func segSectionsOf(version uint32) int { return 4 + int(min(version, 2)) }

// segHeaderSizeOf returns the header size of a file with k sections.
func segHeaderSizeOf(k int) int { return 40 + 16*k + 4 }

// The sections of a segment index, in file order.
const (
	secDict = iota
	secColumns
	secIDs
	secKeys
	secBitmaps
	secKeyFilter // version 2 on
)

// keyFilterBitsPerKey sizes a segment index's key filter: about 1% of the
// keys a segment does not hold pass it (against 0.1% for an id run's 16
// bits an id: a key that passes costs one search of the key table, an id
// that passes a run's filter a window of pages held resident).
const keyFilterBitsPerKey = 10

// Posting kinds: the first byte of a posting key's hashed bytes.
const (
	KindSchema     byte = 's'
	KindProducer   byte = 'p'
	KindLinkType   byte = 'l'
	KindAnyLink    byte = 'a'
	KindLinkTarget byte = 'g'
	KindTerm       byte = 't'
)

// postingHash is the hash a posting key is found by: XXH64 (seed 0) of
// the kind byte followed by the key (for a term: path, a zero byte, the
// value key).
func postingHash(kind byte, key, value string) uint64 {
	var d xxhash.Digest
	d.Reset()
	d.Write([]byte{kind})
	d.WriteString(key)
	if kind == KindTerm {
		d.Write([]byte{0})
		d.WriteString(value)
	}
	return d.Sum64()
}

// segIDHash is the hash of an event id in a segment index: XXH64 (seed 0).
func segIDHash(id string) uint64 { return xxhash.Sum64String(id) }

// SegIndexBuilder collects the events of one segment, in position order,
// and encodes their segment index. Its zero value is not ready: use
// NewSegIndexBuilder.
type SegIndexBuilder struct {
	first, n int
	minT     int64
	maxT     int64
	schemas  dict
	produce  dict
	created  []int64
	prev     []uint32
	version  []uint32
	schema   []uint32
	producer []uint32
	ids      []hashPos
	post     []hashPos // (posting key hash, position), one per key an event holds
	tw       TermWriter
	terms    []byte
}

// hashPos is a hash and a position: an id's or a posting key's, in 12
// bytes (a seal holds one per term of every event of the segment).
type hashPos struct {
	hi, lo, pos uint32
}

func mkHashPos(h uint64, pos uint32) hashPos { return hashPos{uint32(h >> 32), uint32(h), pos} }

func (e hashPos) hash() uint64 { return uint64(e.hi)<<32 | uint64(e.lo) }

func compareHashPos(x, y hashPos) int {
	return cmp.Or(cmp.Compare(x.hi, y.hi), cmp.Compare(x.lo, y.lo), cmp.Compare(x.pos, y.pos))
}

// sortHashPos sorts entries by hash, then position, as
// slices.SortFunc(entries, compareHashPos) does. Entries arrive in
// ascending positions (a builder adds events in order), so a stable sort
// by hash alone gives that order: four passes of a least-significant-digit
// radix sort, 16 bits each, through a scratch copy. On a segment's
// million or so entries it takes a fraction of a comparison sort's time.
// Out-of-order positions are left to the comparison sort.
func sortHashPos(entries []hashPos) {
	if len(entries) < 1<<12 || !slices.IsSortedFunc(entries, func(x, y hashPos) int { return cmp.Compare(x.pos, y.pos) }) {
		slices.SortFunc(entries, compareHashPos)
		return
	}
	src, dst := entries, make([]hashPos, len(entries))
	var count [1 << 16]int
	for shift := uint(0); shift < 64; shift += 16 {
		clear(count[:])
		for _, e := range src {
			count[uint16(e.hash()>>shift)]++
		}
		sum := 0
		for d := range count {
			sum, count[d] = sum+count[d], sum
		}
		for _, e := range src {
			d := uint16(e.hash() >> shift)
			dst[count[d]] = e
			count[d]++
		}
		src, dst = dst, src
	}
	// Four passes: the sorted entries are back in entries.
}

// NewSegIndexBuilder returns a builder for a segment whose first event is
// at position first (≥ 1).
func NewSegIndexBuilder(first uint32) *SegIndexBuilder {
	return &SegIndexBuilder{first: int(first)}
}

// Grow reserves room for n more events, about 16 payload terms each: a
// builder told the segment's size up front does not copy as it grows.
func (b *SegIndexBuilder) Grow(n int) {
	b.created = slices.Grow(b.created, n)
	b.prev = slices.Grow(b.prev, n)
	b.version = slices.Grow(b.version, n)
	b.schema = slices.Grow(b.schema, n)
	b.producer = slices.Grow(b.producer, n)
	b.ids = slices.Grow(b.ids, n)
	b.post = slices.Grow(b.post, 16*n)
}

// Add adds the event at pos, which must follow the last one added (or be
// the first position). prev is the position of the event's previous
// version (0 when it is the first): the caller's index knows it.
func (b *SegIndexBuilder) Add(pos, prev uint32, d Doc) error {
	if int(pos) != b.first+b.n {
		return fmt.Errorf("index: segment index: add position %d, want %d", pos, b.first+b.n)
	}
	if d.Version < 1 || uint64(d.Version) > 1<<32-1 {
		return fmt.Errorf("index: segment index: position %d: version %d out of range", pos, d.Version)
	}
	if b.n == 0 || d.CreatedAt < b.minT {
		b.minT = d.CreatedAt
	}
	if b.n == 0 || d.CreatedAt > b.maxT {
		b.maxT = d.CreatedAt
	}
	sn, _ := b.schemas.num(d.Schema)
	pn, _ := b.produce.num(d.Producer)
	b.created = append(b.created, d.CreatedAt)
	b.prev = append(b.prev, prev)
	b.version = append(b.version, uint32(d.Version))
	b.schema = append(b.schema, sn)
	b.producer = append(b.producer, pn)
	b.ids = append(b.ids, mkHashPos(segIDHash(d.ID), pos))
	b.add(KindSchema, d.Schema, "", pos)
	b.add(KindProducer, d.Producer, "", pos)
	for _, l := range d.Links {
		b.add(KindLinkType, l.Type, "", pos)
		b.add(KindLinkTarget, l.TargetEvent.ID, "", pos)
		b.add(KindAnyLink, "", "", pos)
	}
	terms := d.Terms
	if !d.TermsSet {
		b.terms = b.tw.Append(b.terms[:0], d.Payload)
		terms = b.terms
	}
	if err := eachTerm(terms, func(path, value []byte) { b.add(KindTerm, string(path), string(value), pos) }); err != nil {
		return fmt.Errorf("index: segment index: position %d: %w", pos, err)
	}
	b.n++
	return nil
}

func (b *SegIndexBuilder) add(kind byte, key, value string, pos uint32) {
	b.post = append(b.post, mkHashPos(postingHash(kind, key, value), pos))
}

// Len returns how many events were added.
func (b *SegIndexBuilder) Len() int { return b.n }

// Encode writes the segment index in the current version
// (SegIndexVersion). The encoding is a function of the events added alone:
// encoding the same events twice gives the same bytes.
func (b *SegIndexBuilder) Encode(w io.Writer) error {
	return b.EncodeVersion(w, SegIndexVersion)
}

// EncodeVersion writes the segment index in version 1 or 2: what a check
// of a file written by an earlier version compares it with.
func (b *SegIndexBuilder) EncodeVersion(w io.Writer, version uint32) error {
	if b.n == 0 {
		return fmt.Errorf("index: segment index: no events")
	}
	if version < 1 || version > SegIndexVersion {
		return fmt.Errorf("index: segment index: no version %d", version)
	}
	secs := make([][]byte, segSectionsOf(version))
	// dict
	var d []byte
	for _, names := range [][]string{b.schemas.names, b.produce.names} {
		d = binary.AppendUvarint(d, uint64(len(names)))
		for _, s := range names {
			d = binary.AppendUvarint(d, uint64(len(s)))
			d = append(d, s...)
		}
	}
	secs[secDict] = d
	// columns
	if version >= 3 {
		secs[secColumns] = b.columnsV3()
	} else {
		c := make([]byte, 0, b.n*24)
		for _, t := range b.created {
			c = binary.LittleEndian.AppendUint64(c, uint64(t))
		}
		for _, col := range [][]uint32{b.prev, b.version, b.schema, b.producer} {
			for _, v := range col {
				c = binary.LittleEndian.AppendUint32(c, v)
			}
		}
		secs[secColumns] = c
	}
	// ids
	ids := b.ids
	sortHashPos(ids)
	id := make([]byte, 0, b.n*12)
	for _, e := range ids {
		id = binary.LittleEndian.AppendUint64(id, e.hash())
	}
	for _, e := range ids {
		id = binary.LittleEndian.AppendUint32(id, e.pos)
	}
	secs[secIDs] = id
	// keys and bitmaps: one entry per distinct key hash (keys sharing a
	// hash share a posting, the union of theirs)
	post := b.post
	sortHashPos(post)
	post = slices.Compact(post)
	b.post = post
	if version >= 3 {
		keys, bitmaps, flt, err := keysV3(post, uint32(b.first))
		if err != nil {
			return err
		}
		secs[secKeys], secs[secBitmaps], secs[secKeyFilter] = keys, bitmaps, flt
		return writeSegIndex(w, b, version, secs)
	}
	var kb, bb bytes.Buffer
	groups := 0
	for i := range post {
		if i == 0 || post[i].hi != post[i-1].hi || post[i].lo != post[i-1].lo {
			groups++
		}
	}
	kb.Grow(16 * groups)
	var flt idFilter
	if version >= 2 {
		flt = newFilter(groups, keyFilterBitsPerKey)
	}
	var ent [16]byte
	var group []uint32
	for i := 0; i < len(post); {
		h := post[i].hash()
		if flt != nil {
			flt.add(h)
		}
		group = group[:0]
		for ; i < len(post) && post[i].hash() == h; i++ {
			group = append(group, post[i].pos)
		}
		binary.LittleEndian.PutUint64(ent[0:], h)
		if len(group) == 1 {
			binary.LittleEndian.PutUint32(ent[8:], group[0])
			binary.LittleEndian.PutUint32(ent[12:], 0)
		} else {
			off, err := appendBitmap(&bb, group)
			if err != nil {
				return err
			}
			binary.LittleEndian.PutUint32(ent[8:], uint32(off))
			binary.LittleEndian.PutUint32(ent[12:], uint32(bb.Len()-off))
		}
		kb.Write(ent[:])
	}
	secs[secKeys] = kb.Bytes()
	secs[secBitmaps] = bb.Bytes()
	if version >= 2 {
		secs[secKeyFilter] = flt.bytes()
	}
	return writeSegIndex(w, b, version, secs)
}

// writeSegIndex writes the header of b's segment index and its sections.
func writeSegIndex(w io.Writer, b *SegIndexBuilder, version uint32, secs [][]byte) error {
	hdrSize := segHeaderSizeOf(len(secs))
	hdr := make([]byte, hdrSize)
	copy(hdr, segIndexMagic)
	binary.LittleEndian.PutUint32(hdr[8:], version)
	binary.LittleEndian.PutUint32(hdr[12:], uint32(len(secs)))
	binary.LittleEndian.PutUint32(hdr[16:], uint32(b.first))
	binary.LittleEndian.PutUint32(hdr[20:], uint32(b.n))
	binary.LittleEndian.PutUint64(hdr[24:], uint64(b.minT))
	binary.LittleEndian.PutUint64(hdr[32:], uint64(b.maxT))
	off := align8(hdrSize)
	for i, s := range secs {
		if off+len(s) > maxSegIndexBytes {
			return fmt.Errorf("index: segment index larger than 4 GiB")
		}
		e := hdr[40+16*i:]
		binary.LittleEndian.PutUint32(e[0:], uint32(off))
		binary.LittleEndian.PutUint32(e[4:], uint32(len(s)))
		binary.LittleEndian.PutUint32(e[8:], crc32.Checksum(s, castagnoli))
		off = align8(off + len(s))
	}
	binary.LittleEndian.PutUint32(hdr[hdrSize-4:], crc32.Checksum(hdr[:hdrSize-4], castagnoli))
	pos := 0
	write := func(p []byte) error {
		_, err := w.Write(p)
		pos += len(p)
		return err
	}
	if err := write(hdr); err != nil {
		return err
	}
	var zero [8]byte
	for _, s := range secs {
		if err := write(zero[:align8(pos)-pos]); err != nil {
			return err
		}
		if err := write(s); err != nil {
			return err
		}
	}
	return nil
}

func align8(n int) int { return (n + 7) &^ 7 }

// appendBitmap appends the bitmap of positions to bb at the next offset
// that is a multiple of 8 (zero bytes before it) and returns that offset.
func appendBitmap(bb *bytes.Buffer, positions []uint32) (int, error) {
	bm := roaring.BitmapOf(positions...)
	bm.RunOptimize()
	for bb.Len()%8 != 0 {
		bb.WriteByte(0)
	}
	off := bb.Len()
	if _, err := bm.WriteTo(bb); err != nil {
		return 0, fmt.Errorf("index: segment index: %w", err)
	}
	return off, nil
}

// numWidth returns the bytes (1, 2 or 4) a column of numbers below n
// takes per value in version 3.
func numWidth(n int) int {
	switch {
	case n <= 1<<8:
		return 1
	case n <= 1<<16:
		return 2
	}
	return 4
}

// columnsV3 encodes the columns section of version 3: a width byte for
// each column, then the columns, each padded to a multiple of 8 bytes.
func (b *SegIndexBuilder) columnsV3() []byte {
	tw := 4
	if uint64(b.maxT-b.minT) > 1<<32-1 {
		tw = 8
	}
	pw, vw := 0, 0
	if slices.ContainsFunc(b.prev, func(p uint32) bool { return p != 0 }) {
		pw = 4
	}
	if slices.ContainsFunc(b.version, func(v uint32) bool { return v != 1 }) {
		vw = 4
	}
	sw, prw := numWidth(len(b.schemas.names)), numWidth(len(b.produce.names))
	c := make([]byte, 8, 8+b.n*(tw+pw+vw+sw+prw)+40)
	c[0], c[1], c[2], c[3], c[4] = byte(tw), byte(pw), byte(vw), byte(sw), byte(prw)
	pad := func() {
		for len(c)%8 != 0 {
			c = append(c, 0)
		}
	}
	for _, t := range b.created {
		if tw == 4 {
			c = binary.LittleEndian.AppendUint32(c, uint32(t-b.minT))
		} else {
			c = binary.LittleEndian.AppendUint64(c, uint64(t))
		}
	}
	pad()
	col := func(vals []uint32, width int) {
		for _, v := range vals {
			switch width {
			case 1:
				c = append(c, byte(v))
			case 2:
				c = binary.LittleEndian.AppendUint16(c, uint16(v))
			case 4:
				c = binary.LittleEndian.AppendUint32(c, v)
			}
		}
		pad()
	}
	col(b.prev, pw)
	col(b.version, vw)
	col(b.schema, sw)
	col(b.producer, prw)
	return c
}

// keyRefBitmap marks a version 3 key reference as a bitmap's: the rest is
// its offset in section 4 divided by 8. Without it, the reference is the
// key's one position less the segment's first.
const keyRefBitmap = 1 << 31

// filterKey32 is what a version 3 key filter holds for a 32-bit key hash:
// the hash spread over 64 bits (the filter picks a block by the high
// bits).
func filterKey32(h uint32) uint64 { return uint64(h) * 0x9e3779b97f4a7c15 }

// keysV3 encodes the key table, bitmaps and key filter sections of
// version 3 from the sorted, deduplicated (hash, position) pairs: one
// entry per distinct high 32 bits of the hashes.
func keysV3(post []hashPos, first uint32) (keys, bitmaps, filter []byte, err error) {
	groups := 0
	for i := range post {
		if i == 0 || post[i].hi != post[i-1].hi {
			groups++
		}
	}
	hashes := make([]byte, 0, 4*groups)
	refs := make([]byte, 0, 4*groups)
	flt := newFilter(groups, keyFilterBitsPerKey)
	var bb bytes.Buffer
	var group []uint32
	for i := 0; i < len(post); {
		h := post[i].hi
		flt.add(filterKey32(h))
		group = group[:0]
		for ; i < len(post) && post[i].hi == h; i++ {
			group = append(group, post[i].pos)
		}
		// Keys sharing the high bits arrive one after the other: their
		// positions are sorted and merged here.
		slices.Sort(group)
		group = slices.Compact(group)
		hashes = binary.LittleEndian.AppendUint32(hashes, h)
		if len(group) == 1 {
			refs = binary.LittleEndian.AppendUint32(refs, group[0]-first)
			continue
		}
		off, err := appendBitmap(&bb, group)
		if err != nil {
			return nil, nil, nil, err
		}
		if off/8 >= keyRefBitmap {
			return nil, nil, nil, fmt.Errorf("index: segment index: postings past 16 GiB")
		}
		refs = binary.LittleEndian.AppendUint32(refs, keyRefBitmap|uint32(off/8))
	}
	return append(hashes, refs...), bb.Bytes(), flt.bytes(), nil
}

// SegIndex is an open segment index: immutable, safe for concurrent use,
// read in place. Bitmaps it returns are read-only views of its bytes,
// valid until Close: clone what must outlive it.
type SegIndex struct {
	file       string
	data       []byte
	mapped     bool
	first, n   uint32
	minT, maxT int64
	schemas    []string
	producers  []string
	created    []int64  // nil when created32 holds the times
	created32  []uint32 // version 3: createdAt less minT
	prev       []uint32 // nil in version 3 when every prev is 0
	version    []uint32 // nil in version 3 when every version is 1
	schema     numCol
	producer   numCol
	idHash     []uint64
	idPos      []uint32
	keyData    []byte   // 16-byte entries (versions 1 and 2)
	keyHash32  []uint32 // version 3: the keys' high 32 hash bits
	keyRef     []uint32 // version 3: the keys' references
	keys       int      // entries in the key table
	bitmaps    []byte
	format     uint32   // the file's version
	keyFilter  idFilter // nil in version 1
	checks     *segChecks
}

// segChecks are the checks of the sections only lookups read: the key
// filter, and the key table with the bitmaps. Opening a segment index
// checks the header and the sections every reader needs (dictionaries,
// columns, ids); these are checked when first read (checkFilter,
// checkKeys), so that an open does not read the three quarters of the
// file that lookups may never touch.
type segChecks struct {
	filter, keys       sync.Once
	filterErr, keysErr error
	// keyFence is every keyFenceStep-th hash of a version 3 key table,
	// taken when checkKeys reads it: a lookup searches it, then one
	// window of the table, a page or two, instead of searching the whole
	// table (a page of the map a step, cold ones read from the disk).
	keyFence   []uint32
	secs       [][]byte // the sections, as the section table places them
	offs, sums []uint32 // their offsets and CRC-32Cs, from the section table
}

// withCopy calls fn with sections lo…hi (consecutive) of s. A mapped
// index reads them from its file into a reused buffer first: a check
// through the map would fault in, and leave resident, every page of
// sections that lookups touch a few pages of.
func (s *SegIndex) withCopy(lo, hi int, fn func(secs [][]byte) error) error {
	c := s.checks
	if !s.mapped {
		return fn(c.secs[lo : hi+1])
	}
	from, to := int64(c.offs[lo]), int64(c.offs[hi])+int64(len(c.secs[hi]))
	if to-from > int64(maxCheckCopy) {
		// As openMapped checks a file this large: through the map,
		// whose pages then leave the resident set.
		defer dropResident(s.data)
		return fn(c.secs[lo : hi+1])
	}
	f, err := os.Open(s.file)
	if err != nil {
		return fmt.Errorf("index: segment index: %w", err)
	}
	defer f.Close()
	buf, put := checkBuffer(int(to - from))
	defer put()
	if _, err := f.ReadAt(buf, from); err != nil {
		return fmt.Errorf("index: segment index: %w", err)
	}
	secs := make([][]byte, 0, hi-lo+1)
	for i := lo; i <= hi; i++ {
		off := int64(c.offs[i]) - from
		secs = append(secs, buf[off:off+int64(len(c.secs[i]))])
	}
	return fn(secs)
}

// checkSum checks that sec, section i's bytes, match its CRC-32C.
func (s *SegIndex) checkSum(i int, sec []byte) error {
	c := s.checks
	if crc32.Checksum(sec, castagnoli) != c.sums[i] {
		return &trove.CorruptionError{File: s.file, Offset: int64(c.offs[i]), Reason: fmt.Sprintf("index: segment index: section %d checksum mismatch", i)}
	}
	return nil
}

// checkFilter checks the key filter (version 2 on), once.
func (s *SegIndex) checkFilter() error {
	c := s.checks
	if s.format < 2 {
		return nil
	}
	c.filter.Do(func() {
		c.filterErr = s.withCopy(secKeyFilter, secKeyFilter, func(secs [][]byte) error { return s.checkSum(secKeyFilter, secs[0]) })
	})
	return c.filterErr
}

// checkKeys checks the key table and the bitmaps section, once: their
// CRC-32Cs, that key hashes strictly ascend, and that every reference
// lies inside the segment or the bitmaps section.
func (s *SegIndex) checkKeys() error {
	c := s.checks
	c.keys.Do(func() {
		c.keysErr = s.withCopy(secKeys, secBitmaps, func(secs [][]byte) error {
			for k, sec := range secs {
				if err := s.checkSum(secKeys+k, sec); err != nil {
					return err
				}
			}
			var err error
			if s.format < 3 {
				err = s.checkKeysV1(secs[0])
			} else {
				hash32 := castSlice[uint32](secs[0][:4*s.keys])
				if err = s.checkKeysV3(hash32, castSlice[uint32](secs[0][4*s.keys:])); err == nil {
					c.keyFence = make([]uint32, 0, (len(hash32)+keyFenceStep-1)/keyFenceStep)
					for i := 0; i < len(hash32); i += keyFenceStep {
						c.keyFence = append(c.keyFence, hash32[i])
					}
				}
			}
			if err != nil {
				return &trove.CorruptionError{File: s.file, Offset: -1, Reason: "index: segment index: " + err.Error()}
			}
			return nil
		})
	})
	return c.keysErr
}

// CheckSections checks what opening the index left for its first lookup:
// the CRC-32Cs of the key table, the bitmaps and the key filter, and the
// order and references of the key table. It reads those sections once;
// later calls return the first answer. A damaged section is a
// *trove.CorruptionError, which every lookup reading it also returns.
func (s *SegIndex) CheckSections() error {
	if err := s.checkFilter(); err != nil {
		return err
	}
	return s.checkKeys()
}

// numCol is a column of small numbers read in place: one, two or four
// bytes each (one slice is set).
type numCol struct {
	b []uint8
	h []uint16
	w []uint32
}

func (c numCol) at(i uint32) uint32 {
	switch {
	case c.b != nil:
		return uint32(c.b[i])
	case c.h != nil:
		return uint32(c.h[i])
	}
	return c.w[i]
}

// First returns the segment's first position.
func (s *SegIndex) First() uint32 { return s.first }

// Last returns the segment's last position.
func (s *SegIndex) Last() uint32 { return s.first + s.n - 1 }

// TimeRange returns the least and greatest createdAt (unix ms) of the
// segment's events.
func (s *SegIndex) TimeRange() (lo, hi int64) { return s.minT, s.maxT }

// Size returns the segment index's size in bytes.
func (s *SegIndex) Size() int { return len(s.data) }

// Schemas returns the segment's schema identities by segment-local number.
func (s *SegIndex) Schemas() []string { return s.schemas }

// Producers returns the segment's producers by segment-local number.
func (s *SegIndex) Producers() []string { return s.producers }

// Created returns the createdAt (unix ms) of the event at pos, which must
// be in First…Last.
func (s *SegIndex) Created(pos uint32) int64 {
	if s.created32 != nil {
		return s.minT + int64(s.created32[pos-s.first])
	}
	return s.created[pos-s.first]
}

// Prev returns the position of the previous version of the event at pos,
// 0 when it is the first.
func (s *SegIndex) Prev(pos uint32) uint32 {
	if s.prev == nil {
		return 0
	}
	return s.prev[pos-s.first]
}

// Version returns the version of the event at pos.
func (s *SegIndex) Version(pos uint32) int {
	if s.version == nil {
		return 1
	}
	return int(s.version[pos-s.first])
}

// SchemaNum returns the segment-local schema number (into Schemas) at pos.
func (s *SegIndex) SchemaNum(pos uint32) uint32 { return s.schema.at(pos - s.first) }

// ProducerNum returns the segment-local producer number (into Producers)
// at pos.
func (s *SegIndex) ProducerNum(pos uint32) uint32 { return s.producer.at(pos - s.first) }

// IDCandidates calls fn with every position of the segment whose id
// hashes as id does, ascending, until fn returns false. The caller
// verifies a candidate by reading its id.
func (s *SegIndex) IDCandidates(id string, fn func(pos uint32) bool) {
	h := segIDHash(id)
	i, _ := slices.BinarySearch(s.idHash, h)
	for ; i < len(s.idHash) && s.idHash[i] == h; i++ {
		if !fn(s.idPos[i]) {
			return
		}
	}
}

// Postings returns the positions of the segment whose key (of the given
// kind; value only for KindTerm) may be key: a superset of the positions
// holding key, nil when none. The bitmap reads the index's bytes in place:
// read it only, and not after Close.
func (s *SegIndex) Postings(kind byte, key, value string) (*roaring.Bitmap, error) {
	return s.postingsOf(postingHash(kind, key, value))
}

// postingsOf is Postings of the key whose hash is h (postingHash).
func (s *SegIndex) postingsOf(h uint64) (*roaring.Bitmap, error) { return s.lookup(h, true) }

// lookup is postingsOf; filtered false skips the key filter, for a lookup
// that a key run (KEYRUN.md), whose filter for this index holds the same
// keys, already sent here: the filter's section is then never read.
func (s *SegIndex) lookup(h uint64, filtered bool) (*roaring.Bitmap, error) {
	if filtered {
		if err := s.checkFilter(); err != nil {
			return nil, err
		}
		if !s.keyFilter.has(s.filterHash(h)) { // version 1 has none: true
			return nil, nil
		}
	}
	if err := s.checkKeys(); err != nil {
		return nil, err
	}
	if s.format >= 3 {
		i, found := s.findKey32(uint32(h >> 32))
		if !found {
			return nil, nil
		}
		return s.entry(i)
	}
	n := len(s.keyData) / 16
	i := sort.Search(n, func(i int) bool { return binary.LittleEndian.Uint64(s.keyData[16*i:]) >= h })
	if i == n || binary.LittleEndian.Uint64(s.keyData[16*i:]) != h {
		return nil, nil
	}
	return s.entry(i)
}

// keyFenceStep is how many key table entries of a version 3 segment
// index one entry of its fence (segChecks.keyFence) stands for: 1 KiB of
// the table's hashes, 4 bytes of memory.
const keyFenceStep = 256

// findKey32 is slices.BinarySearch(s.keyHash32, k) through the key
// fence (checkKeys first).
func (s *SegIndex) findKey32(k uint32) (int, bool) {
	fence := s.checks.keyFence
	w := sort.Search(len(fence), func(i int) bool { return fence[i] > k }) - 1
	if w < 0 {
		return 0, false
	}
	lo := w * keyFenceStep
	i, found := slices.BinarySearch(s.keyHash32[lo:min(lo+keyFenceStep, len(s.keyHash32))], k)
	return lo + i, found
}

// touchKeyFilters reads the key filter block that a lookup of key hash h
// probes in each of segs (both ends of it: a block may straddle two cache
// lines), so that the probes postingsOf makes next find them in the CPU's
// cache. These loads do not depend on each other, so the CPU overlaps
// their cache and TLB misses; each probe waits on the branches of the
// probe before it. Across the 121 segment indexes of 10M events, a link
// target's probes took about 24 µs of its 144.
func touchKeyFilters(segs []*SegIndex, h uint64) {
	if len(segs) < 4 {
		return
	}
	filterTouched.Store(keyFilterWords(segs, h)) // keeps the loads
}

// keyFilterWords returns the XOR of the first and last words of the key
// filter block a lookup of h probes in each of segs (those with a
// filter).
func keyFilterWords(segs []*SegIndex, h uint64) uint64 {
	var x uint64
	for _, s := range segs {
		f := s.keyFilter
		if len(f) == 0 {
			continue
		}
		b := f.block(s.filterHash(h))
		x ^= f[b] ^ f[b+filterBlockW-1]
	}
	return x
}

// filterHash is what the key filter holds of key hash h: h itself in
// version 2, its high 32 bits spread (filterKey32) in version 3.
func (s *SegIndex) filterHash(h uint64) uint64 {
	if s.format >= 3 {
		return filterKey32(uint32(h >> 32))
	}
	return h
}

// filterTouched receives what touchKeyFilters read, which nothing uses.
var filterTouched atomic.Uint64

// entry decodes key entry i's positions.
func (s *SegIndex) entry(i int) (bm *roaring.Bitmap, err error) {
	if s.format >= 3 {
		ref := s.keyRef[i]
		if ref&keyRefBitmap == 0 {
			bm = roaring.New()
			bm.Add(s.first + ref)
			return bm, nil
		}
		off := 8 * uint64(ref&^keyRefBitmap)
		if off >= uint64(len(s.bitmaps)) {
			return nil, &trove.CorruptionError{File: s.file, Offset: -1, Reason: "index: segment index: posting out of bounds"}
		}
		// The bitmap's size is in its own header.
		return decodeBitmap(s.file, s.bitmaps, uint32(off), uint32(uint64(len(s.bitmaps))-off), false, s.first, s.Last())
	}
	e := s.keyData[16*i:]
	ref, size := binary.LittleEndian.Uint32(e[8:]), binary.LittleEndian.Uint32(e[12:])
	if size == 0 {
		bm = roaring.New()
		bm.Add(ref)
		return bm, nil
	}
	return decodeBitmap(s.file, s.bitmaps, ref, size, true, s.first, s.Last())
}

// decodeBitmap decodes the bitmap at offset ref of bitmaps, of size bytes
// (exact: exactly, else at most), which must hold positions of
// first…last only.
func decodeBitmap(file string, bitmaps []byte, ref, size uint32, exact bool, first, last uint32) (bm *roaring.Bitmap, err error) {
	corrupt := func(why string) error {
		return &trove.CorruptionError{File: file, Offset: -1, Reason: "index: segment index: " + why}
	}
	if uint64(ref)+uint64(size) > uint64(len(bitmaps)) {
		return nil, corrupt("posting out of bounds")
	}
	defer func() {
		if r := recover(); r != nil {
			bm, err = nil, corrupt(fmt.Sprintf("undecodable posting: %v", r))
		}
	}()
	bm = roaring.New()
	buf := bitmaps[ref : ref+size]
	n, err := bm.FromBuffer(buf)
	if err != nil || n > int64(size) || exact && n != int64(size) {
		return nil, corrupt("undecodable posting")
	}
	if bm.IsEmpty() || bm.Minimum() < first || bm.Maximum() > last {
		return nil, corrupt("posting outside the segment")
	}
	return bm, nil
}

// Close releases the index's memory; nothing it returned may be used
// afterwards.
func (s *SegIndex) Close() error {
	var err error
	if s.mapped && s.data != nil {
		err = unmapFile(s.data)
	}
	*s = SegIndex{file: s.file}
	return err
}

// OpenSegIndex opens the segment index file at path and checks what
// every reader needs: the header, and the dictionaries, columns and ids
// as DecodeSegIndex does. The key filter, key table and bitmaps, three
// quarters of the file, are checked when a lookup first reads them (or
// by CheckSections). A damaged file gives a *trove.CorruptionError, at
// once or from the first lookup that reads the damage.
func OpenSegIndex(path string) (*SegIndex, error) {
	// At the engine's segment sizes a segment index is far smaller than
	// maxCheckCopy, and is checked on a copy; a larger one through its
	// map.
	s, mapped, err := openMapped(path, "segment index", segCheckedPrefix, decodeSegIndex, nil)
	if err == nil {
		s.mapped = mapped
	}
	return s, err
}

// ReadSegIndex is OpenSegIndex for filesystems where a memory map is
// unsafe or unsupported: it reads the whole file into memory instead.
func ReadSegIndex(path string) (*SegIndex, error) {
	return readWhole(path, "segment index", decodeSegIndex)
}

// DecodeSegIndex reads a segment index from data, which it keeps (data
// must not change while the index is used). It checks the header, every
// section's CRC-32C, and that every column, id and posting reference is
// within the segment; bitmaps are checked when first read (Postings) or by
// Verify. Errors are *trove.CorruptionError naming file.
func DecodeSegIndex(file string, data []byte) (*SegIndex, error) {
	s, err := decodeSegIndex(file, data, nil)
	if err == nil {
		err = s.CheckSections()
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// segCheckedPrefix returns how many of data's first bytes decodeSegIndex
// reads: up to the key table, whose sections and the rest are checked
// when first read. A header it cannot place gives all of data (decoding
// then fails on the header).
func segCheckedPrefix(data []byte) int {
	if len(data) < segHeaderSizeOf(segSectionsOf(1)) || string(data[:8]) != segIndexMagic {
		return len(data)
	}
	off := int(binary.LittleEndian.Uint32(data[40+16*secKeys:]))
	return min(len(data), max(off, segHeaderSizeOf(segSectionsOf(SegIndexVersion))))
}

// decodeSegIndex is DecodeSegIndex without the checks of the sections
// lookups read (segChecks): it reads only the header and the sections
// before the key table. from, when not nil, is the index decoded and
// checked from a copy of data's bytes (openMapped): then only the header
// is read and checked again, the sections are taken as they are, and the
// dictionaries come from from, so that decoding touches none of data's
// other pages.
func decodeSegIndex(file string, data []byte, from *SegIndex) (*SegIndex, error) {
	data = aligned8(data)
	corrupt := func(off int64, format string, args ...any) error {
		return &trove.CorruptionError{File: file, Offset: off, Reason: "index: segment index: " + fmt.Sprintf(format, args...)}
	}
	if len(data) < segHeaderSizeOf(segSectionsOf(1)) {
		return nil, corrupt(0, "shorter than its header")
	}
	if string(data[:8]) != segIndexMagic {
		return nil, corrupt(0, "bad magic")
	}
	version := binary.LittleEndian.Uint32(data[8:])
	if version < 1 || version > SegIndexVersion {
		return nil, corrupt(8, "unknown version %d", version)
	}
	hdrSize := segHeaderSizeOf(segSectionsOf(version))
	if len(data) < hdrSize {
		return nil, corrupt(0, "shorter than its header")
	}
	if crc32.Checksum(data[:hdrSize-4], castagnoli) != binary.LittleEndian.Uint32(data[hdrSize-4:]) {
		return nil, corrupt(int64(hdrSize-4), "header checksum mismatch")
	}
	if k := binary.LittleEndian.Uint32(data[12:]); int(k) != segSectionsOf(version) {
		return nil, corrupt(12, "%d sections, want %d", k, segSectionsOf(version))
	}
	s := &SegIndex{file: file, data: data, format: version}
	s.first = binary.LittleEndian.Uint32(data[16:])
	s.n = binary.LittleEndian.Uint32(data[20:])
	s.minT = int64(binary.LittleEndian.Uint64(data[24:]))
	s.maxT = int64(binary.LittleEndian.Uint64(data[32:]))
	if s.first == 0 || s.n == 0 || uint64(s.first)+uint64(s.n)-1 > 1<<32-1 || s.minT > s.maxT {
		return nil, corrupt(16, "bad range: first %d, %d events, time %d…%d", s.first, s.n, s.minT, s.maxT)
	}
	k := segSectionsOf(version)
	s.checks = &segChecks{secs: make([][]byte, k), offs: make([]uint32, k), sums: make([]uint32, k)}
	secs := s.checks.secs
	end := hdrSize
	for i := range secs {
		e := data[40+16*i:]
		off, size, sum := binary.LittleEndian.Uint32(e), binary.LittleEndian.Uint32(e[4:]), binary.LittleEndian.Uint32(e[8:])
		if int(off) < end || off%8 != 0 || uint64(off)+uint64(size) > uint64(len(data)) {
			return nil, corrupt(int64(40+16*i), "section %d out of place", i)
		}
		secs[i] = data[off : off+size]
		s.checks.offs[i], s.checks.sums[i] = off, sum
		if from == nil && i < secKeys {
			if err := s.checkSum(i, secs[i]); err != nil {
				return nil, err
			}
		}
		end = int(off + size)
	}
	if end != len(data) {
		return nil, corrupt(int64(end), "%d bytes after the last section", len(data)-end)
	}
	n := int(s.n)
	check := from == nil // else from was decoded, and checked, from the same bytes
	// dict
	d := secs[secDict]
	dicts := []*[]string{&s.schemas, &s.producers}
	if !check {
		s.schemas, s.producers, d, dicts = from.schemas, from.producers, nil, nil
	}
	for _, dst := range dicts {
		cnt, w := binary.Uvarint(d)
		if w <= 0 || cnt > uint64(len(d)) {
			return nil, corrupt(-1, "bad dictionary")
		}
		d = d[w:]
		list := make([]string, 0, cnt)
		for range cnt {
			l, w := binary.Uvarint(d)
			if w <= 0 || l > uint64(len(d)-w) {
				return nil, corrupt(-1, "bad dictionary entry")
			}
			list = append(list, string(d[w:w+int(l)]))
			d = d[w+int(l):]
		}
		*dst = list
	}
	if len(d) != 0 {
		return nil, corrupt(-1, "bytes after the dictionary")
	}
	// columns
	c := secs[secColumns]
	if version >= 3 {
		if err := s.columnsV3(c); err != nil {
			return nil, corrupt(-1, "%v", err)
		}
	} else {
		if len(c) != 24*n {
			return nil, corrupt(-1, "columns of %d bytes for %d events", len(c), n)
		}
		s.created = castSlice[int64](c[:8*n])
		cols := [2]*[]uint32{&s.prev, &s.version}
		for k, dst := range cols {
			*dst = castSlice[uint32](c[8*n+4*n*k : 8*n+4*n*(k+1)])
		}
		s.schema.w = castSlice[uint32](c[16*n : 20*n])
		s.producer.w = castSlice[uint32](c[20*n : 24*n])
	}
	last := s.first + s.n - 1
	for i := 0; check && i < n; i++ {
		pos := s.first + uint32(i)
		if t := s.Created(pos); s.Prev(pos) >= pos || s.Version(pos) == 0 ||
			s.SchemaNum(pos) >= uint32(len(s.schemas)) || s.ProducerNum(pos) >= uint32(len(s.producers)) ||
			t < s.minT || t > s.maxT {
			return nil, corrupt(-1, "bad column values at position %d", pos)
		}
	}
	// ids
	id := secs[secIDs]
	if len(id) != 12*n {
		return nil, corrupt(-1, "ids of %d bytes for %d events", len(id), n)
	}
	s.idHash = castSlice[uint64](id[:8*n])
	s.idPos = castSlice[uint32](id[8*n:])
	for i := 0; check && i < n; i++ {
		if s.idPos[i] < s.first || s.idPos[i] > last ||
			i > 0 && (s.idHash[i] < s.idHash[i-1] || s.idHash[i] == s.idHash[i-1] && s.idPos[i] <= s.idPos[i-1]) {
			return nil, corrupt(-1, "id table out of order at entry %d", i)
		}
	}
	// keys
	s.bitmaps = secs[secBitmaps]
	if version >= 3 {
		k := secs[secKeys]
		if len(k)%8 != 0 {
			return nil, corrupt(-1, "key table of %d bytes", len(k))
		}
		s.keys = len(k) / 8
		s.keyHash32, s.keyRef = castSlice[uint32](k[:4*s.keys]), castSlice[uint32](k[4*s.keys:])
	} else {
		s.keyData = secs[secKeys]
		if len(s.keyData)%16 != 0 {
			return nil, corrupt(-1, "key table of %d bytes", len(s.keyData))
		}
		s.keys = len(s.keyData) / 16
	}
	// key filter
	if version >= 2 {
		f := secs[secKeyFilter]
		if want := 8 * filterWordsFor(s.keys, keyFilterBitsPerKey); len(f) != want {
			return nil, corrupt(-1, "key filter of %d bytes, want %d", len(f), want)
		}
		s.keyFilter = idFilter(castSlice[uint64](f))
	}
	return s, nil
}

// checkKeysV3 checks the key table of version 3, its hashes and
// references (a copy of the section's): hashes strictly ascending,
// references inside the segment or the bitmaps section.
func (s *SegIndex) checkKeysV3(hash32, refs []uint32) error {
	for i := range refs {
		if i > 0 && hash32[i] <= hash32[i-1] {
			return fmt.Errorf("key table out of order at entry %d", i)
		}
		if ref := refs[i]; ref&keyRefBitmap == 0 && ref >= s.n || ref&keyRefBitmap != 0 && 8*uint64(ref&^keyRefBitmap) >= uint64(len(s.bitmaps)) {
			return fmt.Errorf("key entry %d out of bounds", i)
		}
	}
	return nil
}

// checkKeysV1 checks the key table of versions 1 and 2 (16-byte
// entries; a copy of the section) as checkKeysV3 does.
func (s *SegIndex) checkKeysV1(keyData []byte) error {
	last := s.Last()
	var prevHash uint64
	for i := range len(keyData) / 16 {
		e := keyData[16*i:]
		h, ref, size := binary.LittleEndian.Uint64(e), binary.LittleEndian.Uint32(e[8:]), binary.LittleEndian.Uint32(e[12:])
		if i > 0 && h <= prevHash {
			return fmt.Errorf("key table out of order at entry %d", i)
		}
		prevHash = h
		if size == 0 && (ref < s.first || ref > last) || size > 0 && (ref%8 != 0 || uint64(ref)+uint64(size) > uint64(len(s.bitmaps))) {
			return fmt.Errorf("key entry %d out of bounds", i)
		}
	}
	return nil
}

// columnsV3 reads the columns section of version 3 (SEGINDEX.md).
func (s *SegIndex) columnsV3(c []byte) error {
	n := int(s.n)
	if len(c) < 8 || c[5]|c[6]|c[7] != 0 {
		return fmt.Errorf("bad column header")
	}
	tw, pw, vw, sw, prw := int(c[0]), int(c[1]), int(c[2]), int(c[3]), int(c[4])
	if tw != 4 && tw != 8 || pw != 0 && pw != 4 || vw != 0 && vw != 4 ||
		sw != numWidth(len(s.schemas)) || prw != numWidth(len(s.producers)) ||
		tw == 4 && uint64(s.maxT-s.minT) > 1<<32-1 {
		return fmt.Errorf("bad column widths %d, %d, %d, %d, %d", tw, pw, vw, sw, prw)
	}
	want := 8
	for _, w := range []int{tw, pw, vw, sw, prw} {
		want += align8(w * n)
	}
	if len(c) != want {
		return fmt.Errorf("columns of %d bytes for %d events, want %d", len(c), n, want)
	}
	off := 8
	next := func(w int) []byte {
		b := c[off : off+w*n]
		off += align8(w * n)
		return b
	}
	if b := next(tw); tw == 4 {
		s.created32 = castSlice[uint32](b)
	} else {
		s.created = castSlice[int64](b)
	}
	s.prev = castSlice[uint32](next(pw))
	s.version = castSlice[uint32](next(vw))
	for _, col := range []struct {
		dst *numCol
		w   int
	}{{&s.schema, sw}, {&s.producer, prw}} {
		switch b := next(col.w); col.w {
		case 1:
			col.dst.b = castSlice[uint8](b)
		case 2:
			col.dst.h = castSlice[uint16](b)
		default:
			col.dst.w = castSlice[uint32](b)
		}
	}
	return nil
}

// Format returns the version of the file the index was read from.
func (s *SegIndex) Format() uint32 { return s.format }

// Verify decodes and checks every posting of the index (DecodeSegIndex
// checks them only when they are read), and that the key filter passes
// every key.
func (s *SegIndex) Verify() error {
	if err := s.CheckSections(); err != nil {
		return err
	}
	for i := range s.keys {
		var h uint64
		if s.format >= 3 {
			h = filterKey32(s.keyHash32[i])
		} else {
			h = binary.LittleEndian.Uint64(s.keyData[16*i:])
		}
		if s.keyFilter != nil && !s.keyFilter.has(h) {
			return &trove.CorruptionError{File: s.file, Offset: -1, Reason: fmt.Sprintf("index: segment index: the key filter rules out key %d", i)}
		}
		bm, err := s.entry(i)
		if err != nil {
			return err
		}
		if err := bm.Validate(); err != nil {
			return &trove.CorruptionError{File: s.file, Offset: -1, Reason: fmt.Sprintf("index: segment index: posting %d: %v", i, err)}
		}
	}
	return nil
}

// castSlice views b (8-byte aligned, a multiple of T's size) as a []T.
func castSlice[T int64 | uint64 | uint32 | uint16 | uint8](b []byte) []T {
	var z T
	if len(b) == 0 {
		return nil
	}
	return unsafe.Slice((*T)(unsafe.Pointer(&b[0])), len(b)/int(unsafe.Sizeof(z)))
}
