package index

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"slices"
	"unsafe"

	"github.com/trovedb/trove"
)

// An id run (IDRUN.md) is the id section of several consecutive segment
// indexes merged into one file: every event id's hash and position over
// positions First…Last, sorted by hash, with a filter of the hashes. A
// lookup of an id in the sealed log then reads one run where it would
// read each of the segments' id sections: the engine merges the id
// sections of sealed segments into runs in the background (size tiers,
// MergeIDRuns), so that the runs a lookup consults stay few while the log
// grows, and the index keeps in memory only the unsealed head's ids.

const (
	idRunMagic = "TRVIDRUN"
	// idRunVersion is the version MergeIDRuns writes: 2 records the
	// filter's bits per entry in the header. Version 1 runs (16 bits an
	// entry, the field zero) still open.
	idRunVersion    = 2
	idRunHeaderSize = 32
	idRunTrailer    = 16
	// runFilterBits is the filter size of the runs MergeIDRuns writes,
	// in bits per entry: about 1% of absent ids pass. A run's filter is
	// the part of it every save of a new id reads, so it is what a store's
	// resident memory holds of its ids; a false positive costs a save one
	// read of a window of entries (IDRun.candidates), which leaves nothing
	// resident.
	runFilterBits = 10
	// MaxIDRunEntries bounds the positions one run covers (MergeIDRuns
	// makes none larger): a run stays well under the 4 GiB a mapping of
	// the index may take.
	MaxIDRunEntries = 1 << 26
)

// idSource is a sorted (hash, position) list over positions first…last:
// a segment index's id section or an id run.
type idSource interface {
	First() uint32
	Last() uint32
	ids() (hash []uint64, pos []uint32)
	// mapping returns the memory map ids reads from, nil when the source
	// was read into memory.
	mapping() []byte
}

func (s *SegIndex) ids() ([]uint64, []uint32) { return s.idHash, s.idPos }

func (s *SegIndex) mapping() []byte {
	if s.mapped {
		return s.data
	}
	return nil
}

func (r *IDRun) mapping() []byte {
	if r.mapped {
		return r.data
	}
	return nil
}

// IDRun is an open id run: immutable, safe for concurrent use, read in
// place (memory-mapped on Linux); lookups of a mapped run read its entries
// from its file (candidates).
type IDRun struct {
	file   string
	data   []byte
	mapped bool
	// f is the file of a mapped run, which lookups read windows of
	// entries from (candidates); nil for a run held in memory.
	f           *os.File
	version     uint32
	first, last uint32
	hash        []uint64
	pos         []uint32
	filter      idFilter
	// fence holds every fenceStep-th hash, in the Go heap: a lookup
	// searches it, then one window of fenceStep entries of the mapped
	// file (a page or two), instead of touching pages all over it.
	fence []uint64
}

// fenceStep is the spacing of a run's fence: 256 hashes are 2 KiB.
const fenceStep = 256

// Version returns the run's format version (IDRUN.md).
func (r *IDRun) Version() uint32 { return r.version }

// First returns the first position the run covers.
func (r *IDRun) First() uint32 { return r.first }

// Last returns the last position the run covers.
func (r *IDRun) Last() uint32 { return r.last }

// Size returns the run's size in bytes.
func (r *IDRun) Size() int { return len(r.data) }

// Bytes returns the run's encoded bytes (read-only; valid until Close).
func (r *IDRun) Bytes() []byte { return r.data }

func (r *IDRun) ids() ([]uint64, []uint32) { return r.hash, r.pos }

// Close releases the run's memory; nothing it returned may be used
// afterwards.
func (r *IDRun) Close() error {
	var err error
	if r.mapped && r.data != nil {
		err = unmapFile(r.data)
	}
	if r.f != nil {
		if e := r.f.Close(); err == nil {
			err = e
		}
	}
	*r = IDRun{file: r.file}
	return err
}

// MergeIDRuns writes to w the id run of the given sources, which must
// cover consecutive positions (each source's First is the previous one's
// Last+1; segment indexes and runs may be mixed, in position order) and at
// most MaxIDRunEntries of them.
func MergeIDRuns(w io.Writer, srcs ...IDSourceOf) error {
	return MergeIDRunsVersion(w, idRunVersion, srcs...)
}

// MergeIDRunsVersion is MergeIDRuns writing format version 1 or 2 (a
// check compares a run of either with its sources merged again).
func MergeIDRunsVersion(w io.Writer, version uint32, srcs ...IDSourceOf) error {
	bits := uint32(runFilterBits)
	switch version {
	case 1:
		bits = filterBitsPerID
	case 2:
	default:
		return fmt.Errorf("index: id run version %d (want 1 or 2)", version)
	}
	list := make([]idSource, len(srcs))
	for i, s := range srcs {
		list[i] = s.src
	}
	return writeIDRun(w, list, version, bits)
}

// IDSourceOf is one input of MergeIDRuns (SegSource, RunSource).
type IDSourceOf struct{ src idSource }

// DropResident releases the pages of the sources' memory maps that the
// merge read (they stay in the page cache): a merge reads every entry,
// lookups read few.
func DropResident(srcs ...IDSourceOf) {
	for _, s := range srcs {
		switch x := s.src.(type) {
		case *SegIndex:
			if x.mapped && x.data != nil {
				dropResident(x.data)
			}
		case *IDRun:
			if x.mapped && x.data != nil {
				dropResident(x.data)
			}
		}
	}
}

// SegSource is the id section of a segment index, as a merge input.
func SegSource(s *SegIndex) IDSourceOf { return IDSourceOf{s} }

// RunSource is an id run, as a merge input.
func RunSource(r *IDRun) IDSourceOf { return IDSourceOf{r} }

func writeIDRun(w io.Writer, srcs []idSource, version, bits uint32) error {
	if len(srcs) == 0 {
		return fmt.Errorf("index: id run of no sources")
	}
	first, last := srcs[0].First(), srcs[len(srcs)-1].Last()
	for i := 1; i < len(srcs); i++ {
		if srcs[i].First() != srcs[i-1].Last()+1 {
			return fmt.Errorf("index: id run sources %d-%d and %d-%d are not consecutive", srcs[i-1].First(), srcs[i-1].Last(), srcs[i].First(), srcs[i].Last())
		}
	}
	n := int(last-first) + 1
	if n > MaxIDRunEntries {
		return fmt.Errorf("index: id run of %d positions, at most %d", n, MaxIDRunEntries)
	}
	filter := newFilter(n, int(bits))
	var hdr [idRunHeaderSize]byte
	copy(hdr[:], idRunMagic)
	binary.LittleEndian.PutUint32(hdr[8:], version)
	binary.LittleEndian.PutUint32(hdr[12:], first)
	binary.LittleEndian.PutUint32(hdr[16:], last)
	binary.LittleEndian.PutUint32(hdr[20:], uint32(len(filter)))
	if version > 1 {
		binary.LittleEndian.PutUint32(hdr[24:], bits)
	}
	binary.LittleEndian.PutUint32(hdr[28:], crc32.Checksum(hdr[:28], castagnoli))
	bw := bufio.NewWriterSize(w, 1<<16)
	if _, err := bw.Write(hdr[:]); err != nil {
		return err
	}
	var sums [3]uint32
	var buf [8]byte
	put := func(k int, b []byte) error {
		sums[k] = crc32.Update(sums[k], castagnoli, b)
		_, err := bw.Write(b)
		return err
	}
	// Two passes over the merge: hashes (filling the filter, written
	// last), then positions.
	if err := mergeIDs(srcs, func(h uint64, _ uint32) error {
		filter.add(h)
		binary.LittleEndian.PutUint64(buf[:], h)
		return put(0, buf[:8])
	}); err != nil {
		return err
	}
	if err := mergeIDs(srcs, func(_ uint64, p uint32) error {
		binary.LittleEndian.PutUint32(buf[:], p)
		return put(1, buf[:4])
	}); err != nil {
		return err
	}
	if n%2 == 1 {
		if err := put(1, make([]byte, 4)); err != nil {
			return err
		}
	}
	for _, v := range filter {
		binary.LittleEndian.PutUint64(buf[:], v)
		if err := put(2, buf[:8]); err != nil {
			return err
		}
	}
	var tr [idRunTrailer]byte
	for k, s := range sums {
		binary.LittleEndian.PutUint32(tr[4*k:], s)
	}
	binary.LittleEndian.PutUint32(tr[12:], crc32.Checksum(tr[:12], castagnoli))
	if _, err := bw.Write(tr[:]); err != nil {
		return err
	}
	return bw.Flush()
}

// mergeRelease is how many entries a merge reads from a mapped source
// between releases of the pages it has read: 512 KiB of hashes.
const mergeRelease = 1 << 16

// mergeCursor is a merge's place in one source.
type mergeCursor struct {
	hash []uint64
	pos  []uint32
	// m is the source's memory map (nil when it was read into memory);
	// hashAt and posAt are the offsets in m of the first hash and position;
	// n counts the entries read.
	m             []byte
	hashAt, posAt int
	n             int
}

// next moves past the current entry. Every mergeRelease entries of a
// mapped source it releases the pages read so far (dropPages): a merge
// reads each entry once, and would otherwise keep every page of its
// sources in the process's resident set until it ends.
func (c *mergeCursor) next() {
	c.hash, c.pos = c.hash[1:], c.pos[1:]
	c.n++
	if c.m != nil && (c.n%mergeRelease == 0 || len(c.hash) == 0) {
		dropPages(c.m, c.hashAt, c.hashAt+8*c.n)
		dropPages(c.m, c.posAt, c.posAt+4*c.n)
	}
}

// offsetIn returns the offset of p in m, or -1 when p is not in m.
func offsetIn(m []byte, p unsafe.Pointer) int {
	base, at := uintptr(unsafe.Pointer(unsafe.SliceData(m))), uintptr(p)
	if at < base || at >= base+uintptr(len(m)) {
		return -1
	}
	return int(at - base)
}

// mergeIDs calls fn with the sources' entries in (hash, position) order.
func mergeIDs(srcs []idSource, fn func(h uint64, pos uint32) error) error {
	cur := make([]mergeCursor, 0, len(srcs))
	for _, s := range srcs {
		h, p := s.ids()
		if len(h) == 0 {
			continue
		}
		c := mergeCursor{hash: h, pos: p}
		if m := s.mapping(); len(m) > 0 {
			c.hashAt, c.posAt = offsetIn(m, unsafe.Pointer(unsafe.SliceData(h))), offsetIn(m, unsafe.Pointer(unsafe.SliceData(p)))
			if c.hashAt >= 0 && c.posAt >= 0 {
				c.m = m
			}
		}
		cur = append(cur, c)
	}
	for len(cur) > 0 {
		// Few sources (a merge takes a handful): a linear scan for the
		// least entry beats a heap. Sources cover ascending positions,
		// so on equal hashes the earlier source's position is smaller.
		m := 0
		for i := 1; i < len(cur); i++ {
			if cur[i].hash[0] < cur[m].hash[0] {
				m = i
			}
		}
		c := &cur[m]
		if err := fn(c.hash[0], c.pos[0]); err != nil {
			return err
		}
		c.next()
		if len(c.hash) == 0 {
			cur = slices.Delete(cur, m, m+1)
		}
	}
	return nil
}

// OpenIDRun opens the id run file at path and checks it (DecodeIDRun). A
// damaged file gives a *trove.CorruptionError.
func OpenIDRun(path string) (*IDRun, error) {
	r, mapped, err := openMapped(path, "id run", nil, decodeIDRun, func(f *os.File, data []byte) (*IDRun, error) {
		return checkIDRunFile(f, path, data)
	})
	if err != nil {
		return nil, err
	}
	r.mapped = mapped
	if mapped {
		if r.f, err = os.Open(path); err != nil {
			r.Close()
			return nil, fmt.Errorf("index: id run: %w", err)
		}
		// Every lookup probes the filter, so it lives in the heap: a
		// page of the map not touched for a while may leave the page
		// cache (a host reclaiming cold file pages does that within a
		// minute), and each probe would then wait for the disk.
		// It is read from the file, which leaves the map's pages
		// untouched.
		if err = r.copyFilter(); err != nil {
			r.Close()
			return nil, err
		}
	}
	return r, nil
}

// copyFilter replaces a mapped run's filter, which reads its map, by a
// copy in the heap read from its file.
func (r *IDRun) copyFilter() error {
	off := r.filterAt()
	words := make(idFilter, len(r.filter))
	b := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(words))), 8*len(words))
	if err := r.readAt(b, off); err != nil {
		return err
	}
	var tr [idRunTrailer]byte
	if err := r.readAt(tr[:], int64(len(r.data)-idRunTrailer)); err != nil {
		return err
	}
	if crc32.Checksum(b, castagnoli) != binary.LittleEndian.Uint32(tr[8:]) {
		return &trove.CorruptionError{File: r.file, Offset: off, Reason: "index: id run: the filter changed since the run was checked"}
	}
	for i := range words {
		words[i] = binary.LittleEndian.Uint64(b[8*i:])
	}
	r.filter = words
	return nil
}

// prefetch asks the kernel to start reading the window of entries a
// lookup of h reads (its hashes and their positions), so that when their
// pages are not cached the two reads overlap instead of following each
// other. It costs a system call a lookup; r must be mapped.
func (r *IDRun) prefetch(h uint64) {
	lo, hi, ok := r.window(h)
	if !ok {
		return
	}
	willNeed(r.f, r.hashAt(lo), 8*int64(hi-lo))
	willNeed(r.f, r.posAt(lo), 4*int64(hi-lo))
}

// window returns the entries lo…hi−1 of the fence's window in which the
// entries of h end (they may begin in earlier ones); ok is false when h
// is below every hash.
func (r *IDRun) window(h uint64) (lo, hi int, ok bool) {
	a := atMost(r.fence, h)
	if a == 0 {
		return 0, 0, false
	}
	lo = (a - 1) * fenceStep
	return lo, min(lo+fenceStep, len(r.hash)), true
}

// hashAt, posAt and filterAt are the file offsets of entry i's hash, of
// its position, and of the filter (IDRUN.md, "Layout").
func (r *IDRun) hashAt(i int) int64 { return idRunHeaderSize + 8*int64(i) }
func (r *IDRun) posAt(i int) int64  { return r.hashAt(len(r.hash)) + 4*int64(i) }
func (r *IDRun) filterAt() int64    { return r.posAt(0) + int64(runPosBytes(uint64(len(r.hash)))) }

// runPosBytes is the size of the positions of n entries, padding included.
func runPosBytes(n uint64) uint64 { return (4*n + 7) &^ 7 }

// ReadIDRun is OpenIDRun reading the whole file into memory instead of
// mapping it.
func ReadIDRun(path string) (*IDRun, error) { return readWhole(path, "id run", decodeIDRun) }

// DecodeIDRun reads an id run from data, which it keeps. It checks the
// header, the trailer, each section's CRC-32C, and that the entries are
// in (hash, position) order with positions inside the run's range. Errors
// are *trove.CorruptionError naming file.
func DecodeIDRun(file string, data []byte) (*IDRun, error) { return decodeIDRun(file, data, nil) }

// inRange reports whether position p lies in the run's range.
func (r *IDRun) inRange(p uint32) bool { return p >= r.first && p <= r.last }

// follows reports whether entry (h, p) may follow entry (prevH, prevP):
// ascending by hash, then by position, and p in the run's range.
func (r *IDRun) follows(prevH uint64, prevP uint32, h uint64, p uint32) bool {
	return r.inRange(p) && (h > prevH || h == prevH && p > prevP)
}

// checkChunk is how many bytes of a section checkIDRunFile reads at a
// time.
const checkChunk = 1 << 20

// decodeIDRun is DecodeIDRun. from, when not nil, is the run decoded and
// checked from a copy of data's bytes (openMapped), or checked from its
// file (checkIDRunFile): then only the header and trailer are read and
// checked again, and the fence comes from from, so that decoding touches
// none of data's other pages.
func decodeIDRun(file string, data []byte, from *IDRun) (*IDRun, error) {
	data = aligned8(data)
	corrupt := func(off int64, format string, args ...any) error {
		return &trove.CorruptionError{File: file, Offset: off, Reason: "index: id run: " + fmt.Sprintf(format, args...)}
	}
	if len(data) < idRunHeaderSize+idRunTrailer {
		return nil, corrupt(0, "shorter than its header and trailer")
	}
	if string(data[:8]) != idRunMagic {
		return nil, corrupt(0, "bad magic")
	}
	version := binary.LittleEndian.Uint32(data[8:])
	if version != 1 && version != 2 {
		return nil, corrupt(8, "unknown version %d", version)
	}
	if crc32.Checksum(data[:28], castagnoli) != binary.LittleEndian.Uint32(data[28:]) {
		return nil, corrupt(28, "header checksum mismatch")
	}
	r := &IDRun{file: file, data: data, version: version}
	r.first = binary.LittleEndian.Uint32(data[12:])
	r.last = binary.LittleEndian.Uint32(data[16:])
	words := uint64(binary.LittleEndian.Uint32(data[20:]))
	if r.first == 0 || r.last < r.first || uint64(r.last-r.first)+1 > MaxIDRunEntries {
		return nil, corrupt(12, "bad range %d-%d", r.first, r.last)
	}
	// Version 1's field at 24 is zero, its filter 16 bits an entry;
	// version 2's gives the filter's bits an entry.
	bits := binary.LittleEndian.Uint32(data[24:])
	switch {
	case version == 1 && bits != 0:
		return nil, corrupt(24, "version 1 with %d in its zero field", bits)
	case version == 1:
		bits = filterBitsPerID
	case bits < minFilterBits || bits > maxFilterBits:
		return nil, corrupt(24, "filter of %d bits an entry (want %d to %d)", bits, minFilterBits, maxFilterBits)
	}
	n := uint64(r.last-r.first) + 1
	if words != uint64(filterWordsFor(int(n), int(bits))) {
		return nil, corrupt(20, "filter of %d words for %d entries of %d bits", words, n, bits)
	}
	posBytes := runPosBytes(n)
	want := idRunHeaderSize + 8*n + posBytes + 8*words + idRunTrailer
	if uint64(len(data)) != want {
		return nil, corrupt(0, "%d bytes, want %d for %d entries", len(data), want, n)
	}
	tr := data[len(data)-idRunTrailer:]
	trOff := int64(len(data) - idRunTrailer)
	if crc32.Checksum(tr[:12], castagnoli) != binary.LittleEndian.Uint32(tr[12:]) {
		return nil, corrupt(trOff+12, "trailer checksum mismatch")
	}
	off := uint64(idRunHeaderSize)
	secs := [3][]byte{}
	for k, size := range []uint64{8 * n, posBytes, 8 * words} {
		secs[k] = data[off : off+size]
		if from == nil {
			if crc32.Checksum(secs[k], castagnoli) != binary.LittleEndian.Uint32(tr[4*k:]) {
				return nil, corrupt(int64(off), "section %d checksum mismatch", k)
			}
		}
		off += size
	}
	r.hash = castSlice[uint64](secs[0])
	r.pos = castSlice[uint32](secs[1])[:n]
	r.filter = idFilter(castSlice[uint64](secs[2]))
	if from != nil {
		r.fence = from.fence
		return r, nil
	}
	// One pass over the entries checks their order and takes the fence.
	r.fence = make([]uint64, 0, (len(r.hash)+fenceStep-1)/fenceStep)
	for i := range r.hash {
		if i == 0 && !r.inRange(r.pos[0]) || i > 0 && !r.follows(r.hash[i-1], r.pos[i-1], r.hash[i], r.pos[i]) {
			return nil, corrupt(-1, "entries out of order at entry %d", i)
		}
		if i%fenceStep == 0 {
			r.fence = append(r.fence, r.hash[i])
		}
	}
	return r, nil
}

// candidates is idCandidates over the run's entries. A mapped run reads
// the window of entries the fence points at, and the positions of the
// entries that match, from its file: a lookup that passes the filter (an
// id saved before, or a false positive) then leaves none of the run's
// pages in the process's resident set, which the filter alone occupies.
// Saves look up ids this way (Index.sealedID).
func (r *IDRun) candidates(h uint64, last uint32, fn func(pos uint32) bool) (bool, error) {
	if r.f == nil {
		return idCandidates(r.hash, r.pos, r.fence, h, last, fn), nil
	}
	lo, hi, ok := r.window(h)
	if !ok {
		return false, nil // h is below every hash
	}
	var win [fenceStep]uint64
	if err := r.readHashes(win[:hi-lo], lo); err != nil {
		return false, err
	}
	end := lo + atMost(win[:hi-lo], h)
	start := end
	for start > lo && win[start-1-lo] == h {
		start--
	}
	for start == lo && lo > 0 {
		// Every entry of the window from its start is h: read back.
		hi, lo = lo, max(0, lo-fenceStep)
		if err := r.readHashes(win[:hi-lo], lo); err != nil {
			return false, err
		}
		for start > lo && win[start-1-lo] == h {
			start--
		}
		if start > lo {
			break
		}
	}
	if start == end {
		return false, nil
	}
	b := make([]byte, 4*(end-start))
	if err := r.readAt(b, r.posAt(start)); err != nil {
		return false, err
	}
	for k := end - start - 1; k >= 0; k-- {
		if p := binary.LittleEndian.Uint32(b[4*k:]); p <= last && fn(p) {
			return true, nil
		}
	}
	return false, nil
}

// readHashes reads the hashes of entries lo… into dst.
func (r *IDRun) readHashes(dst []uint64, lo int) error {
	b := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(dst))), 8*len(dst))
	if err := r.readAt(b, r.hashAt(lo)); err != nil {
		return err
	}
	for k := range dst {
		dst[k] = binary.LittleEndian.Uint64(b[8*k:])
	}
	return nil
}

// readAt reads len(b) bytes of the run's file at off.
func (r *IDRun) readAt(b []byte, off int64) error {
	if _, err := r.f.ReadAt(b, off); err != nil {
		if errors.Is(err, io.EOF) {
			return &trove.CorruptionError{File: r.file, Offset: off, Reason: "index: id run: the file is shorter than when it was opened"}
		}
		return fmt.Errorf("index: id run %s: %w", r.file, err)
	}
	return nil
}

// atMost returns how many of the ascending values s are ≤ h. Over a
// run's fence, the entries of h end in window atMost−1 (none when it is
// 0).
func atMost(s []uint64, h uint64) int {
	a, b := 0, len(s)
	for a < b {
		m := int(uint(a+b) >> 1)
		if s[m] <= h {
			a = m + 1
		} else {
			b = m
		}
	}
	return a
}

// idCandidates calls fn with the positions up to last of the entries of
// hash h in hash and pos (sorted by hash, then position), newest first,
// until fn returns true; it reports whether fn did. fence, when not nil,
// holds every fenceStep-th hash, from the first.
func idCandidates(hash []uint64, pos []uint32, fence []uint64, h uint64, last uint32, fn func(pos uint32) bool) bool {
	// i ends at the first entry above h: after the fence entries ≤ h,
	// inside the window the last of them starts.
	i, j := 0, len(hash)
	if fence != nil {
		a := atMost(fence, h)
		// fence[a-1] ≤ h < fence[a]: entries of h lie in windows a-1
		// (and earlier ones, when h repeats across a window's start).
		if a < len(fence) {
			j = a * fenceStep
		}
		if a > 1 {
			i = (a - 1) * fenceStep
		}
	}
	i += atMost(hash[i:j], h)
	// Entries equal to h before the window start are still found: the
	// walk below goes on backwards past it.
	for i--; i >= 0 && hash[i] == h; i-- {
		if pos[i] <= last && fn(pos[i]) {
			return true
		}
	}
	return false
}
