package postgres

import "testing"

// The remembered rates stay within maxRates, a new filter replacing an
// old one, and a remembered filter is updated in place.
func TestRatesBounded(t *testing.T) {
	var r rates
	if _, ok := r.get(1); ok {
		t.Fatal("an empty map remembers a filter")
	}
	for i := range 3 * maxRates {
		r.put(uint64(i), rate{rate: float64(i), head: int64(i)})
		if n := len(r.m); n > maxRates {
			t.Fatalf("after %d filters, %d remembered, want at most %d", i+1, n, maxRates)
		}
	}
	last := uint64(3*maxRates - 1)
	if v, ok := r.get(last); !ok || v.rate != float64(3*maxRates-1) {
		t.Fatalf("the newest filter: %v %v", v, ok)
	}
	r.put(last, rate{rate: 0.5, head: 10})
	if v, _ := r.get(last); v.rate != 0.5 || v.head != 10 || len(r.m) != maxRates {
		t.Fatalf("updating a filter: %v, %d remembered", v, len(r.m))
	}
}

// Filters with the same SQL and other values, or other SQL, are apart.
func TestRateKey(t *testing.T) {
	a := rateKey(where{sql: " AND x = $1", args: []any{"a"}})
	b := rateKey(where{sql: " AND x = $1", args: []any{"b"}})
	c := rateKey(where{sql: " AND y = $1", args: []any{"a"}})
	if a == b || a == c || b == c {
		t.Fatalf("keys collide: %x %x %x", a, b, c)
	}
	if a != rateKey(where{sql: " AND x = $1", args: []any{"a"}}) {
		t.Fatal("the same filter gives two keys")
	}
}
