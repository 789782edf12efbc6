package index

import (
	"maps"
	"slices"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/cespare/xxhash/v2"
)

// Payload paths past the guard (Options.MaxPathValues: an order id, an
// email) have no exact postings. The segment indexes hold hashed postings
// of every path for the sealed log; for the unsealed head the index keeps
// hashed postings of those paths itself: the hash of (path, value), as a
// segment index computes it, to the head's positions holding it. Reader.
// SegmentTerm then answers such a term for every position, and a lookup
// of one order id never scans the head. Their memory is bounded by the
// head's size, as the head's exact postings are: trim drops the sealed
// positions.
//
// The postings are kept in generations of about hotGenSpan positions, so
// that trim drops whole generations and costs next to nothing on the
// writer. The generation a trim cuts through stays whole: lookups may
// return its positions up to the trim too (a superset, as segment
// postings are), and each skips them.
type hotHead struct {
	gens    []hotGen
	trimmed uint32 // positions up to it are the segment indexes'
}

type hotGen struct {
	min, max uint32              // the least and greatest position held
	one      map[uint64]uint32   // a hash held at one position
	more     map[uint64][]uint32 // a hash held at several
}

const hotGenSpan = 1 << 14

func (h *hotHead) add(hash uint64, pos uint32) {
	n := len(h.gens)
	if n == 0 || pos >= h.gens[n-1].min+hotGenSpan {
		g := hotGen{min: pos, max: pos}
		if n > 0 {
			// Sized as the last one ended: growing a map rehashes it,
			// about a tenth of adding to it.
			g.one = make(map[uint64]uint32, len(h.gens[n-1].one))
			g.more = make(map[uint64][]uint32, len(h.gens[n-1].more))
		}
		h.gens = append(h.gens, g)
		n++
	}
	g := &h.gens[n-1]
	g.min, g.max = min(g.min, pos), max(g.max, pos)
	g.add(hash, pos)
}

func (g *hotGen) add(hash uint64, pos uint32) {
	if p, ok := g.one[hash]; ok {
		delete(g.one, hash)
		if g.more == nil {
			g.more = map[uint64][]uint32{}
		}
		g.more[hash] = []uint32{p, pos}
		return
	}
	if list, ok := g.more[hash]; ok {
		g.more[hash] = append(list, pos)
		return
	}
	if g.one == nil {
		g.one = map[uint64]uint32{}
	}
	g.one[hash] = pos
}

// clone returns a copy that shares nothing add and trim change: add
// changes the last generation alone (a position before it goes into it
// too), so the others are shared and only the last one's maps are copied
// (a list of positions is only appended to past its length, or replaced).
func (h *hotHead) clone() hotHead {
	c := hotHead{gens: slices.Clone(h.gens), trimmed: h.trimmed}
	if n := len(c.gens); n > 0 {
		g := &c.gens[n-1]
		g.one, g.more = maps.Clone(g.one), maps.Clone(g.more)
	}
	return c
}

// addTo adds the positions holding hash to bm.
func (h *hotHead) addTo(bm *roaring.Bitmap, hash uint64) {
	for i := range h.gens {
		g := &h.gens[i]
		if p, ok := g.one[hash]; ok {
			bm.Add(p)
		}
		bm.AddMany(g.more[hash])
	}
}

// trim drops the generations whose positions are all up to t.
func (h *hotHead) trim(t uint32) {
	kept := h.gens[:0]
	for _, g := range h.gens {
		if g.max > t {
			kept = append(kept, g)
		}
	}
	clear(h.gens[len(kept):])
	h.gens = kept
	h.trimmed = max(h.trimmed, t)
}

// each calls fn with every hash and its positions after the trim,
// generation by generation (a hash may come once in each): in one, the
// hashes held at one position by hash, then those held at several by
// hash, positions ascending. The slice is fn's only during the call.
func (h *hotHead) each(fn func(hash uint64, pos []uint32)) {
	var one [1]uint32
	var kept []uint32
	for i := range h.gens {
		g := &h.gens[i]
		for _, k := range sortedKeys64(g.one) {
			if one[0] = g.one[k]; one[0] > h.trimmed {
				fn(k, one[:])
			}
		}
		for _, k := range sortedKeys64(g.more) {
			list := g.more[k]
			if list[0] <= h.trimmed {
				kept = kept[:0]
				for _, p := range list {
					if p > h.trimmed {
						kept = append(kept, p)
					}
				}
				if list = kept; len(list) == 0 {
					continue
				}
			}
			fn(k, list)
		}
	}
}

// len returns how many times each calls its function.
func (h *hotHead) len() int {
	n := 0
	if len(h.gens) > 0 && h.gens[0].min <= h.trimmed {
		h.each(func(uint64, []uint32) { n++ })
		return n
	}
	for i := range h.gens {
		n += len(h.gens[i].one) + len(h.gens[i].more)
	}
	return n
}

// termHash is postingHash(KindTerm, path, value) of byte slices, without
// allocating.
func termHash(path, value []byte) uint64 {
	var d xxhash.Digest
	d.Reset()
	d.Write([]byte{KindTerm})
	d.Write(path)
	d.Write([]byte{0})
	d.Write(value)
	return d.Sum64()
}
