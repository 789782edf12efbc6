package index

import (
	"cmp"
	"slices"

	"github.com/RoaringBitmap/roaring/v2"
)

// Postings of the sealed log live in the segment indexes only.
//
// Once SetSegments hands the index the segment indexes covering positions
// 1…T, the index drops T and every position before it from its own
// postings (trim): they are answered from the segment indexes, read in
// place, and the heap holds postings of the unsealed head alone. What the
// segment indexes do not hold stays: links added with SaveLink (their
// sources' positions stay in the link-type and any-link postings and their
// incoming references stay listed), and the superseded positions.
//
// The prefix trimmed is recorded (snapshots keep it): should the segment
// indexes later cover less of it (a segment index that could not be
// rebuilt), the positions between are answered as candidates, all of
// them, and the planner's verification keeps results exact.

// A Posting is the positions of one key of the index (a schema, a
// producer, a link type or target, a payload term, any link): those of the
// sealed log through the segment indexes, those after from the heap. The
// sealed positions are candidates (a superset: segment indexes find keys
// by hash), which readers verify. A Posting is valid only inside the
// Index.Read callback that returned it.
type Posting struct {
	st   *state
	hash uint64          // postingHash of its key: each segment index is asked by it
	head *roaring.Bitmap // heap positions; nil: none
}

// Bitmap returns the positions of the posting in [lo, hi), and maybe
// others: the bitmap is read-only (it may be the index's own, or read a
// segment index in place), valid inside the Index.Read callback only.
// The caller clones what it changes, and keeps only [lo, hi) of it.
func (p Posting) Bitmap(lo, hi uint64) *roaring.Bitmap {
	lo = max(lo, 1)
	if lo >= hi {
		return roaring.New()
	}
	s := p.st
	var parts []*roaring.Bitmap
	// The segments are in position order: start at the first that ends
	// at or after lo.
	first, _ := slices.BinarySearchFunc(s.segs, lo, func(seg *SegIndex, lo uint64) int { return cmp.Compare(uint64(seg.Last()), lo) })
	end, _ := slices.BinarySearchFunc(s.segs, hi, func(seg *SegIndex, hi uint64) int { return cmp.Compare(uint64(seg.First()), hi) })
	touchKeyFilters(s.unitSegs(first, end), p.hash)
	s.keySegs(p.hash, first, end, false, func(i int, viaRun bool) bool {
		seg := s.segs[i]
		bm, err := seg.lookup(p.hash, !viaRun)
		switch {
		case err != nil:
			// Unreadable: every position is a candidate.
			parts = append(parts, rangeBitmap(max(uint64(seg.First()), lo), min(uint64(seg.Last())+1, hi)))
		case bm != nil:
			parts = append(parts, bm)
		}
		return true
	})
	if g0, g1 := uint64(s.segUpTo)+1, uint64(s.trimmed)+1; g0 < g1 && g0 < hi && g1 > lo {
		parts = append(parts, rangeBitmap(max(g0, lo), min(g1, hi)))
	}
	if p.head != nil && !p.head.IsEmpty() && uint64(p.head.Maximum()) >= lo && uint64(p.head.Minimum()) < hi {
		parts = append(parts, p.head)
	}
	switch len(parts) {
	case 0:
		return roaring.New()
	case 1:
		return parts[0]
	}
	return roaring.FastOr(parts...)
}

// Least returns the least position of the posting, asking the segment
// indexes from the first; ok is false when it is empty.
func (p Posting) Least() (uint32, bool) { return p.least() }

// Greatest returns the greatest position of the posting, asking the
// segment indexes from the last; ok is false when it is empty.
func (p Posting) Greatest() (uint32, bool) { return p.greatest() }

// least and greatest look at the heap's positions as well as the sealed
// log's: the heap keeps some sealed positions too (the sources of links
// added with SaveLink), which may come before or after every position the
// segment indexes hold for the key.
func (p Posting) least() (uint32, bool) {
	s := p.st
	var least uint32
	ok := false
	take := func(v uint32) {
		if !ok || v < least {
			least, ok = v, true
		}
	}
	if p.head != nil && !p.head.IsEmpty() {
		take(p.head.Minimum())
	}
	s.keySegs(p.hash, 0, len(s.segs), false, func(i int, viaRun bool) bool {
		seg := s.segs[i]
		if ok && least <= seg.First() {
			return false
		}
		bm, err := seg.lookup(p.hash, !viaRun)
		if err != nil {
			take(seg.First())
			return false
		}
		if bm != nil && !bm.IsEmpty() {
			take(bm.Minimum())
			return false
		}
		return true
	})
	if s.segUpTo < s.trimmed {
		take(s.segUpTo + 1)
	}
	return least, ok
}

func (p Posting) greatest() (uint32, bool) {
	s := p.st
	var greatest uint32
	ok := false
	take := func(v uint32) {
		if !ok || v > greatest {
			greatest, ok = v, true
		}
	}
	if p.head != nil && !p.head.IsEmpty() {
		take(p.head.Maximum())
	}
	if s.segUpTo < s.trimmed {
		take(s.trimmed)
	}
	s.keySegs(p.hash, 0, len(s.segs), true, func(i int, viaRun bool) bool {
		seg := s.segs[i]
		if ok && greatest >= seg.Last() {
			return false
		}
		bm, err := seg.lookup(p.hash, !viaRun)
		if err != nil {
			take(seg.Last())
			return false
		}
		if bm != nil && !bm.IsEmpty() {
			take(bm.Maximum())
			return false
		}
		return true
	})
	return greatest, ok
}

func rangeBitmap(lo, hi uint64) *roaring.Bitmap {
	bm := roaring.New()
	bm.AddRange(lo, hi)
	return bm
}

func (r Reader) posting(kind byte, key, value string, head *roaring.Bitmap) Posting {
	return Posting{st: r.st, hash: postingHash(kind, key, value), head: head}
}

// trim drops positions up to t from the heap's postings, which the segment
// indexes now answer (see above).
func (s *state) trim(t uint32) {
	if t <= s.trimmed {
		return
	}
	cut := func(bm *roaring.Bitmap) { bm.RemoveRange(1, uint64(t)+1) }
	for _, bm := range s.bySchema {
		cut(bm)
	}
	for _, bm := range s.byProducer {
		cut(bm)
	}
	for k, bm := range s.linkType {
		cut(bm)
		if bm.IsEmpty() {
			delete(s.linkType, k)
		}
	}
	cut(s.anyLink)
	// Links added with SaveLink are not in the segment indexes: their
	// sources stay.
	for src, links := range s.added {
		if src > t {
			continue
		}
		for _, l := range links {
			s.linkTypeBitmap(l.Type).Add(src)
		}
		s.anyLink.Add(src)
	}
	for path, vals := range s.terms {
		for v, bm := range vals {
			cut(bm)
			if bm.IsEmpty() {
				delete(vals, v)
			}
		}
		if len(vals) == 0 {
			delete(s.terms, path)
		}
	}
	s.hotHead.trim(t)
	// The ids and the incoming links of the prefix go a batch at a time
	// (trimStep), so that no writer waits for all of them: until then
	// the head's id table still finds some sealed ids (at their latest
	// position, as the segment indexes would), and Incoming leaves the
	// trimmed refs out.
	s.trimmed = t
	s.idsLeft, s.idsCut = numSubs, t
}

// The batches of trimStep: about 1 ms of work on a 2-core VM (tests
// make them small).
var (
	trimStepSlots = 1 << 15 // id table slots scanned
	trimStepLinks = 2048    // own links dropped
)

// trimStep does a batch of what trim leaves to it and reports whether
// any is left.
func (s *state) trimStep() bool {
	if s.idsLeft > 0 {
		for scanned := 0; s.idsLeft > 0 && scanned < trimStepSlots; s.idsLeft-- {
			scanned += s.ids.trimSub(numSubs-s.idsLeft, s.idsCut)
		}
		return true
	}
	for n := 0; n < trimStepLinks; n++ {
		if len(s.ownLinks) == 0 || s.ownLinks[0].src > s.trimmed {
			return false
		}
		t := s.ownLinks[0].target
		s.ownLinks = s.ownLinks[1:]
		if refs, ok := s.incoming[t]; ok {
			if kept := ownRefsAfter(refs, s.trimmed); len(kept) == 0 {
				delete(s.incoming, t)
			} else if len(kept) < len(refs) {
				s.incoming[t] = kept
			}
		}
	}
	return true
}

// finishTrim does all that trimStep has left.
func (s *state) finishTrim() {
	for s.trimStep() {
	}
}

// ownRefsAfter returns refs without the own links whose source is up to
// t: refs itself when there are none, else a new slice.
func ownRefsAfter(refs []LinkRef, t uint32) []LinkRef {
	drop := 0
	for _, r := range refs {
		if r.Slot >= 0 && r.Source <= t {
			drop++
		}
	}
	if drop == 0 {
		return refs
	}
	kept := make([]LinkRef, 0, len(refs)-drop)
	for _, r := range refs {
		if r.Slot < 0 || r.Source > t {
			kept = append(kept, r)
		}
	}
	return kept
}

// TrimStep does a batch of the trim that SetSegments leaves (dropping
// the sealed ids and incoming links of the head), holding the write lock
// for about a millisecond, and reports whether any is left. Until it
// reports none, the index answers as it will after: the engine calls it
// on a goroutine of its own after each SetSegments.
func (ix *Index) TrimStep() bool {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.st.closed {
		return false
	}
	return ix.st.trimStep()
}

func (s *state) linkTypeBitmap(t string) *roaring.Bitmap {
	bm := s.linkType[t]
	if bm == nil {
		bm = roaring.New()
		s.linkType[t] = bm
	}
	return bm
}

// Incoming returns the links whose target is id: sealed holds the
// positions up to the trimmed prefix whose own links may target id
// (candidates from the segment indexes: the caller reads each event and
// lists, in position order, its own links to id), and refs the other
// links to id, in save order. A ref's After orders the two: every own
// link of a sealed position up to After was saved before it.
func (ix *Index) Incoming(id string) (sealed *roaring.Bitmap, refs []LinkRef) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	s := &ix.st
	if s.trimmed > 0 {
		sealed = Reader{st: s, opts: ix.opts}.posting(KindLinkTarget, id, "", nil).Bitmap(1, uint64(s.trimmed)+1).Clone()
		sealed.RemoveRange(uint64(s.trimmed)+1, 1<<32)
	}
	return sealed, ownRefsAfter(s.incoming[id], s.trimmed)
}
