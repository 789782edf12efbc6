package index

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"slices"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/trovedb/trove"
)

// Snapshot file layout (see FORMAT.md):
//
//	magic "TRVINDEX" | version u32 | body length u64 | body | CRC-32C(body) u32
const (
	snapMagic   = "TRVINDEX"
	snapVersion = 1
	headerSize  = 8 + 4 + 8
	// maxSnapshot caps the body length accepted before allocating.
	maxSnapshot = 1 << 34
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Encode writes a snapshot of the index to w, with meta (the caller's own
// state, stored verbatim) inside the checksummed body.
func (ix *Index) Encode(w io.Writer, meta []byte) error {
	ix.mu.RLock()
	body := ix.encodeLocked(meta)
	ix.mu.RUnlock()
	var hdr [headerSize]byte
	copy(hdr[:], snapMagic)
	binary.LittleEndian.PutUint32(hdr[8:], snapVersion)
	binary.LittleEndian.PutUint64(hdr[12:], uint64(len(body)))
	var crc [4]byte
	binary.LittleEndian.PutUint32(crc[:], crc32.Checksum(body, castagnoli))
	for _, b := range [][]byte{hdr[:], body, crc[:]} {
		if _, err := w.Write(b); err != nil {
			return fmt.Errorf("index: write snapshot: %w", err)
		}
	}
	return nil
}

type enc struct{ b []byte }

func (e *enc) u(v uint64)     { e.b = binary.AppendUvarint(e.b, v) }
func (e *enc) i(v int64)      { e.b = binary.AppendVarint(e.b, v) }
func (e *enc) bytes(v []byte) { e.u(uint64(len(v))); e.b = append(e.b, v...) }
func (e *enc) str(v string)   { e.u(uint64(len(v))); e.b = append(e.b, v...) }
func (e *enc) bitmap(bm *roaring.Bitmap) {
	var buf bytes.Buffer
	_, _ = bm.WriteTo(&buf)
	e.bytes(buf.Bytes())
}

func (ix *Index) encodeLocked(meta []byte) []byte {
	s := &ix.st
	// Size the buffer from the previous snapshot's bytes per position, so
	// that a large snapshot is not copied over and over while it grows.
	size := 64 + int(s.n)*16
	if per := ix.encPerPos.Load(); per > 0 {
		size = max(size, int(float64(s.n)*math.Float64frombits(per)*1.05)+len(meta)+64)
	}
	e := &enc{b: make([]byte, 0, size)}
	defer func() {
		if s.n > 0 {
			ix.encPerPos.Store(math.Float64bits(float64(len(e.b)) / float64(s.n)))
		}
	}()
	e.bytes(meta)
	e.i(int64(ix.opts.MaxPathValues))
	e.u(uint64(s.n))
	e.u(uint64(s.ids.len()))
	for n := range s.ids.len() {
		e.bytes(s.ids.bytesOf(uint32(n)))
	}
	for _, d := range []*dict{&s.schemas, &s.produce} {
		e.u(uint64(len(d.names)))
		for _, n := range d.names {
			e.str(n)
		}
	}
	var last int64
	for i := range int(s.n) {
		e.u(uint64(s.idNum[i]))
		e.u(uint64(s.version[i]))
		e.u(uint64(s.schema[i]))
		e.u(uint64(s.producer[i]))
		e.u(uint64(s.prev[i]))
		e.i(s.created[i] - last)
		last = s.created[i]
	}
	for _, m := range []map[string]*roaring.Bitmap{s.linkType, s.linkTarget} {
		keys := sortedKeys(m)
		e.u(uint64(len(keys)))
		for _, k := range keys {
			e.str(k)
			e.bitmap(m[k])
		}
	}
	e.bitmap(s.anyLink)
	paths := sortedKeys(s.terms)
	e.u(uint64(len(paths)))
	for _, p := range paths {
		e.str(p)
		vals := s.terms[p]
		keys := sortedKeys(vals)
		e.u(uint64(len(keys)))
		for _, k := range keys {
			e.str(k)
			e.bitmap(vals[k])
		}
	}
	hot := sortedKeys(s.hot)
	e.u(uint64(len(hot)))
	for _, p := range hot {
		e.str(p)
	}
	srcs := sortedKeys(s.added)
	e.u(uint64(len(srcs)))
	for _, src := range srcs {
		e.u(uint64(src))
		e.u(uint64(len(s.added[src])))
		for _, l := range s.added[src] {
			b, _ := json.Marshal(l)
			e.bytes(b)
		}
	}
	targets := sortedKeys(s.incoming)
	e.u(uint64(len(targets)))
	for _, t := range targets {
		e.str(t)
		e.u(uint64(len(s.incoming[t])))
		for _, r := range s.incoming[t] {
			e.u(uint64(r.Source))
			e.i(int64(r.Slot))
		}
	}
	return e.b
}

func sortedKeys[K string | uint32, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

type dec struct {
	b   []byte
	off int
	err error
}

func (d *dec) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%s at body offset %d", what, d.off)
	}
}

func (d *dec) u() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.fail("bad uvarint")
		return 0
	}
	d.off += n
	return v
}

func (d *dec) i() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b[d.off:])
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.off += n
	return v
}

// count reads a count whose items take at least minSize bytes each.
func (d *dec) count(minSize int) int {
	v := d.u()
	if v > uint64(len(d.b)-d.off)/uint64(max(minSize, 1)) {
		d.fail("count past the end")
		return 0
	}
	return int(v)
}

func (d *dec) bytes() []byte {
	n := d.count(1)
	if d.err != nil {
		return nil
	}
	v := d.b[d.off : d.off+n]
	d.off += n
	return v
}

func (d *dec) str() string { return string(d.bytes()) }

func (d *dec) bitmap() *roaring.Bitmap {
	b := d.bytes()
	if d.err != nil {
		return nil
	}
	bm := roaring.New()
	if err := bm.UnmarshalBinary(b); err != nil {
		d.fail("bad bitmap: " + err.Error())
		return nil
	}
	return bm
}

// Decode reads a snapshot written by Encode and returns the index and the
// caller's meta. A damaged snapshot is a *trove.CorruptionError naming file
// (used only in the error) and the offset of the damage.
func Decode(file string, data []byte) (ix *Index, meta []byte, err error) {
	corrupt := func(off int64, format string, args ...any) error {
		return &trove.CorruptionError{File: file, Offset: off, Reason: "index: " + fmt.Sprintf(format, args...)}
	}
	if len(data) < headerSize+4 {
		return nil, nil, corrupt(0, "snapshot shorter than its header")
	}
	if string(data[:8]) != snapMagic {
		return nil, nil, corrupt(0, "bad magic")
	}
	if v := binary.LittleEndian.Uint32(data[8:]); v != snapVersion {
		return nil, nil, corrupt(8, "unknown snapshot version %d", v)
	}
	n := binary.LittleEndian.Uint64(data[12:])
	if n > maxSnapshot || n != uint64(len(data)-headerSize-4) {
		return nil, nil, corrupt(12, "body length %d does not match the file", n)
	}
	body := data[headerSize : headerSize+int(n)]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(data[headerSize+int(n):]) {
		return nil, nil, corrupt(int64(headerSize+n), "checksum mismatch")
	}
	defer func() {
		if r := recover(); r != nil {
			ix, meta, err = nil, nil, corrupt(headerSize, "undecodable body: %v", r)
		}
	}()
	ix, meta, derr := decodeBody(body)
	if derr != nil {
		return nil, nil, corrupt(headerSize, "%v", derr)
	}
	return ix, meta, nil
}

func decodeBody(body []byte) (*Index, []byte, error) {
	d := &dec{b: body}
	meta := slices.Clone(d.bytes())
	ix := New(Options{MaxPathValues: int(d.i())})
	s := &ix.st
	n := d.count(6)
	nids := d.count(1)
	s.ids = newIDTable(nids)
	for range nids {
		id := d.bytes()
		if _, isNew := s.ids.getOrAdd(string(id)); !isNew && d.err == nil {
			d.fail("duplicate id")
		}
	}
	s.latest = make([]uint32, nids)
	for _, dc := range []*dict{&s.schemas, &s.produce} {
		k := d.count(1)
		for range k {
			dc.num(d.str())
		}
	}
	s.bySchema = make([]*roaring.Bitmap, len(s.schemas.names))
	s.byProducer = make([]*roaring.Bitmap, len(s.produce.names))
	for i := range s.bySchema {
		s.bySchema[i] = roaring.New()
	}
	for i := range s.byProducer {
		s.byProducer[i] = roaring.New()
	}
	s.idNum = make([]uint32, 0, n)
	s.version = make([]uint32, 0, n)
	s.schema = make([]uint32, 0, n)
	s.producer = make([]uint32, 0, n)
	s.prev = make([]uint32, 0, n)
	s.created = make([]int64, 0, n)
	var last int64
	for i := range n {
		pos := uint32(i + 1)
		idn, ver, sn, pn, prev := d.u(), d.u(), d.u(), d.u(), d.u()
		last += d.i()
		if d.err != nil {
			return nil, nil, d.err
		}
		if idn >= uint64(nids) || sn >= uint64(len(s.bySchema)) || pn >= uint64(len(s.byProducer)) || prev >= uint64(pos) {
			return nil, nil, fmt.Errorf("column out of range at position %d", pos)
		}
		s.idNum = append(s.idNum, uint32(idn))
		s.version = append(s.version, uint32(ver))
		s.schema = append(s.schema, uint32(sn))
		s.producer = append(s.producer, uint32(pn))
		s.prev = append(s.prev, uint32(prev))
		s.created = append(s.created, last)
		s.bySchema[sn].Add(pos)
		s.byProducer[pn].Add(pos)
		if prev != 0 {
			s.superseded.Add(uint32(prev))
		}
		s.latest[idn] = pos
		s.chunk(pos, last)
	}
	s.n = uint32(n)
	for _, m := range []map[string]*roaring.Bitmap{s.linkType, s.linkTarget} {
		k := d.count(2)
		for range k {
			name := d.str()
			if bm := d.bitmap(); bm != nil {
				m[name] = bm
			}
		}
	}
	if bm := d.bitmap(); bm != nil {
		s.anyLink = bm
	}
	np := d.count(2)
	for range np {
		p := d.str()
		k := d.count(2)
		vals := make(map[string]*roaring.Bitmap, k)
		for range k {
			v := d.str()
			if bm := d.bitmap(); bm != nil {
				vals[v] = bm
			}
		}
		s.terms[p] = vals
	}
	nh := d.count(1)
	for range nh {
		s.hot[d.str()] = true
	}
	na := d.count(2)
	for range na {
		src := uint32(d.u())
		k := d.count(1)
		for range k {
			var l trove.EventLink
			if b := d.bytes(); d.err == nil {
				if err := json.Unmarshal(b, &l); err != nil {
					return nil, nil, fmt.Errorf("bad added link: %v", err)
				}
				s.added[src] = append(s.added[src], l)
			}
		}
	}
	nt := d.count(2)
	for range nt {
		t := d.str()
		k := d.count(2)
		refs := make([]LinkRef, 0, k)
		for range k {
			refs = append(refs, LinkRef{Source: uint32(d.u()), Slot: int32(d.i())})
		}
		s.incoming[t] = refs
	}
	if d.err != nil {
		return nil, nil, d.err
	}
	if d.off != len(body) {
		return nil, nil, fmt.Errorf("%d trailing bytes", len(body)-d.off)
	}
	return ix, meta, nil
}
