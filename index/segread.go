package index

import "github.com/RoaringBitmap/roaring/v2"

// Segment indexes answer for sealed positions what the in-memory index
// does not keep: every posting of the positions they cover (posting.go),
// and the postings of payload paths past the guard
// (Options.MaxPathValues). The engine hands the index its segment indexes
// with SetSegments; Posting and Reader.SegmentTerm read them.

// SetSegments sets the segment indexes of the sealed log, in position
// order. Only those covering positions 1, 2, … without a gap are used: a
// segment without an index (nil) ends the covered prefix. The index does
// not own them: the caller closes them after the index's last reader is
// done.
func (ix *Index) SetSegments(segs []*SegIndex) {
	var upTo uint32
	var used []*SegIndex
	for _, s := range segs {
		if s == nil || s.First() != upTo+1 {
			break
		}
		used = append(used, s)
		upTo = s.Last()
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	s := &ix.st
	cols := make([]colSeg, len(used))
	for i, seg := range used {
		cols[i] = colSeg{ix: seg, schemas: make([]uint32, len(seg.Schemas())), producers: make([]uint32, len(seg.Producers()))}
		for k, name := range seg.Schemas() {
			cols[i].schemas[k], _ = s.schemas.num(name)
		}
		for k, name := range seg.Producers() {
			cols[i].producers[k], _ = s.produce.num(name)
		}
	}
	if s.cols.from > upTo {
		// The dropped columns need segment indexes that are gone: keep
		// the ones that had them (the engine refuses such a state on
		// open; see SealedColumns).
		return
	}
	s.segs, s.segUpTo, s.colSegs = used, upTo, cols
	s.setKeyUnits()
	ix.setIDSources()
	s.trim(min(upTo, s.n))
	s.cols.drop(s.trimmed)
}

// SealedColumns returns how many positions have their columns in the
// segment indexes only (dropped from memory): a snapshot loaded with
// them needs segment indexes covering them (SetSegments), or the index
// must be rebuilt from the log.
func (ix *Index) SealedColumns() uint32 {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.st.cols.from
}

// Trimmed returns the prefix of positions whose postings the index no
// longer holds itself (the segment indexes answer for them).
func (ix *Index) Trimmed() uint32 {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.st.trimmed
}

// SegmentTerm returns, for a payload path the index does not cover
// (Term's indexed false), the positions among 1…upTo whose payload may
// hold value (a ValueKey) at path: a superset of those that do, read from
// the segment indexes for the sealed log and from the head's hashed
// postings after it (upTo is then the last position). ok is false when
// the payload index is off; then the caller scans. The bitmap is the
// caller's.
func (r Reader) SegmentTerm(path, value string) (bm *roaring.Bitmap, upTo uint32, ok bool) {
	s := r.st
	if r.opts.MaxPathValues < 0 {
		return nil, 0, false
	}
	bms := []*roaring.Bitmap{roaring.New()}
	h := postingHash(KindTerm, path, value)
	touchKeyFilters(s.unitSegs(0, len(s.segs)), h)
	s.keySegs(h, 0, len(s.segs), false, func(i int, viaRun bool) bool {
		seg := s.segs[i]
		p, err := seg.lookup(h, !viaRun)
		switch {
		case err != nil:
			bms[0].AddRange(uint64(seg.First()), uint64(seg.Last())+1)
		case p != nil:
			bms = append(bms, p)
		}
		return true
	})
	if s.segUpTo < s.trimmed {
		bms[0].AddRange(uint64(s.segUpTo)+1, uint64(s.trimmed)+1)
	}
	s.hotHead.addTo(bms[0], termHash([]byte(path), []byte(value)))
	bm = roaring.FastOr(bms...)
	// The postings read the segment indexes' memory in place: the result
	// gets its own.
	bm.CloneCopyOnWriteContainers()
	return bm, s.n, true
}
