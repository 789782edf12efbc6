package index

import (
	"math/bits"
	"sort"
)

// A lookup of a key in the sealed log asks the segment indexes that may
// hold it. Those covered by a key run (keyrun.go, SetKeyRuns) are found
// from the run's rows, one page for up to MaxKeyRunSegments of them; each
// of the others is asked through its own key filter.

// keyUnit is a run of state.segs for key lookups: segs[a] alone (run
// nil), or segs[a : a+run.Segments()], the segment indexes run covers.
type keyUnit struct {
	a   int
	run *KeyRun
}

// size returns how many segment indexes u covers.
func (u keyUnit) size() int {
	if u.run == nil {
		return 1
	}
	return u.run.Segments()
}

// SetKeyRuns sets the key runs of the sealed log, in position order. A
// run is used where its segments are exactly consecutive segment indexes
// of SetSegments (the same first positions, the last ending where the run
// does); the others are ignored, and their segment indexes asked one by
// one. The index does not own the runs: the caller closes a run after the
// index's last lookup in it is done (any call of SetKeyRuns that no longer
// lists it has returned).
func (ix *Index) SetKeyRuns(runs []*KeyRun) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.st.keyRuns = runs
	ix.st.setKeyUnits()
}

// KeyRuns returns the key runs the index uses (SetKeyRuns), in position
// order.
func (ix *Index) KeyRuns() []*KeyRun {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	var used []*KeyRun
	for _, u := range ix.st.keyUnits {
		if u.run != nil {
			used = append(used, u.run)
		}
	}
	return used
}

// setKeyUnits groups s.segs into key units from s.keyRuns (holding the
// index's lock).
func (s *state) setKeyUnits() {
	units := make([]keyUnit, 0, len(s.segs))
	runs := s.keyRuns
	for i := 0; i < len(s.segs); {
		for len(runs) > 0 && runs[0].Last() < s.segs[i].First() {
			runs = runs[1:]
		}
		if len(runs) > 0 && runs[0].fits(s.segs[i:]) {
			units = append(units, keyUnit{a: i, run: runs[0]})
			i += runs[0].Segments()
			runs = runs[1:]
			continue
		}
		units = append(units, keyUnit{a: i})
		i++
	}
	s.keyUnits = units
}

// fits reports whether segs starts with the segment indexes r covers.
func (r *KeyRun) fits(segs []*SegIndex) bool {
	n := r.Segments()
	if len(segs) < n || segs[n-1].Last() != r.last {
		return false
	}
	for i, f := range r.firsts {
		if segs[i].First() != f {
			return false
		}
	}
	return true
}

// keySegs calls fn with the index in s.segs of each segment index in
// s.segs[from:to] that may hold the key of hash h, ascending (descending
// when desc), until fn returns false. A segment index it skips certainly
// does not hold the key; one it gives may not. viaRun says that a key run
// named it: its own key filter, which holds the same keys, need not be
// asked again.
func (s *state) keySegs(h uint64, from, to int, desc bool, fn func(i int, viaRun bool) bool) {
	if from >= to {
		return
	}
	units := s.keyUnits
	if len(units) == 0 || units[len(units)-1].a+units[len(units)-1].size() != len(s.segs) {
		units = nil // not grouped (cannot happen through SetSegments): one by one
		for i := range len(s.segs) {
			units = append(units, keyUnit{a: i})
		}
	}
	unitOf := func(i int) int { return sort.Search(len(units), func(k int) bool { return units[k].a > i }) - 1 }
	u0, u1 := unitOf(from), unitOf(to-1)
	step := 1
	if desc {
		u0, u1, step = u1, u0, -1
	}
	for k := u0; ; k += step {
		u := units[k]
		if u.run == nil {
			if !fn(u.a, false) {
				return
			}
		} else {
			lo, hi := max(from-u.a, 0), min(to-u.a, u.size())
			m := u.run.Candidates(h) & (^uint64(0) >> (64 - hi) &^ (1<<lo - 1))
			for m != 0 {
				var b int
				if desc {
					b = 63 - bits.LeadingZeros64(m)
					m &^= 1 << b
				} else {
					b = bits.TrailingZeros64(m)
					m &= m - 1
				}
				if !fn(u.a+b, true) {
					return
				}
			}
		}
		if k == u1 {
			return
		}
	}
}

// unitSegs returns the segment indexes of s.segs[from:to] that no key
// run covers at the end of s.segs: those a lookup asks through their own
// key filters (touchKeyFilters).
func (s *state) unitSegs(from, to int) []*SegIndex {
	tail := len(s.segs)
	for k := len(s.keyUnits) - 1; k >= 0 && s.keyUnits[k].run == nil; k-- {
		tail = s.keyUnits[k].a
	}
	return s.segs[max(from, tail):max(to, max(from, tail))]
}
