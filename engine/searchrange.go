package engine

import (
	"context"
	"math"

	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/numeric"
	"github.com/blevesearch/bleve/v2/search"
	bsearcher "github.com/blevesearch/bleve/v2/search/searcher"
	index "github.com/blevesearch/bleve_index_api"
)

// searchRange is a bleve query matching the documents holding, in field, a
// number in lo…hi (inclusive) as searchNumber indexes numbers: it finds the
// terms that exist among the coarsest ones covering the range exactly, by
// walking the field's dictionary, and matches any of them.
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
	splitSortable(sortable(q.lo), sortable(q.hi), func(lo, hi uint64, shift uint) bool {
		start := numeric.MustNewPrefixCodedInt64(unsortable(lo), shift)
		if lo>>shift == hi>>shift {
			terms = append(terms, start)
			return true
		}
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

// sortable maps a float64 to 64 bits ordered as the numbers are (the
// prefix-coded terms' bits).
func sortable(f float64) uint64 { return uint64(numeric.Float64ToInt64(f)) ^ 1<<63 }

// unsortable is sortable's inverse up to the float: the int64
// numeric.NewPrefixCodedInt64 takes.
func unsortable(u uint64) int64 { return int64(u ^ 1<<63) }

// splitSortable splits lo…hi (sortable bits, inclusive) into ranges of
// terms at shifts 0, searchNumStep, …: fn(a, b, shift) stands for the terms
// a>>shift … b>>shift, which cover exactly a…b (a's low shift bits are
// zero and b's are ones, except at shift 0). The ranges partition lo…hi,
// coarse in the middle, fine at the edges. fn returns false to stop.
func splitSortable(lo, hi uint64, fn func(lo, hi uint64, shift uint) bool) {
	for shift := uint(0); lo <= hi; shift += searchNumStep {
		next := shift + searchNumStep
		if next >= 64 || lo>>next == hi>>next {
			fn(lo, hi, shift)
			return
		}
		mask := uint64(1)<<next - 1
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
