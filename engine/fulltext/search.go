package fulltext

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/search"
	bq "github.com/blevesearch/bleve/v2/search/query"
	"github.com/trovedb/trove"
	"github.com/trovedb/trove/query"
)

// Index keeps a bleve index of the payloads of sealed events, and of
// the unsealed ones once the store is quiet, built in the background
// (never on the ingest path), and narrows search queries and payload
// equalities on unindexed paths to
// candidates among the positions it has indexed. Its documents
// (searchdoc.go) hold text split exactly as trove.Tokenize splits it, and
// every clause is translated into a bleve query matching a superset of
// what the clause matches, so that candidates verified with the query's
// Match give exact results. It reads the events from its Source.
type Index struct {
	src     Source
	logger  *slog.Logger
	path    string
	logLast uint64      // the log's last position when the index was opened
	idx     bleve.Index // nil when the index could not be opened
	upTo    atomic.Uint32
	mu      sync.Mutex // serialises indexing steps
	wake    chan struct{}
	stopCh  chan struct{}
	wg      sync.WaitGroup
}

var (
	_ query.Searcher      = (*Index)(nil)
	_ query.RangeSearcher = (*Index)(nil)
	_ query.TermSearcher  = (*Index)(nil)
)

const (
	searchUpToKey = "trove.upto"
	searchBatch   = 1000
	// searchMappingKey holds searchMappingVersion in the index; an index
	// built with another mapping is rebuilt.
	searchMappingKey = "trove.mapping"
	// searchMappingVersion 7: documents built from the payload's JSON
	// (searchdoc.go): text and boolean fields without term vectors or
	// frequencies, tokens exactly trove.Tokenize's, numbers with a
	// precision step of 8 from shift 24, no "_all" field; no stored fields
	// or doc values beyond the document id; each document holds its
	// position in searchPosField. (6: numbers from shift 0, booleans with
	// frequencies, an "_all" field of the text.)
	searchMappingVersion = "7"
	// searchPosField holds each document's position (searchPosShifts), so
	// that a search can be asked for one range of positions. A payload key
	// of the same name keeps its values there too (the field holds both,
	// with terms apart).
	searchPosField = "_trove_pos"
)

// searchMapping is the index's mapping. Documents never go through it
// (buildSearchDoc builds them) and queries analyze no text (term queries
// carry trove.Tokenize's tokens), so it says only that nothing is stored.
func searchMapping() *mapping.IndexMappingImpl {
	m := bleve.NewIndexMapping()
	m.IndexDynamic = false
	m.StoreDynamic = false
	m.DocValuesDynamic = false
	return m
}

// Open opens the index in the directory path, for a log whose last
// position is logLast, and returns it unstarted. The index is rebuilt
// (empty) when it is missing, damaged, built with another mapping or
// ahead of the log. When it cannot be opened at all, err says why and the
// Index returned still works: its searches never help (ok false) and it
// indexes nothing.
func Open(path string, logLast uint64, src Source, logger *slog.Logger) (x *Index, err error) {
	x = &Index{src: src, logger: logger, path: path, logLast: logLast, wake: make(chan struct{}, 1), stopCh: make(chan struct{})}
	return x, x.open()
}

// open opens the bleve index, rebuilding it when it is damaged or ahead of
// the log.
func (x *Index) open() error {
	idx, err := bleve.Open(x.path)
	if err == nil {
		var upTo uint64
		if b, gerr := idx.GetInternal([]byte(searchUpToKey)); gerr == nil && len(b) == 8 {
			upTo = binary.LittleEndian.Uint64(b)
		}
		ver, _ := idx.GetInternal([]byte(searchMappingKey))
		switch {
		case string(ver) != searchMappingVersion:
			err = fmt.Errorf("index mapping version %q, want %q", ver, searchMappingVersion)
		case upTo <= x.logLast:
			x.idx = idx
			x.upTo.Store(uint32(upTo))
			return nil
		default:
			err = fmt.Errorf("index ahead of the log (%d > %d)", upTo, x.logLast)
		}
		idx.Close()
	}
	if !errors.Is(err, bleve.ErrorIndexPathDoesNotExist) {
		x.logger.Warn("rebuilding the search index", "err", err)
	}
	if err := os.RemoveAll(x.path); err != nil {
		return err
	}
	idx, err = bleve.New(x.path, searchMapping())
	if err != nil {
		return err
	}
	if err := idx.SetInternal([]byte(searchMappingKey), []byte(searchMappingVersion)); err != nil {
		idx.Close()
		return err
	}
	x.idx = idx
	return nil
}

// Start starts the background indexer (nothing when the index could not
// be opened).
func (x *Index) Start() {
	if x.idx == nil {
		return
	}
	x.wg.Add(1)
	go x.run()
	x.Notify()
}

// Close stops the background indexer, waits for its batch in progress, and
// closes the index. It must be called once, and not while paused.
func (x *Index) Close() {
	close(x.stopCh)
	x.wg.Wait()
	if x.idx != nil {
		x.idx.Close()
	}
}

// Notify wakes the indexer: a segment was sealed.
func (x *Index) Notify() {
	select {
	case x.wake <- struct{}{}:
	default:
	}
}

func (x *Index) stopped() bool {
	select {
	case <-x.stopCh:
		return true
	default:
		return false
	}
}

// run indexes events in batches until stopped, woken by a seal or every
// second: sealed events always, the unsealed committed ones once no event
// was committed for a second (so that a quiet store is fully indexed while
// a busy one's writers share neither CPU nor disk with bleve's small
// batches).
//
// While the store is busy saving (Source.Busy), the indexer leaves the CPU
// to the saves: it indexes one batch every searchBusyPace, a few per cent
// of one core, so that it still progresses under sustained ingest. Search
// stays exact meanwhile (what is not indexed yet is scanned), and the lag
// is caught up at full speed once the load drops.
const searchBusyPace = 5 * time.Second

func (x *Index) run() {
	defer x.wg.Done()
	var prev uint64
	changed := time.Now()
	var paced time.Time // when the last batch indexed while busy started
	for {
		select {
		case <-x.stopCh:
			return
		case <-x.wake:
		case <-time.After(time.Second):
		}
		if _, last := x.src.Positions(); last != prev {
			prev, changed = last, time.Now()
		}
		quiet := time.Since(changed) >= time.Second
		for !x.stopped() {
			busy := x.src.Busy()
			if busy && time.Since(paced) < searchBusyPace {
				break // until the next wake-up
			}
			start := time.Now()
			more, err := x.Step(quiet)
			if err != nil {
				x.logger.Warn("search indexing failed; search queries scan the rest", "err", err)
				return
			}
			if busy {
				paced = start
			}
			if !more {
				break
			}
		}
	}
}

// Step indexes the next batch of sealed events, or, with unsealed, of
// committed events (only committed ones: recovery keeps every one of them,
// so the index is never ahead of the log it reopens with, unless the WAL
// was not synced); more is false when every such event is indexed. The
// background indexer takes the same steps; Step lets a caller take them
// itself, whether the indexer runs or not, until Close.
func (x *Index) Step(unsealed bool) (more bool, err error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.idx == nil {
		return false, nil
	}
	target, last := x.src.Positions()
	if unsealed {
		target = last
	}
	from := uint64(x.upTo.Load())
	if from >= target {
		return false, nil
	}
	return true, x.index(from+1, min(from+searchBatch, target))
}

func (x *Index) index(from, to uint64) error {
	b := x.idx.NewBatch()
	err := x.src.Payloads(from, to, func(pos uint64, payload []byte) error {
		doc, err := buildSearchDoc(pos, payload)
		if err != nil {
			return err
		}
		return b.IndexAdvanced(doc)
	})
	if err != nil {
		return err
	}
	var up [8]byte
	binary.LittleEndian.PutUint64(up[:], to)
	b.SetInternal([]byte(searchUpToKey), up[:])
	if err := x.idx.Batch(b); err != nil {
		return err
	}
	x.upTo.Store(uint32(to))
	return nil
}

// UpTo returns the last position the index covers: every position 1…UpTo
// is indexed (0: none).
func (x *Index) UpTo() uint32 { return x.upTo.Load() }

// Pause waits for the indexing step in progress, if any, and holds every
// further step (the background indexer's and Step) back until Resume.
// Searches go on meanwhile, over what was indexed before.
func (x *Index) Pause() { x.mu.Lock() }

// Resume lets indexing go on after Pause.
func (x *Index) Resume() { x.mu.Unlock() }

// StatsMap returns bleve's figures of the index (nil when the index could
// not be opened).
func (x *Index) StatsMap() map[string]any {
	if x.idx == nil {
		return nil
	}
	return x.idx.StatsMap()
}

// Search implements query.Searcher: candidates among 1…upTo.
func (x *Index) Search(ctx context.Context, sq *trove.SearchQuery) (*roaring.Bitmap, uint32, bool) {
	q, ok := supersetQuery(sq)
	if !ok {
		return nil, 0, false
	}
	return x.hits(ctx, q)
}

// SearchRange implements query.RangeSearcher: candidates among lo…hi-1
// and 1…upTo, from the documents whose position field falls in the range.
func (x *Index) SearchRange(ctx context.Context, sq *trove.SearchQuery, lo, hi uint64) (*roaring.Bitmap, uint32, bool) {
	q, ok := supersetQuery(sq)
	if !ok || hi <= lo {
		return nil, 0, false
	}
	// The grid's extra positions are removed below.
	r := &searchPosRange{lo: lo, hi: hi}
	bm, upTo, ok := x.hits(ctx, bleve.NewConjunctionQuery(q, r))
	if ok {
		bm.RemoveRange(0, lo)
		bm.RemoveRange(hi, 1<<32)
	}
	return bm, upTo, ok
}

// SearchTerms implements query.TermSearcher: candidates among 1…upTo for
// payload equalities the engine's own index does not cover (paths past
// its high-cardinality guard). Every term that can be translated narrows
// the candidates; ok is false when none can.
func (x *Index) SearchTerms(ctx context.Context, terms []trove.PayloadTerm) (*roaring.Bitmap, uint32, bool) {
	if x.idx == nil {
		return nil, 0, false
	}
	var must []bq.Query
	for _, t := range terms {
		if q, ok := termQuery(t); ok {
			must = append(must, q)
		}
	}
	if len(must) == 0 {
		return nil, 0, false
	}
	return x.hits(ctx, bleve.NewConjunctionQuery(must...))
}

// hits returns the positions of the documents q matches and the last
// position the index covered when the search began. It walks bleve's
// searcher directly: no scores, no sorting, no stored fields beyond each
// hit's id, and no result page to hold every hit.
func (x *Index) hits(ctx context.Context, q bq.Query) (*roaring.Bitmap, uint32, bool) {
	upTo := x.upTo.Load()
	if x.idx == nil || upTo == 0 {
		return nil, 0, false
	}
	ix, err := x.idx.Advanced()
	if err != nil {
		return nil, 0, false
	}
	r, err := ix.Reader()
	if err != nil {
		return nil, 0, false
	}
	defer r.Close()
	s, err := q.Searcher(ctx, r, x.idx.Mapping(), search.SearcherOptions{Score: "none"})
	if err != nil {
		return nil, 0, false
	}
	defer s.Close()
	sctx := &search.SearchContext{DocumentMatchPool: search.NewDocumentMatchPool(s.DocumentMatchPoolSize(), 0), IndexReader: r}
	bm := roaring.New()
	for n := 0; ; n++ {
		if n&1023 == 1023 && ctx.Err() != nil {
			return nil, 0, false
		}
		dm, err := s.Next(sctx)
		if err != nil {
			return nil, 0, false
		}
		if dm == nil {
			break
		}
		id, err := r.ExternalID(dm.IndexInternalID)
		if err != nil {
			return nil, 0, false
		}
		if p, err := strconv.ParseUint(id, 10, 32); err == nil {
			bm.Add(uint32(p))
		}
		sctx.DocumentMatchPool.Put(dm)
	}
	return bm, upTo, true
}

// termQuery translates a payload equality into a bleve query matching at
// least every payload holding the value at the path: every token of a
// string (the analyzer's tokens of the same string), the number as a
// one-point range, the boolean. A null, a string without tokens and a
// number float64 cannot hold are not translated (ok false), nor is a
// path whose first key starts with an underscore.
func termQuery(t trove.PayloadTerm) (bq.Query, bool) {
	if len(t.Keys) == 0 {
		return nil, false
	}
	field := searchFieldName(strings.Join(t.Keys, "."))
	switch v := t.Value.(type) {
	case string:
		toks := trove.Tokenize(v)
		if len(toks) == 0 {
			return nil, false
		}
		qs := make([]bq.Query, len(toks))
		for i, tok := range toks {
			tq := bleve.NewTermQuery(tok)
			tq.SetField(field)
			qs[i] = tq
		}
		return bleve.NewConjunctionQuery(qs...), true
	case json.Number:
		f := searchFloat(string(v))
		if math.IsInf(f, 0) {
			return nil, false
		}
		return newSearchRange(field, f, f), true
	case bool:
		q := bleve.NewBoolFieldQuery(v)
		q.SetField(field)
		return q, true
	}
	return nil, false
}

// supersetQuery translates a search into a bleve query matching at least
// every payload the search matches. Forbidden clauses cannot narrow a
// superset and are left to verification; a query of only forbidden clauses
// is not translated (ok false).
func supersetQuery(sq *trove.SearchQuery) (bq.Query, bool) {
	var must, should []bq.Query
	for i := range sq.Clauses {
		c := &sq.Clauses[i]
		switch c.Occur {
		case trove.Must:
			must = append(must, clauseQuery(c))
		case trove.Should:
			should = append(should, clauseQuery(c))
		}
	}
	switch {
	case len(must) == 1:
		return must[0], true
	case len(must) > 0:
		return bleve.NewConjunctionQuery(must...), true
	case len(should) == 1:
		return should[0], true
	case len(should) > 0:
		return bleve.NewDisjunctionQuery(should...), true
	}
	return nil, false
}

func clauseQuery(c *trove.SearchClause) bq.Query {
	if c.Field == "" {
		// A bare clause (a word or a phrase: ranges need a field).
		return &anyFieldQuery{tokens: c.Tokens, all: c.Kind == trove.PhraseClause}
	}
	field := searchFieldName(c.Field)
	terms := func() []bq.Query {
		qs := make([]bq.Query, len(c.Tokens))
		for i, t := range c.Tokens {
			tq := bleve.NewTermQuery(t)
			tq.SetField(field)
			qs[i] = tq
		}
		return qs
	}
	switch c.Kind {
	case trove.PhraseClause:
		// Every token present, in any order: a superset of "in a row".
		return bleve.NewConjunctionQuery(terms()...)
	case trove.RangeClause:
		f := searchFloat(string(c.Number))
		// Rounding to float64 is monotone: x > N implies float(x) ≥ float(N),
		// so inclusive bounds at float(N) keep every match. The open end
		// includes the numbers indexed as infinite.
		if strings.HasPrefix(c.Op, ">") {
			return newSearchRange(field, f, math.Inf(1))
		}
		return newSearchRange(field, math.Inf(-1), f)
	}
	alts := terms()
	if f, err := strconv.ParseFloat(c.Text, 64); err == nil && !math.IsNaN(f) {
		f = searchFloat(c.Text)
		alts = append(alts, newSearchRange(field, f, f))
	} else if trove.IsJSONNumber(c.Text) {
		// A number float64 cannot hold: match any number.
		alts = append(alts, newSearchRange(field, math.Inf(-1), math.Inf(1)))
	}
	for _, b := range []bool{true, false} {
		if strings.EqualFold(c.Text, strconv.FormatBool(b)) {
			q := bleve.NewBoolFieldQuery(b)
			q.SetField(field)
			alts = append(alts, q)
		}
	}
	if len(alts) == 1 {
		return alts[0]
	}
	return bleve.NewDisjunctionQuery(alts...)
}

// searchFloat is the float64 a JSON number is indexed and searched as:
// rounded, ±Inf past the range, and zero for -0 (bleve keeps -0 and 0
// apart, JSON's numbers do not).
func searchFloat(num string) float64 {
	f, _ := strconv.ParseFloat(num, 64)
	if f == 0 {
		return 0
	}
	return f
}
