package index

import (
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
type hotHead struct {
	one  map[uint64]uint32   // a hash held at one position
	more map[uint64][]uint32 // a hash held at several
}

func (h *hotHead) add(hash uint64, pos uint32) {
	if p, ok := h.one[hash]; ok {
		delete(h.one, hash)
		if h.more == nil {
			h.more = map[uint64][]uint32{}
		}
		h.more[hash] = []uint32{p, pos}
		return
	}
	if list, ok := h.more[hash]; ok {
		h.more[hash] = append(list, pos)
		return
	}
	if h.one == nil {
		h.one = map[uint64]uint32{}
	}
	h.one[hash] = pos
}

// addTo adds the positions holding hash to bm.
func (h *hotHead) addTo(bm *roaring.Bitmap, hash uint64) {
	if p, ok := h.one[hash]; ok {
		bm.Add(p)
	}
	bm.AddMany(h.more[hash])
}

// trim drops positions up to t.
func (h *hotHead) trim(t uint32) {
	for k, p := range h.one {
		if p <= t {
			delete(h.one, k)
		}
	}
	for k, list := range h.more {
		var kept []uint32
		for _, p := range list {
			if p > t {
				kept = append(kept, p)
			}
		}
		switch {
		case len(kept) == 0:
			delete(h.more, k)
		case len(kept) < len(list):
			h.more[k] = kept
		}
	}
}

func (h *hotHead) len() int { return len(h.one) + len(h.more) }

// each calls fn with every hash and its positions.
func (h *hotHead) each(fn func(hash uint64, pos []uint32)) {
	for _, k := range sortedKeys64(h.one) {
		fn(k, []uint32{h.one[k]})
	}
	for _, k := range sortedKeys64(h.more) {
		fn(k, h.more[k])
	}
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
