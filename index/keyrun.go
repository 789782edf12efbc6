package index

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math/bits"
	"os"
	"sync/atomic"
	"time"

	"github.com/trovedb/trove"
)

// A key run (KEYRUN.md) holds the key filters of up to MaxKeyRunSegments
// consecutive segment indexes side by side, so that a lookup of one key (a
// link target, a payload value) learns which of them may hold it from one
// page of the run instead of probing each segment's own filter: a page of
// a different file each, 121 of them at 10M events, more as the log
// grows. Every segment gets a blocked Bloom filter of the same number of
// blocks, and the run stores, for each block and each of its 512 bits, a
// row of one bit a segment: the 7 bits a key sets in its block are 7 rows
// of one block, read and ANDed into the set of segments whose filters
// hold all 7. The engine builds runs in the background (engine/keyruns.go)
// and keeps them as derived data: a lookup is exact without them.

const (
	keyRunMagic      = "TRVKEYRN"
	keyRunVersion    = 1
	keyRunHeaderSize = 32
	keyRunTrailer    = 12
	// MaxKeyRunSegments is the most segment indexes one key run covers:
	// a row is a bit a segment, at most 8 bytes.
	MaxKeyRunSegments = 64
	// keyRunBitsPerKey sizes a run's filters: blocks enough for this many
	// bits for each key of its segment with the most keys (about 1% of
	// absent keys pass a segment's filter, as with its own key filter).
	keyRunBitsPerKey = 10
	// maxKeyRunBlocks bounds a run's blocks (2^24 blocks of 8-byte rows
	// are 64 GiB): a header asking for more is damage.
	maxKeyRunBlocks = 1 << 24
	// keyRunChunk is how many bytes of rows WriteKeyRun builds at a time:
	// a run of 64 large segments is tens of megabytes of rows, built in
	// passes over the segments' keys rather than held whole.
	keyRunChunk = 8 << 20
)

// KeyRun is a key run, decoded. It is safe for concurrent use.
type KeyRun struct {
	file        string
	data        []byte // the file: a map (mapped) or a copy
	mapped      bool
	first, last uint32
	firsts      []uint32 // each segment's first position (heap)
	blocks      uint64
	w           int    // bytes a row
	all         uint64 // a bit for each segment
	rows        []byte
	warmed      atomic.Int64 // unix nanoseconds of the last warm
}

// keyRunWarmEvery is how often a lookup asks the kernel to read a mapped
// run's pages that are not in the page cache (warm). A run is small (a
// hundredth of the store) and every key lookup reads one page of it, at
// random: once its pages have left the page cache (a host that reclaims
// file pages nobody has touched for a minute does that to a store left
// idle), each of thousands of lookups would wait for the disk on its first
// touch of a page. Reading the run again in one stream costs one read of
// its size, and nothing while its pages stay cached.
const keyRunWarmEvery = 20 * time.Second

// warm reads the run's pages ahead when no lookup has done so for
// keyRunWarmEvery.
func (r *KeyRun) warm() {
	if !r.mapped {
		return
	}
	now := time.Now().UnixNano()
	last := r.warmed.Load()
	if now-last < int64(keyRunWarmEvery) || !r.warmed.CompareAndSwap(last, now) {
		return
	}
	willNeedMap(r.data)
}

// keyRunRowBytes is the width of the rows of a run of n segments.
func keyRunRowBytes(n int) int { return (n + 7) / 8 }

// keyRunBlocks is the block count of a run whose largest segment index
// holds k keys.
func keyRunBlocks(k int) uint64 {
	return uint64(max(1, (k*keyRunBitsPerKey+filterBlockBits-1)/filterBlockBits))
}

// First and Last return the positions the run covers.
func (r *KeyRun) First() uint32 { return r.first }
func (r *KeyRun) Last() uint32  { return r.last }

// Segments returns how many segment indexes the run covers.
func (r *KeyRun) Segments() int { return len(r.firsts) }

// SegmentFirst returns the first position of the run's segment i.
func (r *KeyRun) SegmentFirst(i int) uint32 { return r.firsts[i] }

// Size returns the run's size in bytes.
func (r *KeyRun) Size() int { return len(r.data) }

// Close releases the run's map. The run must not be used after.
func (r *KeyRun) Close() error {
	data := r.data
	r.data, r.rows = nil, nil
	if r.mapped && data != nil {
		return unmapFile(data)
	}
	return nil
}

// DropResident releases the pages of the run's map that lookups
// touched (they stay in the page cache).
func (r *KeyRun) DropResident() {
	if r.mapped && r.data != nil {
		dropResident(r.data)
	}
}

// keyRunHash is what a run's filters hold of key hash h (postingHash):
// its high 32 bits, spread as a version 3 key filter spreads them, so that
// a run holds the keys of segment indexes of every version alike.
func keyRunHash(h uint64) uint64 { return filterKey32(uint32(h >> 32)) }

// Candidates returns the segments of the run whose filters may hold the
// key of hash h (postingHash), bit i for segment i; a segment whose bit
// is clear certainly does not hold it.
func (r *KeyRun) Candidates(h uint64) uint64 {
	r.warm()
	g := keyRunHash(h)
	blk, _ := bits.Mul64(g, r.blocks)
	base := int(blk) * filterBlockBits * r.w
	x := bitsOf(g)
	m := r.all
	for range filterProbes {
		m &= r.row(base + int(x&(filterBlockBits-1))*r.w)
		if m == 0 {
			return 0
		}
		x >>= 9
	}
	return m
}

// row reads the row at off.
func (r *KeyRun) row(off int) uint64 {
	if r.w == 8 {
		return binary.LittleEndian.Uint64(r.rows[off:])
	}
	var v uint64
	for i := r.w - 1; i >= 0; i-- {
		v = v<<8 | uint64(r.rows[off+i])
	}
	return v
}

// keyHashes calls fn with the high 32 bits of each key hash of s's key
// table, checking the table first. A mapped index reads the table from its
// file into a reused buffer (withCopy): a build of a run reads the tables
// of 64 segment indexes several times, and through their maps every page
// of them would stay resident until dropped.
func (s *SegIndex) keyHashes(fn func(h32 uint32)) error {
	if err := s.checkKeys(); err != nil {
		return err
	}
	return s.withCopy(secKeys, secKeys, func(secs [][]byte) error {
		sec := secs[0]
		if s.format >= 3 {
			for _, h := range castSlice[uint32](sec[:4*s.keys]) {
				fn(h)
			}
			return nil
		}
		for i := 0; i+16 <= len(sec); i += 16 {
			fn(uint32(binary.LittleEndian.Uint64(sec[i:]) >> 32))
		}
		return nil
	})
}

// keyCount returns how many entries s's key table has.
func (s *SegIndex) keyCount() int {
	if s.format >= 3 {
		return s.keys
	}
	return len(s.keyData) / 16
}

// WriteKeyRun writes the key run of segs to w: consecutive segment
// indexes (each starting where the one before ends), 1 to
// MaxKeyRunSegments of them. It reads their key tables (checking them),
// once for each keyRunChunk bytes of rows.
func WriteKeyRun(w io.Writer, segs []*SegIndex) error {
	n := len(segs)
	if n == 0 || n > MaxKeyRunSegments {
		return fmt.Errorf("index: key run of %d segment indexes (want 1 to %d): %w", n, MaxKeyRunSegments, trove.ErrInvalid)
	}
	kmax := 0
	for i, s := range segs {
		if i > 0 && s.First() != segs[i-1].Last()+1 {
			return fmt.Errorf("index: key run: segment index %d starts at %d, the one before ends at %d: %w", i, s.First(), segs[i-1].Last(), trove.ErrInvalid)
		}
		kmax = max(kmax, s.keyCount())
	}
	blocks := keyRunBlocks(kmax)
	if blocks > maxKeyRunBlocks {
		return fmt.Errorf("index: key run: %d keys in one segment index: %w", kmax, trove.ErrInvalid)
	}
	rw := keyRunRowBytes(n)
	bw := bufio.NewWriterSize(w, 1<<16)
	hdr := make([]byte, keyRunHeaderSize)
	copy(hdr, keyRunMagic)
	binary.LittleEndian.PutUint32(hdr[8:], keyRunVersion)
	binary.LittleEndian.PutUint32(hdr[12:], segs[0].First())
	binary.LittleEndian.PutUint32(hdr[16:], segs[n-1].Last())
	binary.LittleEndian.PutUint32(hdr[20:], uint32(n))
	binary.LittleEndian.PutUint32(hdr[24:], uint32(blocks))
	binary.LittleEndian.PutUint32(hdr[28:], crc32.Checksum(hdr[:28], castagnoli))
	if _, err := bw.Write(hdr); err != nil {
		return err
	}
	firsts := make([]byte, align8(4*n))
	for i, s := range segs {
		binary.LittleEndian.PutUint32(firsts[4*i:], s.First())
	}
	if _, err := bw.Write(firsts); err != nil {
		return err
	}
	blockBytes := uint64(filterBlockBits * rw)
	per := max(1, keyRunChunk/blockBytes) // blocks a pass
	buf := make([]byte, min(per, blocks)*blockBytes)
	var sum uint32
	for lo := uint64(0); lo < blocks; lo += per {
		hi := min(lo+per, blocks)
		chunk := buf[:(hi-lo)*blockBytes]
		clear(chunk)
		for i, s := range segs {
			byteOff, bit := i/8, byte(1)<<(i%8)
			err := s.keyHashes(func(h32 uint32) {
				g := filterKey32(h32)
				blk, _ := bits.Mul64(g, blocks)
				if blk < lo || blk >= hi {
					return
				}
				base := int(blk-lo) * filterBlockBits * rw
				x := bitsOf(g)
				for range filterProbes {
					chunk[base+int(x&(filterBlockBits-1))*rw+byteOff] |= bit
					x >>= 9
				}
			})
			if err != nil {
				return err
			}
		}
		sum = crc32.Update(sum, castagnoli, chunk)
		if _, err := bw.Write(chunk); err != nil {
			return err
		}
	}
	var tr [keyRunTrailer]byte
	binary.LittleEndian.PutUint32(tr[0:], crc32.Checksum(firsts, castagnoli))
	binary.LittleEndian.PutUint32(tr[4:], sum)
	binary.LittleEndian.PutUint32(tr[8:], crc32.Checksum(tr[:8], castagnoli))
	if _, err := bw.Write(tr[:]); err != nil {
		return err
	}
	return bw.Flush()
}

// OpenKeyRun opens the key run file at path, memory-mapped where the
// platform allows (else read into memory), checking it whole as
// DecodeKeyRun does. A mapped run is checked from its file with pread, a
// mebibyte at a time: the check touches no page of the map but the
// header's and the trailer's, and holds no copy of the run.
func OpenKeyRun(path string) (*KeyRun, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("index: key run: %w", err)
	}
	defer f.Close()
	data, mapped, err := mapFile(f)
	if err != nil {
		return nil, fmt.Errorf("index: key run: %w", err)
	}
	if !mapped {
		return decodeKeyRun(path, data, nil)
	}
	r, err := checkKeyRunFile(f, path, data)
	dropResident(data)
	if err != nil {
		_ = unmapFile(data)
		return nil, err
	}
	r.mapped = true
	return r, nil
}

// checkKeyRunFile decodes the key run file f, mapped as data, checking
// its sections from the file.
func checkKeyRunFile(f *os.File, file string, data []byte) (*KeyRun, error) {
	r, err := decodeKeyRun(file, data, &KeyRun{}) // header, sizes, trailer
	if err != nil {
		return nil, err
	}
	buf, put := checkBuffer(checkChunk)
	defer put()
	tr := data[len(data)-keyRunTrailer:]
	firstsSize := len(data) - keyRunHeaderSize - len(r.rows) - keyRunTrailer
	firsts := buf[:firstsSize]
	if _, err := f.ReadAt(firsts, keyRunHeaderSize); err != nil {
		return nil, fmt.Errorf("index: key run: %w", err)
	}
	if err := r.setFirsts(firsts, binary.LittleEndian.Uint32(tr[0:])); err != nil {
		return nil, err
	}
	var sum uint32
	for off := 0; off < len(r.rows); off += len(buf) {
		chunk := buf[:min(len(buf), len(r.rows)-off)]
		if _, err := f.ReadAt(chunk, int64(keyRunHeaderSize+firstsSize+off)); err != nil {
			return nil, fmt.Errorf("index: key run: %w", err)
		}
		sum = crc32.Update(sum, castagnoli, chunk)
	}
	if sum != binary.LittleEndian.Uint32(tr[4:]) {
		return nil, r.corrupt(int64(keyRunHeaderSize+firstsSize), "rows checksum mismatch")
	}
	return r, nil
}

// ReadKeyRun reads the key run file at path into memory and decodes it.
func ReadKeyRun(path string) (*KeyRun, error) { return readWhole(path, "key run", decodeKeyRun) }

// DecodeKeyRun reads a key run from data, which it keeps. It checks the
// header, the sizes, the trailer and each section's CRC-32C, and that the
// segments' first positions ascend inside the run's range. Errors are
// *trove.CorruptionError naming file.
func DecodeKeyRun(file string, data []byte) (*KeyRun, error) { return decodeKeyRun(file, data, nil) }

// decodeKeyRun is DecodeKeyRun. from, when not nil, stands for checks
// made elsewhere: then only the header, the sizes and the trailer are
// checked, and the segments' first positions are from's (checkKeyRunFile
// sets them).
func decodeKeyRun(file string, data []byte, from *KeyRun) (*KeyRun, error) {
	r := &KeyRun{file: file, data: data}
	if len(data) < keyRunHeaderSize+keyRunTrailer {
		return nil, r.corrupt(0, "shorter than its header and trailer")
	}
	if string(data[:8]) != keyRunMagic {
		return nil, r.corrupt(0, "bad magic")
	}
	if v := binary.LittleEndian.Uint32(data[8:]); v != keyRunVersion {
		return nil, r.corrupt(8, "unknown version %d", v)
	}
	if crc32.Checksum(data[:28], castagnoli) != binary.LittleEndian.Uint32(data[28:]) {
		return nil, r.corrupt(28, "header checksum mismatch")
	}
	r.first = binary.LittleEndian.Uint32(data[12:])
	r.last = binary.LittleEndian.Uint32(data[16:])
	n := int(binary.LittleEndian.Uint32(data[20:]))
	r.blocks = uint64(binary.LittleEndian.Uint32(data[24:]))
	if r.first == 0 || r.last < r.first {
		return nil, r.corrupt(12, "bad range %d-%d", r.first, r.last)
	}
	if n < 1 || n > MaxKeyRunSegments || uint64(n) > uint64(r.last-r.first)+1 {
		return nil, r.corrupt(20, "%d segments for positions %d-%d (want 1 to %d, at most one a position)", n, r.first, r.last, MaxKeyRunSegments)
	}
	if r.blocks < 1 || r.blocks > maxKeyRunBlocks {
		return nil, r.corrupt(24, "%d blocks (want 1 to %d)", r.blocks, maxKeyRunBlocks)
	}
	r.w = keyRunRowBytes(n)
	r.all = ^uint64(0) >> (64 - n)
	firstsSize := uint64(align8(4 * n))
	rowsSize := r.blocks * filterBlockBits * uint64(r.w)
	want := keyRunHeaderSize + firstsSize + rowsSize + keyRunTrailer
	if uint64(len(data)) != want {
		return nil, r.corrupt(0, "%d bytes, want %d for %d segments and %d blocks", len(data), want, n, r.blocks)
	}
	tr := data[len(data)-keyRunTrailer:]
	if crc32.Checksum(tr[:8], castagnoli) != binary.LittleEndian.Uint32(tr[8:]) {
		return nil, r.corrupt(int64(len(data)-keyRunTrailer+8), "trailer checksum mismatch")
	}
	r.rows = data[keyRunHeaderSize+firstsSize : keyRunHeaderSize+firstsSize+rowsSize]
	if from != nil {
		r.firsts = from.firsts
		return r, nil
	}
	if err := r.setFirsts(data[keyRunHeaderSize:keyRunHeaderSize+firstsSize], binary.LittleEndian.Uint32(tr[0:])); err != nil {
		return nil, err
	}
	if crc32.Checksum(r.rows, castagnoli) != binary.LittleEndian.Uint32(tr[4:]) {
		return nil, r.corrupt(int64(keyRunHeaderSize+firstsSize), "rows checksum mismatch")
	}
	return r, nil
}

// corrupt returns a *trove.CorruptionError naming the run's file.
func (r *KeyRun) corrupt(off int64, format string, args ...any) error {
	return &trove.CorruptionError{File: r.file, Offset: off, Reason: "index: key run: " + fmt.Sprintf(format, args...)}
}

// setFirsts checks the segment table section (its checksum sum, the
// first positions ascending inside the run from its first, zero padding)
// and keeps a copy of the first positions.
func (r *KeyRun) setFirsts(sec []byte, sum uint32) error {
	if crc32.Checksum(sec, castagnoli) != sum {
		return r.corrupt(keyRunHeaderSize, "segment table checksum mismatch")
	}
	n := bits.OnesCount64(r.all)
	r.firsts = make([]uint32, n)
	for i := range n {
		f := binary.LittleEndian.Uint32(sec[4*i:])
		switch {
		case i == 0 && f != r.first:
			return r.corrupt(keyRunHeaderSize, "first segment starts at %d, the run at %d", f, r.first)
		case i > 0 && (f <= r.firsts[i-1] || f > r.last):
			return r.corrupt(int64(keyRunHeaderSize+4*i), "segment %d starts at %d, after %d and within %d-%d", i, f, r.firsts[i-1], r.first, r.last)
		}
		r.firsts[i] = f
	}
	for i := 4 * n; i < len(sec); i++ {
		if sec[i] != 0 {
			return r.corrupt(int64(keyRunHeaderSize+i), "nonzero padding")
		}
	}
	return nil
}
