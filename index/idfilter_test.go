package index

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestIDFilter checks that a filter answers yes for every added hash and
// lets through about the designed share of absent ones.
func TestIDFilter(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 7, 1000, 100000} {
		in := make([]uint64, n)
		for i := range in {
			in[i] = r.Uint64()
		}
		slices.Sort(in)
		f := filterOf(in)
		if len(f)%filterBlockW != 0 || len(f) != filterWords(n) {
			t.Fatalf("n=%d: %d words", n, len(f))
		}
		for _, h := range in {
			if !f.has(h) {
				t.Fatalf("n=%d: added hash %x not found", n, h)
			}
		}
		if n < 1000 {
			continue
		}
		if rate := passRate(f, r); rate > 0.004 {
			t.Fatalf("n=%d: %.4f of absent hashes pass, want about 0.001", n, rate)
		}
	}
	// A run's filter: runFilterBits an entry, about 1% passing.
	in := make([]uint64, 100000)
	for i := range in {
		in[i] = r.Uint64()
	}
	f := newFilter(len(in), runFilterBits)
	if len(f) != filterWordsFor(len(in), runFilterBits) || len(f) >= filterWords(len(in)) {
		t.Fatalf("a %d-bit filter of %d words", runFilterBits, len(f))
	}
	for _, h := range in {
		f.add(h)
	}
	for _, h := range in {
		if !f.has(h) {
			t.Fatalf("added hash %x not found", h)
		}
	}
	if rate := passRate(f, r); rate > 0.015 {
		t.Fatalf("%.4f of absent hashes pass a %d-bit filter, want about 0.01", rate, runFilterBits)
	}
	if !idFilter(nil).has(42) {
		t.Fatal("an absent filter must answer maybe")
	}
}

// passRate returns the share of random hashes that pass f.
func passRate(f idFilter, r *rand.Rand) float64 {
	pass := 0
	const tries = 200000
	for range tries {
		if f.has(r.Uint64()) {
			pass++
		}
	}
	return float64(pass) / tries
}

func BenchmarkIDFilter(b *testing.B) {
	in := make([]uint64, 1<<20)
	for i := range in {
		in[i] = rand.Uint64()
	}
	slices.Sort(in)
	f := filterOf(in)
	b.ResetTimer()
	hit := 0
	for i := range b.N {
		if f.has(uint64(i) * 0x9e3779b97f4a7c15) {
			hit++
		}
	}
	_ = hit
}
