package index

import (
	"encoding/binary"
	"math/bits"
)

// idFilter is a blocked Bloom filter over 64-bit id hashes: it answers
// "maybe present" or "certainly absent", so that a lookup of a new id
// (every save of one) skips an id run without reading it. Each hash sets
// filterProbes bits inside one 512-bit block (one cache line), so a probe
// costs one memory access. At filterBitsPerID bits per distinct hash, about
// 0.1% of absent ids pass.
//
// The filter is a slice of uint64 words whose length is a multiple of 8
// (a block); it is built in memory for a segment index's id section and
// stored in an id run file (IDRUN.md), where it is read in place.
type idFilter []uint64

const (
	// filterBitsPerID sizes the filters of segment indexes' id sections
	// (built in memory) and of version 1 runs; runFilterBits those of the
	// runs written now. A run's header bounds its filter's bits an entry
	// by minFilterBits and maxFilterBits.
	minFilterBits   = 4
	maxFilterBits   = 32
	filterBitsPerID = 16
	filterProbes    = 7
	filterBlockBits = 512
	filterBlockW    = filterBlockBits / 64
)

// newIDFilter returns an empty filter sized for n distinct hashes.
func newIDFilter(n int) idFilter { return newFilter(n, filterBitsPerID) }

// newFilter returns an empty filter of bitsPer bits for each of n
// distinct hashes.
func newFilter(n, bitsPer int) idFilter { return make(idFilter, filterWordsFor(n, bitsPer)) }

// filterWordsFor returns the length in words of a filter of bitsPer bits
// for each of n hashes: whole blocks, at least one.
func filterWordsFor(n, bitsPer int) int {
	return max(1, (n*bitsPer+filterBlockBits-1)/filterBlockBits) * filterBlockW
}

// filterWords returns the length in words of the filter newIDFilter(n)
// makes.
func filterWords(n int) int { return filterWordsFor(n, filterBitsPerID) }

// bytes returns the filter's words, little-endian.
func (f idFilter) bytes() []byte {
	b := make([]byte, 0, 8*len(f))
	for _, w := range f {
		b = binary.LittleEndian.AppendUint64(b, w)
	}
	return b
}

// block returns the first word of h's block: the hash's high bits, scaled
// to the block count (Lemire's multiply-shift, no modulo).
func (f idFilter) block(h uint64) int {
	hi, _ := bits.Mul64(h, uint64(len(f)/filterBlockW))
	return int(hi) * filterBlockW
}

// bitsOf returns the filterProbes 9-bit offsets in a block derived from h
// (a remix of the hash, independent of the bits that chose the block).
func bitsOf(h uint64) uint64 { return (h ^ h>>29) * 0xbf58476d1ce4e5b9 }

func (f idFilter) add(h uint64) {
	b, x := f.block(h), bitsOf(h)
	for range filterProbes {
		o := x & (filterBlockBits - 1)
		f[b+int(o>>6)] |= 1 << (o & 63)
		x >>= 9
	}
}

// has reports whether h may have been added; false is certain.
func (f idFilter) has(h uint64) bool {
	if len(f) == 0 {
		return true // no filter: every run is read
	}
	b, x := f.block(h), bitsOf(h)
	for range filterProbes {
		o := x & (filterBlockBits - 1)
		if f[b+int(o>>6)]&(1<<(o&63)) == 0 {
			return false
		}
		x >>= 9
	}
	return true
}

// filterOf builds the filter of a sorted list of hashes (repeats count
// once).
func filterOf(sorted []uint64) idFilter {
	n := 0
	for i, h := range sorted {
		if i == 0 || h != sorted[i-1] {
			n++
		}
	}
	f := newIDFilter(n)
	for i, h := range sorted {
		if i == 0 || h != sorted[i-1] {
			f.add(h)
		}
	}
	return f
}
