package engine

import (
	"context"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/trovedb/trove"
)

// searcher narrows search queries over sealed segments. It is a
// placeholder until the background bleve index lands: it never narrows, so
// the planner verifies every candidate.
type searcher struct{ s *Store }

func newSearcher(s *Store) *searcher { return &searcher{s: s} }
func (x *searcher) start()           {}
func (x *searcher) stop()            {}
func (x *searcher) notify()          {}

// Search implements query.Searcher.
func (x *searcher) Search(ctx context.Context, q *trove.SearchQuery) (*roaring.Bitmap, uint32, bool) {
	return nil, 0, false
}
