package query

import (
	"cmp"
	"slices"

	"github.com/trovedb/trove/index"
)

// A createdAt-ordered run with a limit walks the time column's chunks
// (index.ChunkSize positions each, with their least and greatest createdAt)
// best bound first and keeps the best k candidates in a bounded heap; it
// stops at the first chunk whose bound cannot beat the k-th best. Events
// are nearly time-ordered by position, so the newest (or oldest) few sit
// in the last (first) chunks, but nothing here assumes it: an imported
// event with any createdAt is found through its chunk's bound. The
// positions after the last complete chunk have no summary and are always
// read.

// createdKey orders positions as the query's sort does, smallest first:
// createdAt ascending, or descending through its bitwise complement (which
// cannot overflow), ties by position.
type createdKey struct {
	key int64
	pos uint32
}

func (a createdKey) less(b createdKey) bool {
	return a.key < b.key || a.key == b.key && a.pos < b.pos
}

// chunkBound is one time chunk: positions lo…hi-1, whose keys are all at
// least bound.
type chunkBound struct {
	bound  int64
	lo, hi uint64
}

// createdOrder yields the candidates that pass metaOK in createdAt order
// (desc: newest first), ties by position. want is how many the consumer
// probably takes (< 0: all): the walk plans for that many and doubles when
// the consumer asks for more (candidates that fail verification).
func (p *Plan) createdOrder(desc bool, want int) func(yield func(uint32) bool) {
	if want < 0 {
		return p.byCreated(desc)
	}
	return func(yield func(uint32) bool) {
		k := max(want, 16)
		done := 0
		for {
			top := p.topCreated(desc, k)
			for _, c := range top[done:] {
				if !yield(c.pos) {
					return
				}
			}
			if len(top) < k {
				return
			}
			done = len(top)
			k *= 2
		}
	}
}

// key returns pos's sort key.
func (p *Plan) key(pos uint32, desc bool) createdKey {
	t := p.cols.Created(pos)
	if desc {
		t = ^t
	}
	return createdKey{key: t, pos: pos}
}

// topCreated returns the first k candidates passing metaOK in createdAt
// order (fewer when there are fewer), sorted.
func (p *Plan) topCreated(desc bool, k int) []createdKey {
	c := p.cols
	top := make(topHeap, 0, k)
	buf := make([]uint32, 0, index.ChunkSize)
	meta := p.metaFilters()
	// visit offers the candidates of positions lo…hi-1 to top.
	visit := func(lo, hi uint64) {
		// Collect them, then visit them newest first when descending:
		// with nearly time-ordered positions the heap then fills with
		// the best ones early and most of the rest are rejected with one
		// comparison.
		buf = p.candidatesIn(buf[:0], lo, hi)
		for i := range buf {
			pos := buf[i]
			if desc {
				pos = buf[len(buf)-1-i]
			}
			if meta && !p.metaOK(pos) {
				continue
			}
			key := p.key(pos, desc)
			switch {
			case len(top) < k:
				top.push(key)
			case key.less(top[0]):
				top[0] = key
				top.down(0)
			}
		}
	}
	// The positions after the last complete chunk have no bound: first.
	n := c.Chunks()
	if tail := uint64(n)*index.ChunkSize + 1; tail <= uint64(p.last) {
		visit(tail, uint64(p.last)+1)
	}
	// One pass over the bounds, the likely best chunks first, keeps only
	// the chunks that can still beat the k-th best (which only gets
	// better); they are then visited best bound first. A group of chunks
	// whose own bound cannot beat it is passed over whole.
	var h chunkHeap
	// bound returns the best key times tlo…thi could give, and whether it
	// is worse than the k-th best already found.
	bound := func(tlo, thi int64) (b int64, beaten bool) {
		b = tlo
		if desc {
			b = ^thi
		}
		return b, len(top) == k && top[0].key < b
	}
	chunk := func(i int) {
		lo := uint64(i)*index.ChunkSize + 1
		if lo > uint64(p.last) {
			return
		}
		b, beaten := bound(c.ChunkRange(i))
		if beaten {
			return
		}
		ch := chunkBound{bound: b, lo: lo, hi: min(lo+index.ChunkSize, uint64(p.last)+1)}
		if len(top) < k {
			// Not k candidates yet: nothing to compare with, visit now.
			visit(ch.lo, ch.hi)
			return
		}
		h = append(h, ch)
	}
	group := func(g int) {
		if _, beaten := bound(c.GroupRange(g)); beaten {
			return
		}
		for j := range index.GroupChunks {
			i := g*index.GroupChunks + j
			if desc {
				i = (g+1)*index.GroupChunks - 1 - j
			}
			chunk(i)
		}
	}
	grouped := c.Groups() * index.GroupChunks // chunks before it are in groups
	if desc {
		for i := n - 1; i >= grouped; i-- {
			chunk(i)
		}
		for g := c.Groups() - 1; g >= 0; g-- {
			group(g)
		}
	} else {
		for g := range c.Groups() {
			group(g)
		}
		for i := grouped; i < n; i++ {
			chunk(i)
		}
	}
	h.init()
	for len(h) > 0 {
		ch := h.pop()
		if len(top) == k && top[0].key < ch.bound {
			break // every chunk left starts past the k-th best
		}
		visit(ch.lo, ch.hi)
	}
	slices.SortFunc(top, func(a, b createdKey) int {
		if r := cmp.Compare(a.key, b.key); r != 0 {
			return r
		}
		return cmp.Compare(a.pos, b.pos)
	})
	return top
}

// chunkHeap is a min-heap of chunks by bound.
type chunkHeap []chunkBound

func (h chunkHeap) init() {
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}

func (h *chunkHeap) pop() chunkBound {
	old := *h
	n := len(old) - 1
	top := old[0]
	old[0] = old[n]
	*h = old[:n]
	h.down(0)
	return top
}

func (h chunkHeap) down(i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h[r].bound < h[l].bound {
			m = r
		}
		if h[i].bound <= h[m].bound {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

// topHeap is a max-heap of keys: its root is the worst of the best k.
type topHeap []createdKey

func (h *topHeap) push(k createdKey) {
	*h = append(*h, k)
	s := *h
	i := len(s) - 1
	for i > 0 {
		parent := (i - 1) / 2
		if !s[parent].less(s[i]) {
			return
		}
		s[i], s[parent] = s[parent], s[i]
		i = parent
	}
}

func (h topHeap) down(i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h[l].less(h[r]) {
			m = r
		}
		if !h[i].less(h[m]) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}
