package index

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
)

// TestHotHeadGenerations checks the head's hashed postings against a
// model across many generations: every hash answers its positions after
// each trim (whole generations dropped, one cut through), and each lists
// every hash's positions, in order.
func TestHotHeadGenerations(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	var h hotHead
	model := map[uint64][]uint32{}
	const n = 5 * hotGenSpan
	for pos := uint32(1); pos <= n; pos++ {
		hash := uint64(r.IntN(n / 3))
		if r.IntN(4) == 0 {
			hash = 1 << 40 // one hash at many positions, in every generation
		}
		h.add(hash, pos)
		model[hash] = append(model[hash], pos)
	}
	if len(h.gens) < 5 {
		t.Fatalf("%d generations for %d positions", len(h.gens), n)
	}
	check := func(trimmed uint32) {
		t.Helper()
		for hash, want := range model {
			var w []uint32
			for _, p := range want {
				if p > trimmed {
					w = append(w, p)
				}
			}
			// Lookups give the positions after the trim, and may give
			// some up to it (of the generation it cut through).
			bm := roaring.New()
			h.addTo(bm, hash)
			got := bm.ToArray()
			var after []uint32
			for _, p := range got {
				if p > trimmed {
					after = append(after, p)
				} else if !slices.Contains(want, p) || p < trimmed-min(trimmed, 2*hotGenSpan) {
					t.Fatalf("after trim %d: hash %d: position %d is not one it was added at, or far before the trim", trimmed, hash, p)
				}
			}
			if !slices.Equal(after, w) && !(len(w) == 0 && len(after) == 0) {
				t.Fatalf("after trim %d: hash %d: %v, want %v", trimmed, hash, after, w)
			}
		}
		seen := 0
		listed := map[uint64][]uint32{}
		h.each(func(hash uint64, pos []uint32) {
			if !slices.IsSorted(pos) || pos[0] <= trimmed {
				t.Fatalf("each: hash %d positions %v after trim %d", hash, pos, trimmed)
			}
			listed[hash] = append(listed[hash], pos...)
			seen++
		})
		for hash, want := range model {
			var w []uint32
			for _, p := range want {
				if p > trimmed {
					w = append(w, p)
				}
			}
			if got := listed[hash]; !slices.Equal(got, w) {
				t.Fatalf("each after trim %d: hash %d: %v, want %v", trimmed, hash, got, w)
			}
		}
		if seen != h.len() {
			t.Fatalf("each listed %d hashes, len says %d", seen, h.len())
		}
	}
	check(0)
	for _, trimmed := range []uint32{100, hotGenSpan, hotGenSpan + 7, 3*hotGenSpan - 1, n - 5, n} {
		h.trim(trimmed)
		check(trimmed)
	}
	if len(h.gens) != 0 {
		t.Fatalf("%d generations left after trimming everything", len(h.gens))
	}
}
