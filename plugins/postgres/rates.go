package postgres

import (
	"fmt"
	"sync"

	"github.com/cespare/xxhash/v2"
)

// Filter rates.
//
// A walk (walk.go) learns how common its filter is only as it reads: its
// first window, sized for a filter matching one row in ten, is what a rare
// term pays before the walk can choose the position buckets or the GIN
// index. Queries repeat, though (the same status, the same tag, polled by
// a dashboard), so a Store remembers, per filter, the share of positions
// its last walk matched, and the next walk of that filter starts the way
// that share makes cheapest: a window sized for the limit, or the
// position buckets at once. The share only chooses how rows are read; the
// filter, and so the result, is the same every way, and a walk whose
// remembered share was wrong goes on from what it finds, as any walk does.

// maxRates bounds the filters remembered; past it, one is forgotten for
// each new one.
const maxRates = 1024

// minRateSpan is the fewest positions a walk must have read for its
// share to be remembered.
const minRateSpan = minWalkWindow

// rate is what a walk of a filter found: the share of the positions it
// read that matched, in a log of head positions.
type rate struct {
	rate float64
	head int64
}

// rates maps a filter (rateKey) to what its last walk found: at most
// maxRates of them, a few bytes each however long the filter.
type rates struct {
	mu sync.Mutex
	m  map[uint64]rate
}

func (r *rates) get(key uint64) (rate, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v, ok := r.m[key]
	return v, ok
}

func (r *rates) put(key uint64, v rate) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = make(map[uint64]rate)
	}
	if _, ok := r.m[key]; !ok && len(r.m) >= maxRates {
		for k := range r.m { // an arbitrary one
			delete(r.m, k)
			break
		}
	}
	r.m[key] = v
}

// rateKey names w's filter: a hash of its SQL and its values. Two filters
// with one hash would share a rate, which only chooses how rows are read.
func rateKey(w where) uint64 {
	d := xxhash.New()
	d.WriteString(w.sql)
	for _, a := range w.args {
		fmt.Fprintf(d, "\x00%v", a)
	}
	return d.Sum64()
}
