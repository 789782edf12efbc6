package index

import "sync"

// Ids of sealed events are found on disk. The id table (ids.go) keeps only
// the ids whose latest version lies after the trimmed prefix (the head);
// the ids of positions up to it are found in the id sections of the
// segment indexes (SetSegments) and in id runs merging several of them
// (SetIDRuns, idrun.go), each with a filter that rules out most absent
// ids without reading the section. A lookup that misses the head reads
// the sources newest first: the first one holding a verified candidate
// holds the id's latest sealed version.

// idSrc is one sorted (hash, position) list the lookups read.
type idSrc struct {
	first, last uint32
	hash        []uint64
	pos         []uint32
	filter      idFilter
	fence       []uint64 // nil for a segment index: its section is small
	run         *IDRun   // the run, nil for a segment index
}

// segFilters caches the filters built for segment indexes' id sections
// (a segment index holds none), by index.
type segFilters struct {
	mu sync.Mutex
	m  map[*SegIndex]idFilter
}

// of returns the filter of seg's id section, building it once.
func (f *segFilters) of(seg *SegIndex) idFilter {
	f.mu.Lock()
	flt, ok := f.m[seg]
	f.mu.Unlock()
	if ok {
		return flt
	}
	flt = filterOf(seg.idHash)
	f.mu.Lock()
	if f.m == nil {
		f.m = map[*SegIndex]idFilter{}
	}
	f.m[seg] = flt
	f.mu.Unlock()
	return flt
}

// keep forgets the filters of segment indexes not in used.
func (f *segFilters) keep(used map[*SegIndex]bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for seg := range f.m {
		if !used[seg] {
			delete(f.m, seg)
		}
	}
}

// PrepareSegment builds what the index keeps of a segment index's ids (its
// filter) ahead of SetSegments, which otherwise builds it holding the
// index's lock.
func (ix *Index) PrepareSegment(seg *SegIndex) { ix.filters.of(seg) }

// SetIDRuns sets the id runs of the sealed log, in position order. Only
// runs covering positions 1, 2, … without a gap, each ending where a
// segment index ends (SetSegments), are used; segment indexes after the
// last used run are read for the rest. The index does not own the runs:
// the caller closes a run after the index's last lookup in it is done
// (any call of SetIDRuns that no longer lists it has returned).
func (ix *Index) SetIDRuns(runs []*IDRun) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.st.runs = runs
	ix.setIDSources()
}

// IDRuns returns the id runs the index uses (SetIDRuns), in position
// order.
func (ix *Index) IDRuns() []*IDRun {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.st.usedRuns
}

// setIDSources rebuilds the list of id sources from the runs and the
// segment indexes. It holds ix.mu; building a segment's filter the first
// time is the only work proportional to a segment.
func (ix *Index) setIDSources() {
	s := &ix.st
	var srcs []idSrc
	var used []*IDRun
	var upTo uint32
	ends := make(map[uint32]bool, len(s.segs))
	for _, seg := range s.segs {
		ends[seg.Last()] = true
	}
	for _, r := range s.runs {
		if r == nil || r.First() != upTo+1 || !ends[r.Last()] {
			break
		}
		srcs = append(srcs, idSrc{r.first, r.last, r.hash, r.pos, r.filter, r.fence, r})
		used = append(used, r)
		upTo = r.Last()
	}
	inUse := map[*SegIndex]bool{}
	for _, seg := range s.segs {
		if seg.First() <= upTo {
			continue
		}
		inUse[seg] = true
		srcs = append(srcs, idSrc{seg.First(), seg.Last(), seg.idHash, seg.idPos, ix.filters.of(seg), nil, nil})
	}
	ix.filters.keep(inUse)
	s.idSrcs, s.usedRuns = srcs, used
}

// sealedID finds, among the sealed positions up to last, the latest one
// whose id is id: the newest source with a verified candidate holds it.
// It reads ids back through at (idIs). fromFile reads the entries of an
// id run that passes its filter from the run's file (IDRun.candidates):
// a save's lookup, most often of a new id, whose every false positive
// would otherwise leave pages of the run resident. A read's lookup
// (false) goes through the map, a few microseconds faster; the engine
// drops those pages at each seal.
func (ix *Index) sealedID(id string, last uint32, at func(uint32) (string, error), fromFile bool) (pos uint32, found bool, err error) {
	s := &ix.st
	h := segIDHash(id)
	for i := len(s.idSrcs) - 1; i >= 0; i-- {
		src := &s.idSrcs[i]
		if src.first > last || !src.filter.has(h) {
			continue
		}
		verify := func(p uint32) bool {
			same, e := ix.idIs(p, id, at)
			if e != nil && err == nil {
				err = e
			}
			if same {
				pos = p
			}
			return same
		}
		var ok bool
		if src.run != nil && fromFile {
			var e error
			if ok, e = src.run.candidates(h, last, verify); e != nil {
				return 0, false, e
			}
		} else {
			if src.run != nil && src.run.mapped {
				src.run.prefetch(h)
			}
			ok = idCandidates(src.hash, src.pos, src.fence, h, last, verify)
		}
		if ok {
			return pos, true, nil
		}
	}
	return 0, false, err
}

// trimIDs drops the ids whose latest position is up to cut: the segment
// indexes and id runs answer for them. Each sub-table deletes them in
// place (linear probing's backward shift, no tombstones), so a trim costs
// a scan of the head's table, not a rebuild of it. A sub-table keeps its
// size: the head fills it again as the next segment's events arrive, and
// shrinking it after each seal made it grow again a doubling at a time, a
// twentieth of an ingest's CPU (rehashing into fresh pages). Its size is
// therefore what the head's ids needed at most, which the segment size
// bounds.
func (t *idTable) trimIDs(cut uint32) {
	for sub := range t.subs {
		t.trimSub(sub, cut)
	}
}

// trimSub trims sub-table sub (see trimIDs) and returns how many slots it
// scanned.
func (t *idTable) trimSub(sub int, cut uint32) int {
	st := &t.subs[sub]
	scanned := len(st.slots)
	before := st.used
	if st.used > 0 {
		t.dropUpTo(sub, cut)
	}
	t.n -= before - st.used
	return scanned
}

// dropUpTo deletes the entries of sub-table sub whose position is up to
// cut. The scan starts after an empty slot, so that no cluster wraps into
// it; a deletion shifts later entries of its cluster back into the freed
// slot when their home allows, and the slot is looked at again.
func (t *idTable) dropUpTo(sub int, cut uint32) {
	st := &t.subs[sub]
	slots := st.slots
	mask := len(slots) - 1
	e := 0
	for slots[e] != 0 {
		e++ // a table at load 0.8 or less has an empty slot
	}
	for step, i := 0, (e+1)&mask; step < len(slots); {
		v := slots[i]
		if v == 0 || uint32(v) > cut {
			step++
			i = (i + 1) & mask
			continue
		}
		// Delete slot i: move back the first later entry of the cluster
		// whose home is not after i (cyclically), and repeat from there.
		hole := i
		for j := (hole + 1) & mask; slots[j] != 0; j = (j + 1) & mask {
			home := int(uint32(slots[j]>>32)) & mask
			if (j-home)&mask >= (j-hole)&mask {
				slots[hole] = slots[j]
				hole = j
			}
		}
		slots[hole] = 0
		st.used--
	}
}
