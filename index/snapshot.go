package index

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"maps"
	"slices"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/trovedb/trove"
)

// Snapshot file layout (see FORMAT.md):
//
//	magic "TRVINDEX" | version u32 | body | body length u64 | CRC-32C(body) u32
//
// The length and checksum follow the body so that the body is streamed
// into the file as it is encoded, never held in memory whole.
const (
	snapMagic   = "TRVINDEX"
	snapVersion = 5
	// snapHeadIDs is the first version whose id table holds only the ids
	// whose latest version is after the trimmed prefix; version 4 holds
	// every id, and reading one drops the others.
	snapHeadIDs = 5
	headerSize  = 8 + 4
	trailerSize = 8 + 4
	// maxSnapshot caps the body length accepted.
	maxSnapshot = 1 << 34
	// flushAt is how many encoded bytes the encoder gathers before it
	// hands them to the writer.
	flushAt = 64 << 10
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrOldSnapshot is DecodeWith's error for a snapshot of an earlier format
// version: not damage, but nothing this build reads (its owner rebuilds
// the index from the log, which writes the current version).
var ErrOldSnapshot = errors.New("index: snapshot of an earlier format version")

// Encode writes a snapshot of the index to w, with meta (the caller's own
// state, stored verbatim) inside the checksummed body. The body is streamed:
// memory use does not grow with the index. It holds the write lock while it
// writes (it first finishes the trim that TrimStep does).
func (ix *Index) Encode(w io.Writer, meta []byte) error {
	return writeSnap(w, func(e *enc) error {
		ix.mu.Lock()
		defer ix.mu.Unlock()
		if ix.st.closed {
			return errClosed
		}
		ix.st.finishTrim()
		ix.st.encode(e, ix.opts.MaxPathValues, meta)
		return nil
	})
}

// Frozen is the index's state at one moment (Index.Freeze), for a
// snapshot encoded while the index goes on changing.
type Frozen struct {
	st            state
	maxPathValues int
}

// Freeze returns the index's state now, whose Encode writes what Encode
// would have written at this moment. It copies what later writes change
// in place (the head's id table, postings, hashed postings and link maps)
// and shares what they only append to (columns, dictionaries): a fraction
// of an Encode's work, so that a writer waits for the copy and the
// snapshot is encoded and written beside it.
func (ix *Index) Freeze() (*Frozen, error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.st.closed {
		return nil, fmt.Errorf("index: freeze: %w", errClosed)
	}
	return &Frozen{st: ix.st.frozen(), maxPathValues: ix.opts.MaxPathValues}, nil
}

// Encode writes the frozen state as Index.Encode does.
func (f *Frozen) Encode(w io.Writer, meta []byte) error {
	return writeSnap(w, func(e *enc) error {
		f.st.finishTrim() // on the copy: the snapshot holds the head alone
		f.st.encode(e, f.maxPathValues, meta)
		return nil
	})
}

// frozen returns the copy Freeze describes: what encode reads, no more.
func (s *state) frozen() state {
	f := state{
		n:          s.n,
		cols:       s.cols, // readers share chunks: a change swaps in a copy
		pairs:      pairDict{list: s.pairs.list},
		schemas:    dict{names: s.schemas.names},
		produce:    dict{names: s.produce.names},
		chunkMin:   slices.Clone(s.chunkMin),
		chunkMax:   slices.Clone(s.chunkMax),
		groupMin:   slices.Clone(s.groupMin),
		groupMax:   slices.Clone(s.groupMax),
		superseded: s.superseded.Clone(),
		linkType:   make(map[string]*roaring.Bitmap, len(s.linkType)),
		anyLink:    s.anyLink.Clone(),
		terms:      make(map[string]map[string]*roaring.Bitmap, len(s.terms)),
		hot:        maps.Clone(s.hot),
		hotHead:    s.hotHead.clone(),
		// Their lists are never changed in place (appends clip first).
		added:    maps.Clone(s.added),
		incoming: maps.Clone(s.incoming),
		ownLinks: s.ownLinks, // appended to past its length only
		trimmed:  s.trimmed,
		idsLeft:  s.idsLeft,
		idsCut:   s.idsCut,
	}
	f.ids = idTable{seed: s.ids.seed, n: s.ids.n, onHeap: true}
	for i := range s.ids.subs {
		f.ids.subs[i] = subTable{slots: slices.Clone(s.ids.subs[i].slots), used: s.ids.subs[i].used}
	}
	for k, bm := range s.linkType {
		f.linkType[k] = bm.Clone()
	}
	for p, vals := range s.terms {
		m := make(map[string]*roaring.Bitmap, len(vals))
		for v, bm := range vals {
			m[v] = bm.Clone()
		}
		f.terms[p] = m
	}
	return f
}

// writeSnap writes the header, the body body encodes, and the trailer.
func writeSnap(w io.Writer, body func(*enc) error) error {
	var hdr [headerSize]byte
	copy(hdr[:], snapMagic)
	binary.LittleEndian.PutUint32(hdr[8:], snapVersion)
	if _, err := w.Write(hdr[:]); err != nil {
		return fmt.Errorf("index: write snapshot: %w", err)
	}
	crc := crc32.New(castagnoli)
	cw := &countWriter{w: w}
	bw := bufio.NewWriterSize(io.MultiWriter(crc, cw), 256<<10)
	e := &enc{out: bw, b: make([]byte, 0, 2*flushAt)}
	if err := body(e); err != nil {
		return fmt.Errorf("index: write snapshot: %w", err)
	}
	e.flush()
	if e.err == nil {
		e.err = bw.Flush()
	}
	if e.err != nil {
		return fmt.Errorf("index: write snapshot: %w", e.err)
	}
	var tr [trailerSize]byte
	binary.LittleEndian.PutUint64(tr[0:], uint64(cw.n))
	binary.LittleEndian.PutUint32(tr[8:], crc.Sum32())
	if _, err := w.Write(tr[:]); err != nil {
		return fmt.Errorf("index: write snapshot: %w", err)
	}
	return nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// enc gathers encoded bytes in b and hands them to out in pieces.
type enc struct {
	out io.Writer
	b   []byte
	err error
}

func (e *enc) u(v uint64)     { e.b = binary.AppendUvarint(e.b, v) }
func (e *enc) i(v int64)      { e.b = binary.AppendVarint(e.b, v) }
func (e *enc) u32(v uint32)   { e.b = binary.LittleEndian.AppendUint32(e.b, v) }
func (e *enc) u64(v uint64)   { e.b = binary.LittleEndian.AppendUint64(e.b, v) }
func (e *enc) bytes(v []byte) { e.u(uint64(len(v))); e.b = append(e.b, v...); e.maybeFlush() }
func (e *enc) str(v string)   { e.u(uint64(len(v))); e.b = append(e.b, v...); e.maybeFlush() }

func (e *enc) maybeFlush() {
	if len(e.b) >= flushAt {
		e.flush()
	}
}

func (e *enc) flush() {
	if e.err == nil && len(e.b) > 0 {
		_, e.err = e.out.Write(e.b)
	}
	e.b = e.b[:0]
}

func (e *enc) bitmap(bm *roaring.Bitmap) {
	e.u(bm.GetSerializedSizeInBytes())
	e.flush()
	if e.err == nil {
		_, e.err = bm.WriteTo(e.out)
	}
}

func (s *state) encode(e *enc, maxPathValues int, meta []byte) {
	e.bytes(meta)
	e.i(int64(maxPathValues))
	e.u(uint64(s.n))
	e.u(uint64(s.trimmed))
	e.u(uint64(s.cols.from))
	e.u64(s.ids.seed)
	cur := -1
	s.ids.each(func(sub int, fp, pos uint32) {
		for ; cur < sub; cur++ {
			e.u(uint64(s.ids.subs[cur+1].used))
		}
		e.u32(fp)
		e.u32(pos)
		e.maybeFlush()
	})
	for ; cur < numSubs-1; cur++ {
		e.u(uint64(s.ids.subs[cur+1].used))
	}
	for _, d := range []*dict{&s.schemas, &s.produce} {
		e.u(uint64(len(d.names)))
		for _, n := range d.names {
			e.str(n)
		}
	}
	// The columns of dropped chunks are in the segment indexes: their
	// time summaries and superseded positions are written instead.
	timeChunks := int(s.cols.from >> chunkShift)
	e.u(uint64(timeChunks))
	for c := range timeChunks {
		e.i(s.chunkMin[c])
		e.u(uint64(s.chunkMax[c] - s.chunkMin[c]))
		e.maybeFlush()
	}
	old := s.superseded.Clone()
	old.RemoveRange(uint64(s.cols.from)+1, 1<<32)
	e.bitmap(old)
	var last int64
	for pos := s.cols.from + 1; pos <= s.n; pos++ {
		c, i := at(s.cols.chunks, pos)
		p := s.pairs.list[c.pairAt(i)]
		created := c.createdAt(i)
		e.u(uint64(c.versionAt(i)))
		e.u(uint64(p.schema))
		e.u(uint64(p.producer))
		e.u(uint64(c.prevAt(i)))
		e.i(created - last)
		last = created
		e.maybeFlush()
	}
	types := sortedKeys(s.linkType)
	e.u(uint64(len(types)))
	for _, k := range types {
		e.str(k)
		e.bitmap(s.linkType[k])
	}
	// The format keeps a bitmap per link target; the index builds them from
	// the incoming links (which the snapshot also holds, below).
	targets := sortedKeys(s.incoming)
	e.u(uint64(len(targets)))
	for _, k := range targets {
		e.str(k)
		e.bitmap(s.linkTarget(k))
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
	e.u(uint64(s.hotHead.len()))
	s.hotHead.each(func(hash uint64, pos []uint32) {
		e.u64(hash)
		e.u(uint64(len(pos)))
		for _, p := range pos {
			e.u(uint64(p))
		}
		e.maybeFlush()
	})
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
	e.u(uint64(len(targets)))
	for _, t := range targets {
		e.str(t)
		e.u(uint64(len(s.incoming[t])))
		for _, r := range s.incoming[t] {
			e.u(uint64(r.Source))
			e.i(int64(r.Slot))
			e.u(uint64(r.After))
		}
	}
}

func sortedKeys64[V any](m map[uint64]V) []uint64 {
	keys := make([]uint64, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
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

func (d *dec) fixed(size int) []byte {
	if d.err != nil {
		return nil
	}
	if len(d.b)-d.off < size {
		d.fail("fixed-size field past the end")
		return nil
	}
	v := d.b[d.off : d.off+size]
	d.off += size
	return v
}

func (d *dec) u32() uint32 {
	if b := d.fixed(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (d *dec) u64() uint64 {
	if b := d.fixed(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
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

// Decode is DecodeWith without options: the decoded index answers
// queries but, holding no id text and no Options.IDAt, finds no id.
func Decode(file string, data []byte) (*Index, []byte, error) {
	return DecodeWith(file, data, Options{})
}

// DecodeWith reads a snapshot written by Encode and returns the index and
// the caller's meta. opts.IDAt is the index's id resolver (the payload
// guard is the snapshot's own); the positions it can read must then be
// declared with Readable. A damaged snapshot is a *trove.CorruptionError
// naming file (used only in the error) and the offset of the damage.
func DecodeWith(file string, data []byte, opts Options) (ix *Index, meta []byte, err error) {
	corrupt := func(off int64, format string, args ...any) error {
		return &trove.CorruptionError{File: file, Offset: off, Reason: "index: " + fmt.Sprintf(format, args...)}
	}
	if len(data) < headerSize+trailerSize {
		return nil, nil, corrupt(0, "snapshot shorter than its header and trailer")
	}
	if string(data[:8]) != snapMagic {
		return nil, nil, corrupt(0, "bad magic")
	}
	v := binary.LittleEndian.Uint32(data[8:])
	switch {
	case v >= 1 && v < 4:
		return nil, nil, fmt.Errorf("%w: %s holds version %d, this build writes %d", ErrOldSnapshot, file, v, snapVersion)
	case v != 4 && v != snapVersion:
		return nil, nil, corrupt(8, "unknown snapshot version %d", v)
	}
	trOff := len(data) - trailerSize
	n := binary.LittleEndian.Uint64(data[trOff:])
	if n > maxSnapshot || n != uint64(trOff-headerSize) {
		return nil, nil, corrupt(int64(trOff), "body length %d does not match the file", n)
	}
	body := data[headerSize:trOff]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(data[trOff+8:]) {
		return nil, nil, corrupt(int64(trOff+8), "checksum mismatch")
	}
	defer func() {
		if r := recover(); r != nil {
			if ix != nil {
				ix.Close()
			}
			ix, meta, err = nil, nil, corrupt(headerSize, "undecodable body: %v", r)
		}
	}()
	ix = New(Options{IDAt: opts.IDAt})
	meta, derr := ix.decodeBody(body, v)
	if derr != nil {
		ix.Close()
		return nil, nil, corrupt(headerSize, "%v", derr)
	}
	return ix, meta, nil
}

// decodeBody decodes a snapshot's body (FORMAT.md) section by section into
// ix and returns the caller's meta.
func (ix *Index) decodeBody(body []byte, version uint32) ([]byte, error) {
	d := &dec{b: body}
	meta := slices.Clone(d.bytes())
	ix.opts.MaxPathValues = int(d.i())
	s := &ix.st
	n64 := d.u()
	if n64 > 1<<32-1 {
		d.fail("last position past 2^32-1")
	}
	n := int(n64)
	s.trimmed = uint32(min(d.u(), 1<<32-1))
	from := d.u()
	if d.err == nil && s.trimmed > uint32(n) {
		return nil, fmt.Errorf("trimmed prefix %d past the last position %d", s.trimmed, n)
	}
	if d.err == nil && (from > uint64(s.trimmed) || from%colChunkSize != 0) {
		return nil, fmt.Errorf("dropped columns up to %d, trimmed prefix %d", from, s.trimmed)
	}
	if err := s.decodeIDs(d, n, version >= snapHeadIDs); err != nil {
		return nil, err
	}
	if err := s.decodeColumns(d, n, uint32(from)); err != nil {
		return nil, err
	}
	targets := s.decodeLinkPostings(d)
	s.decodeTerms(d)
	if err := s.decodeLinks(d); err != nil {
		return nil, err
	}
	if d.err != nil {
		return nil, d.err
	}
	if d.off != len(body) {
		return nil, fmt.Errorf("%d trailing bytes", len(body)-d.off)
	}
	if len(targets) != len(s.incoming) {
		return nil, fmt.Errorf("%d link targets, %d with incoming links", len(targets), len(s.incoming))
	}
	for _, t := range targets {
		if len(s.incoming[string(t)]) == 0 {
			return nil, fmt.Errorf("link target %q has no incoming links", t)
		}
	}
	return meta, nil
}

// decodeIDs reads the id table's seed and sub-tables, for n positions.
// With headOnly, every id's position is after the trimmed prefix;
// otherwise (version 4) the ids at or before it are dropped.
func (s *state) decodeIDs(d *dec, n int, headOnly bool) error {
	s.ids.seed = d.u64()
	for sub := range numSubs {
		k := d.count(8)
		s.ids.reserve(sub, k)
		for range k {
			fp, pos := d.u32(), d.u32()
			if d.err != nil {
				return d.err
			}
			if pos == 0 || pos > uint32(n) || headOnly && pos <= s.trimmed {
				return fmt.Errorf("id table position %d out of range", pos)
			}
			if pos > s.trimmed {
				s.ids.insert(sub, fp, pos)
			}
		}
	}
	return nil
}

// decodeColumns reads the schema and producer dictionaries and the n
// per-event columns, rebuilds the schema, producer and superseded bitmaps
// and the time chunks, and checks that the id table holds exactly each
// id's latest position.
func (s *state) decodeColumns(d *dec, n int, from uint32) error {
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
	timeChunks := d.count(2)
	if timeChunks != int(from>>chunkShift) {
		return fmt.Errorf("%d time chunks before position %d", timeChunks, from)
	}
	for range timeChunks {
		lo := d.i()
		s.chunkMin = append(s.chunkMin, lo)
		s.chunkMax = append(s.chunkMax, lo+int64(d.u()))
	}
	s.regroup()
	if old := d.bitmap(); old != nil {
		if !old.IsEmpty() && old.Maximum() > from {
			return fmt.Errorf("superseded position %d among the dropped columns' past %d", old.Maximum(), from)
		}
		s.superseded = old
	}
	if d.err != nil {
		return d.err
	}
	s.cols.skip(from)
	var last int64
	for i := int(from); i < n; i++ {
		pos := uint32(i + 1)
		ver, sn, pn, prev := d.u(), d.u(), d.u(), d.u()
		last += d.i()
		if d.err != nil {
			return d.err
		}
		if sn >= uint64(len(s.bySchema)) || pn >= uint64(len(s.byProducer)) || prev >= uint64(pos) {
			return fmt.Errorf("column out of range at position %d", pos)
		}
		s.cols.set(pos, last, uint32(ver), uint32(prev), s.pairs.num(pair{uint32(sn), uint32(pn)}))
		if pos > s.trimmed {
			s.bySchema[sn].Add(pos)
			s.byProducer[pn].Add(pos)
		}
		if prev != 0 {
			s.superseded.Add(uint32(prev))
		}
		s.chunk(pos, last)
	}
	s.n = uint32(n)
	// Every id's latest position, once: exactly the positions no later
	// version superseded.
	seen := roaring.New()
	var bad uint32
	s.ids.each(func(_ int, _, pos uint32) {
		if s.superseded.Contains(pos) || !seen.CheckedAdd(pos) {
			bad = pos
		}
	})
	if bad != 0 {
		return fmt.Errorf("id table position %d is not the latest version of one id", bad)
	}
	// Every head position is its id's latest version or superseded.
	head := s.superseded.Clone()
	head.RemoveRange(0, uint64(s.trimmed)+1)
	if seen.GetCardinality()+head.GetCardinality() != uint64(n)-uint64(s.trimmed) {
		return fmt.Errorf("id table holds %d ids for positions %d-%d, %d superseded", seen.GetCardinality(), s.trimmed+1, n, head.GetCardinality())
	}
	return nil
}

// decodeLinkPostings reads the link type postings, the link target section
// (whose targets it returns, to be checked against the incoming links) and
// the any-link bitmap.
func (s *state) decodeLinkPostings(d *dec) [][]byte {
	nlt := d.count(2)
	for range nlt {
		name := d.str()
		if bm := d.bitmap(); bm != nil {
			s.linkType[name] = bm
		}
	}
	// The link target section repeats the incoming links' sources
	// (FORMAT.md); the index keeps the incoming links alone. Its targets
	// are checked against them; its bitmaps are covered by the CRC.
	nt := d.count(2)
	targets := make([][]byte, 0, nt)
	for range nt {
		targets = append(targets, d.bytes())
		d.bytes()
	}
	if bm := d.bitmap(); bm != nil {
		s.anyLink = bm
	}
	return targets
}

// decodeTerms reads the payload term postings and the hot paths.
func (s *state) decodeTerms(d *dec) {
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
	nhh := d.count(9)
	// Added in position order, as the writer adds them, so that the
	// generations hold consecutive positions.
	type hashPos struct {
		pos  uint32
		hash uint64
	}
	all := make([]hashPos, 0, nhh) // a hash has one position or more
	for range nhh {
		hash := d.u64()
		k := d.count(1)
		for range k {
			p := d.u()
			if d.err == nil && (p <= uint64(s.trimmed) || p > uint64(s.n)) {
				d.fail("hashed posting position out of the head")
			}
			if d.err != nil {
				return
			}
			all = append(all, hashPos{uint32(p), hash})
		}
	}
	slices.SortFunc(all, func(a, b hashPos) int {
		if c := cmp.Compare(a.pos, b.pos); c != 0 {
			return c
		}
		return cmp.Compare(a.hash, b.hash)
	})
	for _, e := range all {
		s.hotHead.add(e.hash, e.pos)
	}
}

// decodeLinks reads the links added with SaveLink and the incoming links.
func (s *state) decodeLinks(d *dec) error {
	na := d.count(2)
	for range na {
		src := uint32(d.u())
		k := d.count(1)
		for range k {
			var l trove.EventLink
			if b := d.bytes(); d.err == nil {
				if err := json.Unmarshal(b, &l); err != nil {
					return fmt.Errorf("bad added link: %v", err)
				}
				s.added[src] = append(s.added[src], l)
			}
		}
	}
	ni := d.count(2)
	for range ni {
		t := d.str()
		k := d.count(2)
		refs := make([]LinkRef, 0, k)
		for range k {
			r := LinkRef{Source: uint32(d.u()), Slot: int32(d.i()), After: uint32(d.u())}
			if d.err == nil && r.Slot >= 0 && (r.Source <= s.trimmed || r.After != r.Source) {
				return fmt.Errorf("incoming link of %q from position %d: an own link in the trimmed prefix or saved after its source", t, r.Source)
			}
			refs = append(refs, r)
			if r.Slot >= 0 && d.err == nil {
				s.ownLinks = append(s.ownLinks, ownLink{src: r.Source, target: t})
			}
		}
		s.incoming[t] = refs
	}
	slices.SortStableFunc(s.ownLinks, func(a, b ownLink) int { return cmp.Compare(a.src, b.src) })
	return nil
}
