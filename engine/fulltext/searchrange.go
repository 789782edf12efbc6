package fulltext

import (
	"context"
	"encoding/binary"
	"math"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/numeric"
	"github.com/blevesearch/bleve/v2/search"
	bq "github.com/blevesearch/bleve/v2/search/query"
	bsearcher "github.com/blevesearch/bleve/v2/search/searcher"
	index "github.com/blevesearch/bleve_index_api"
)

// searchRange is a bleve query matching the documents holding, in field, a
// number in lo…hi (inclusive) as searchNumber indexes numbers, and others
// near its ends: the range is rounded out to the grid of shift
// searchNumMin. Of the coarsest terms covering that exactly, it finds
// those that exist
// (probing a short piece's terms, walking the field's dictionary over a
// long one) and matches any of them.
type searchRange struct {
	field  string
	lo, hi float64
}

func newSearchRange(field string, lo, hi float64) *searchRange {
	return &searchRange{field: field, lo: lo, hi: hi}
}

// Searcher implements bleve's query.Query.
func (q *searchRange) Searcher(ctx context.Context, r index.IndexReader, _ mapping.IndexMapping, opts search.SearcherOptions) (search.Searcher, error) {
	if math.IsNaN(q.lo) || math.IsNaN(q.hi) || q.lo > q.hi {
		return bsearcher.NewMatchNoneSearcher(r)
	}
	var terms [][]byte
	var err error
	var contains index.FieldDictContains // opened for the first short piece
	grid := uint64(1)<<searchNumMin - 1  // the finest terms indexed
	splitSortable(sortable(q.lo)&^grid, sortable(q.hi)|grid, func(lo, hi uint64, shift uint) bool {
		if n := hi>>shift - lo>>shift; n < searchRangeProbe {
			// A short piece: probe its few terms.
			if contains == nil {
				rc, ok := r.(index.IndexReaderContains)
				if !ok {
					for k := range n + 1 {
						terms = append(terms, numeric.MustNewPrefixCodedInt64(unsortable(lo+k<<shift), shift))
					}
					return true
				}
				if contains, err = rc.FieldDictContains(q.field); err != nil {
					return false
				}
			}
			for k := range n + 1 {
				t := numeric.MustNewPrefixCodedInt64(unsortable(lo+k<<shift), shift)
				var found bool
				if found, err = contains.Contains(t); err != nil {
					return false
				}
				if found {
					terms = append(terms, t)
				}
			}
			return true
		}
		// A long piece: walk the terms the dictionary holds in it.
		start := numeric.MustNewPrefixCodedInt64(unsortable(lo), shift)
		end := numeric.MustNewPrefixCodedInt64(unsortable(hi), shift)
		var fd index.FieldDict
		if fd, err = r.FieldDictRange(q.field, start, end); err != nil {
			return false
		}
		defer fd.Close()
		for {
			var e *index.DictEntry
			if e, err = fd.Next(); err != nil || e == nil {
				return err == nil
			}
			terms = append(terms, []byte(e.Term))
		}
	})
	if err != nil {
		return nil, err
	}
	if len(terms) == 0 {
		return bsearcher.NewMatchNoneSearcher(r)
	}
	return bsearcher.NewMultiTermSearcherBytes(ctx, r, terms, q.field, 1, opts, false)
}

// searchRangeProbe is the number of terms up to which a piece of a range
// probes each of its terms in the field's dictionaries rather than walking
// them.
const searchRangeProbe = 32

// sortable maps a float64 to 64 bits ordered as the numbers are (the
// prefix-coded terms' bits).
func sortable(f float64) uint64 { return uint64(numeric.Float64ToInt64(f)) ^ 1<<63 }

// unsortable is sortable's inverse up to the float: the int64
// numeric.NewPrefixCodedInt64 takes.
func unsortable(u uint64) int64 { return int64(u ^ 1<<63) }

// splitSortable splits lo…hi (sortable bits, inclusive) into ranges of
// terms at shifts 0, searchNumStep, …: see splitRange. (Rounded to the grid
// of searchNumMin, lo…hi has no piece finer than it.)
func splitSortable(lo, hi uint64, fn func(lo, hi uint64, shift uint) bool) {
	splitRange(lo, hi, searchNumStep, 64, fn)
}

// splitRange splits lo…hi (inclusive, values below 1<<top) into ranges of
// terms at shifts 0, step, 2×step, … below top: fn(a, b, shift) stands for
// the terms a>>shift … b>>shift, which cover exactly a…b (a's low shift
// bits are zero and b's are ones). The ranges partition lo…hi, coarse in
// the middle, fine at the edges; a range aligned to a shift has no piece
// at a finer one. fn returns false to stop.
func splitRange(lo, hi uint64, step, top uint, fn func(lo, hi uint64, shift uint) bool) {
	for shift := uint(0); lo <= hi; shift += step {
		next := shift + step
		if next >= top {
			fn(lo, hi, shift)
			return
		}
		mask := uint64(1)<<next - 1
		if lo&mask == 0 && hi&mask == mask {
			continue // whole blocks of the next shift
		}
		if lo>>next == hi>>next {
			fn(lo, hi, shift)
			return
		}
		if lo&mask != 0 {
			// The partial block lo falls in (hi is past it).
			if !fn(lo, lo|mask, shift) {
				return
			}
			lo = (lo | mask) + 1
		}
		if hi&mask != mask {
			if !fn(hi&^mask, hi, shift) {
				return
			}
			hi = (hi &^ mask) - 1
		}
	}
}

// Positions are indexed in searchPosField as terms of their own, besides
// the numbers a payload key of that name may hold there: for each shift of
// searchPosShifts, the shift as one byte (below bleve's prefix-coded
// numbers' first bytes, and below any token's) and the position shifted
// right by it as 4 big-endian bytes. A range of positions is searched on a
// grid of 1<<searchPosShifts[0] positions.
var searchPosShifts = [...]uint{8, 12, 16, 20, 24, 28}

const searchPosStep = 4

func searchPosTerm(p uint64, shift uint) []byte {
	return binary.BigEndian.AppendUint32([]byte{byte(shift)}, uint32(p>>shift))
}

// searchPosRange is a bleve query matching the documents whose position
// is in lo…hi-1, rounded out to the grid.
type searchPosRange struct{ lo, hi uint64 }

// Searcher implements bleve's query.Query.
func (q *searchPosRange) Searcher(ctx context.Context, r index.IndexReader, _ mapping.IndexMapping, opts search.SearcherOptions) (search.Searcher, error) {
	if q.hi <= q.lo || q.lo >= 1<<32 {
		return bsearcher.NewMatchNoneSearcher(r)
	}
	grid := uint64(1)<<searchPosShifts[0] - 1
	lo, hi := q.lo&^grid, min(q.hi-1, 1<<32-1)|grid
	var terms [][]byte
	splitRange(lo, hi, searchPosStep, 32, func(a, b uint64, shift uint) bool {
		for k := a >> shift; k <= b>>shift; k++ {
			terms = append(terms, searchPosTerm(k<<shift, shift))
		}
		return true
	})
	return bsearcher.NewMultiTermSearcherBytes(ctx, r, terms, searchPosField, 1, opts, false)
}

// anyFieldQuery is a bleve query matching the documents holding, in one
// field, any of tokens (every one of them when all is set): a bare clause,
// which looks at every string of the payload, searched in each field of
// the index it runs on. Numeric and position fields are searched too:
// their terms are binary and seldom equal a token, which only adds
// candidates. No tokens match nothing.
type anyFieldQuery struct {
	tokens []string
	all    bool
}

// Searcher implements bleve's query.Query.
func (q *anyFieldQuery) Searcher(ctx context.Context, r index.IndexReader, m mapping.IndexMapping, opts search.SearcherOptions) (search.Searcher, error) {
	fields, err := r.Fields()
	if err != nil {
		return nil, err
	}
	var alts []bq.Query
	for _, f := range fields {
		if f == "_id" || len(q.tokens) == 0 {
			continue
		}
		per := make([]bq.Query, len(q.tokens))
		for i, t := range q.tokens {
			tq := bleve.NewTermQuery(t)
			tq.SetField(f)
			per[i] = tq
		}
		switch {
		case len(per) == 1:
			alts = append(alts, per[0])
		case q.all:
			alts = append(alts, bleve.NewConjunctionQuery(per...))
		default:
			alts = append(alts, bleve.NewDisjunctionQuery(per...))
		}
	}
	if len(alts) == 0 {
		return bsearcher.NewMatchNoneSearcher(r)
	}
	return bleve.NewDisjunctionQuery(alts...).Searcher(ctx, r, m, opts)
}
