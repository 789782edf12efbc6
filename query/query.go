package query

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/trovedb/trove"
	"github.com/trovedb/trove/index"
)

// Source gives the planner the events the index points at.
type Source interface {
	// Event returns the stored event at pos, a position the index held when
	// the plan was made. Its Links are the event's own links.
	Event(pos uint32) (trove.Event, error)
}

// RawSource is a Source that also hands out an event's payload alone,
// undecoded, so that candidates failing the query's payload tests are
// never decoded whole. The planner neither modifies nor keeps the bytes.
type RawSource interface {
	Source
	Payload(pos uint32) ([]byte, error)
}

// Searcher narrows a search query to candidates. Search returns positions
// that may match among 1…upTo (a superset of the true matches there);
// positions after upTo are not covered and the planner scans them. ok
// false means the searcher cannot help with this query.
type Searcher interface {
	Search(ctx context.Context, q *trove.SearchQuery) (cand *roaring.Bitmap, upTo uint32, ok bool)
}

// TermSearcher is a Searcher that can also narrow payload equalities on
// paths the index does not cover (past its high-cardinality guard).
// SearchTerms returns positions that may hold every term among 1…upTo (a
// superset); ok false means it cannot help with these terms.
type TermSearcher interface {
	SearchTerms(ctx context.Context, terms []trove.PayloadTerm) (cand *roaring.Bitmap, upTo uint32, ok bool)
}

// RangeSearcher is a Searcher that can be asked for one range of
// positions: SearchRange returns positions among lo…hi-1 that may match,
// a superset of the true matches among them that are also in 1…upTo.
// Position-ordered pages of a search are then planned window by window,
// and a page near the edge never enumerates every hit.
type RangeSearcher interface {
	SearchRange(ctx context.Context, q *trove.SearchQuery, lo, hi uint64) (cand *roaring.Bitmap, upTo uint32, ok bool)
}

// Options adjust Run.
type Options struct {
	Searcher Searcher // nil: search clauses are evaluated by scanning
	// Bounded, with Last, bounds the positions the query sees: the index
	// as it was when Last was its last position, for a writer that indexes
	// positions before it makes them visible. Unbounded: every indexed
	// position.
	Bounded bool
	Last    uint32
	// window overrides firstWindow (0: firstWindow), for tests.
	window uint64
	// links keeps, across the windows of one run, the positions linking
	// to each target (nil: too many to keep); see Plan.linkTarget.
	links map[string]*roaring.Bitmap
	// segTerms keeps, across the windows of one run, the segment
	// indexes' answers for the payload terms the index does not cover
	// (Plan.segmentTerm).
	segTerms map[string]segTerm
}

// segTerm is index.Reader.SegmentTerm's answer for one payload term.
type segTerm struct {
	bm   *roaring.Bitmap
	upTo uint32
	ok   bool
}

// Plan is a query made concrete against one state of an index.
type Plan struct {
	q    *trove.CompiledQuery
	ix   *index.Index
	last uint32
	cols index.Columns
	// cand holds the candidate positions; every match is in it. When full
	// is set, cand is nil and the candidates are every position in 1…last
	// but those in excl (nil: none): a query without postings (a plain
	// newest-first page) then never builds a bitmap of the whole log.
	// candidates builds cand.
	cand       *roaring.Bitmap
	full       bool
	excl       *roaring.Bitmap
	schemaOK   []bool // by schema number; nil: no schema filter
	producerOK []bool // by producer number; nil: no producer filter
	start, end int64  // createdAt bounds in unix ms
	hasStart   bool
	hasEnd     bool
	needLinks  bool
	links      map[string]*roaring.Bitmap // Options.links
	segTerms   map[string]segTerm         // Options.segTerms
	needBody   bool
	// fastTerms verify payload equalities on the raw payload (no decoding)
	// when nothing else needs the decoded payload.
	fastTerms []fastTerm
	// partial, when not nil, are the only top-level payload keys the
	// query looks at: check decodes just those members (partialPayload).
	partial []string
	// rawTests: the payload tests are run on a RawSource's payload before
	// the event is decoded (when most candidates are expected to fail).
	rawTests bool
}

type fastTerm struct {
	keys  []string
	value string // value key
	// lit, when not nil, is how a string value appears in any payload
	// without a backslash (the value has nothing JSON must escape): such a
	// payload is verified by rawMatch, and one without lit cannot match.
	lit []byte
	// scan is set for terms the index does not cover, whose candidates
	// are mostly not matches: they are first looked for as lit.
	scan bool
}

// NewPlan builds the plan of q over the index as it stands: the candidate
// bitmap is the intersection of the schema, producer, link and payload
// postings, pruned by time chunks, minus superseded versions unless q
// considers all versions. It holds the index's read lock only while it
// combines bitmaps.
func NewPlan(ctx context.Context, ix *index.Index, q *trove.CompiledQuery, opts Options) *Plan {
	return compile(ctx, ix, q, opts, nil)
}

// window is a range of positions lo…hi-1 a windowed run plans at once.
type window struct {
	lo, hi uint64
	size   uint64 // what hi-lo becomes when compile moves the window
	desc   bool
}

// compile is Compile with the candidates restricted to window w when w is
// not nil. compile first moves w, keeping its size, past the positions no
// posting the query needs holds (after the last such position when w.desc,
// before the first one otherwise).
func compile(ctx context.Context, ix *index.Index, q *trove.CompiledQuery, opts Options, w *window) *Plan {
	p := &Plan{q: q, ix: ix, needLinks: len(q.LinkCriteria()) > 0, needBody: q.NeedsPayload(), links: opts.links, segTerms: opts.segTerms}
	p.planFastTerms()
	if p.needBody {
		p.partial = partialKeys(q)
	}
	p.planTimeBounds()
	var unindexed, unanswered []trove.PayloadTerm
	ix.Read(func(r index.Reader) {
		p.last = r.Last()
		p.cols = r.Columns()
		if opts.Bounded && opts.Last < p.last {
			p.last = opts.Last
			p.cols = p.cols.Upto(p.last)
		}
		var must []posting
		must, unindexed = p.postings(r)
		must = p.segmentPostings(r, must, unindexed)
		if w != nil {
			w.move(must, p.last)
		}
		if len(must) == 0 && w == nil {
			p.full = true
		} else {
			p.cand = intersect(must, w, p.last)
		}
		unanswered = p.narrowBySegments(r, unindexed)
		if !q.AllVersions() {
			p.dropSuperseded(r)
		}
	})
	// Candidates of postings are mostly matches; those of a scan or a
	// search mostly not.
	p.rawTests = len(unindexed) > 0 && (p.fastTerms != nil || p.partial != nil) || q.SearchQuery() != nil && p.partial != nil
	p.narrowBySearchers(ctx, opts, w, unanswered)
	if !p.full {
		p.cand.RemoveRange(uint64(p.last)+1, 1<<32)
	}
	return p
}

// candidates returns the candidate bitmap, building it when the plan
// holds every position (full).
func (p *Plan) candidates() *roaring.Bitmap {
	if p.full {
		p.cand = roaring.New()
		if p.last > 0 {
			p.cand.AddRange(1, uint64(p.last)+1)
		}
		if p.excl != nil {
			p.cand.AndNot(p.excl)
		}
		p.full, p.excl = false, nil
	}
	return p.cand
}

// candidatesIn appends the candidates in lo…hi-1 to buf, ascending.
func (p *Plan) candidatesIn(buf []uint32, lo, hi uint64) []uint32 {
	if p.full {
		for pos := lo; pos < hi; pos++ {
			if p.excl == nil || !p.excl.Contains(uint32(pos)) {
				buf = append(buf, uint32(pos))
			}
		}
		return buf
	}
	var it roaring.IntIterator
	it.Initialize(p.cand)
	it.AdvanceIfNeeded(uint32(lo))
	for it.HasNext() && uint64(it.PeekNext()) < hi {
		buf = append(buf, it.Next())
	}
	return buf
}

// planFastTerms sets up the payload terms that can be tested on the raw
// payload (no search, no payload sort, every value indexable); with them
// the payload need not be decoded.
func (p *Plan) planFastTerms() {
	q := p.q
	if q.SearchQuery() != nil || sortsByPayload(q) || len(q.PayloadTerms()) == 0 {
		return
	}
	p.fastTerms = []fastTerm{}
	for _, t := range q.PayloadTerms() {
		vk, ok := index.ValueKey(t.Value)
		if !ok {
			p.fastTerms = nil
			return
		}
		ft := fastTerm{keys: t.Keys, value: vk}
		if plainKeys(t.Keys) {
			ft.lit = literal(t.Value)
		}
		p.fastTerms = append(p.fastTerms, ft)
	}
	p.needBody = false
}

// planTimeBounds takes the query's time range in milliseconds.
func (p *Plan) planTimeBounds() {
	st, hs, en, he := p.q.TimeBounds()
	p.start, p.hasStart, p.end, p.hasEnd = st.UnixMilli(), hs, en.UnixMilli(), he
	if !st.IsZero() && hs && st.Nanosecond()%1e6 != 0 {
		// A bound between milliseconds: events sit on whole milliseconds.
		p.start++
	}
}

// postings returns the bitmaps every candidate must be in (schema,
// producer, link, indexed payload terms, time), and the payload terms the
// index does not cover.
func (p *Plan) postings(r index.Reader) (must []posting, unindexed []trove.PayloadTerm) {
	q := p.q
	empty := bitmapPosting{roaring.New()}
	orOf := func(names map[string]bool, get func(string) index.Posting) posting {
		var any anyOf
		for n := range names {
			any = append(any, get(n))
		}
		switch len(any) {
		case 0:
			return empty
		case 1:
			return any[0]
		}
		return any
	}
	if s := q.Schemas(); s != nil {
		must = append(must, orOf(s, r.Schema))
		p.schemaOK = allowed(p.cols.Schemas, s)
	}
	if s := q.Producers(); s != nil {
		must = append(must, orOf(s, r.Producer))
		p.producerOK = allowed(p.cols.Producers, s)
	}
	for _, cr := range q.LinkCriteria() {
		target := ""
		if cr.TargetEvent != nil {
			target = cr.TargetEvent.ID
		}
		if cr.Type != "" {
			must = append(must, r.LinkType(cr.Type))
		}
		if target != "" {
			must = append(must, p.linkTarget(r, target))
		}
		if cr.Type == "" && target == "" {
			must = append(must, r.AnyLink())
		}
	}
	for i, t := range q.PayloadTerms() {
		vk, ok := index.ValueKey(t.Value)
		if !ok {
			must = append(must, empty)
			continue
		}
		if tp, indexed := r.Term(t.Path, vk); indexed {
			must = append(must, tp)
		} else {
			unindexed = append(unindexed, t)
			if p.fastTerms != nil {
				p.fastTerms[i].scan = true
			}
		}
	}
	if p.hasStart || p.hasEnd {
		must = append(must, bitmapPosting{p.timeRanges()})
	}
	return must, unindexed
}

// keptLinks bounds the positions linking to a target that a windowed run
// keeps (Plan.linkTarget).
const keptLinks = 1 << 12

// linkTarget returns the posting of the positions linking to target. In
// a windowed run, the first window reads it whole and, when it holds at
// most keptLinks positions (most targets have one or two), keeps a copy
// for the later windows: a target's posting asks every segment index, and
// a window's bound and its bitmap each asked them again, window after
// window.
func (p *Plan) linkTarget(r index.Reader, target string) posting {
	lp := r.LinkTarget(target)
	if p.links == nil {
		return lp
	}
	bm, ok := p.links[target]
	if !ok {
		if bm = lp.Bitmap(1, uint64(p.last)+1); bm.GetCardinality() > keptLinks {
			bm = nil
		} else {
			bm = bm.Clone() // it may read a segment index in place
			bm.RemoveRange(uint64(p.last)+1, 1<<32)
		}
		p.links[target] = bm
	}
	if bm == nil {
		return lp
	}
	return bitmapPosting{bm}
}

// narrowBySegments narrows the candidates by the segment indexes'
// postings of the payload terms the index does not cover (past its
// guard): they answer for the sealed positions, and the positions after
// them stay candidates (verified like any other). It returns the terms no
// segment index answered.
func (p *Plan) narrowBySegments(r index.Reader, unindexed []trove.PayloadTerm) (unanswered []trove.PayloadTerm) {
	for _, t := range unindexed {
		switch st := p.segmentTerm(r, t); {
		case !st.ok:
			unanswered = append(unanswered, t)
		case st.upTo < p.last:
			p.narrow(st.bm, st.upTo)
		}
		// Else segmentPostings made it a posting.
	}
	return unanswered
}

// segmentPostings adds to must the segment indexes' answers for the
// payload terms the index does not cover that answer for every position
// up to the plan's last (the head's hashed postings included): as
// postings, they move a window to their first position, where narrowing
// the candidates by them would leave the window to grow from the start of
// the log, window after window.
func (p *Plan) segmentPostings(r index.Reader, must []posting, unindexed []trove.PayloadTerm) []posting {
	for _, t := range unindexed {
		if st := p.segmentTerm(r, t); st.ok && st.upTo >= p.last {
			must = append(must, bitmapPosting{st.bm})
		}
	}
	return must
}

// segmentTerm returns index.Reader.SegmentTerm's answer for t, kept for
// the plan and a run's later windows (Options.segTerms).
func (p *Plan) segmentTerm(r index.Reader, t trove.PayloadTerm) segTerm {
	vk, _ := index.ValueKey(t.Value) // unindexed terms have a value key
	key := t.Path + "\x00" + vk
	if st, ok := p.segTerms[key]; ok {
		return st
	}
	if p.segTerms == nil {
		p.segTerms = map[string]segTerm{} // this plan's, at least
	}
	var st segTerm
	st.bm, st.upTo, st.ok = r.SegmentTerm(t.Path, vk)
	if st.ok {
		st.upTo = min(st.upTo, p.last)
		st.bm.RemoveRange(uint64(st.upTo)+1, 1<<32)
	}
	p.segTerms[key] = st
	return st
}

// move moves the window, keeping its size, past the positions no posting
// in must holds (after the last such position when w.desc, before the
// first one otherwise), and within the log's last position.
func (w *window) move(must []posting, last uint32) {
	size := w.size
	if l := uint64(last); w.desc && w.hi > l+1 {
		w.hi = l + 1
		w.lo = w.hi - min(w.hi-1, size)
	}
	for _, m := range must {
		// One bound moves the window: the other would ask every segment
		// index for nothing.
		var least, greatest uint32
		var ok bool
		if w.desc {
			greatest, ok = m.Greatest()
		} else {
			least, ok = m.Least()
		}
		switch {
		case !ok:
			// Nothing matches: the window covers the rest.
			if w.desc {
				w.lo = 1
			} else {
				w.hi = 1 << 32
			}
		case w.desc && uint64(greatest)+1 < w.hi:
			w.hi = uint64(greatest) + 1
			w.lo = w.hi - min(w.hi-1, size)
		case !w.desc && uint64(least) > w.lo:
			w.lo = uint64(least)
			w.hi = w.lo + size
		}
	}
}

// intersect returns the positions up to last that are in every bitmap of
// must (all of them when must is empty), within window w when it is not
// nil. The smallest bitmaps are intersected first; must is reordered.
func intersect(must []posting, w *window, last uint32) *roaring.Bitmap {
	lo, hi := uint64(1), uint64(last)+1
	if w != nil {
		// Every posting is read only inside the window.
		lo, hi = max(w.lo, 1), min(w.hi, hi)
	}
	cand := roaring.New()
	if lo >= hi {
		return cand
	}
	if len(must) == 0 {
		cand.AddRange(lo, hi)
		return cand
	}
	bms := make([]*roaring.Bitmap, len(must))
	for i, m := range must {
		bms[i] = m.Bitmap(lo, hi)
		if bms[i].IsEmpty() {
			return cand
		}
	}
	// The postings' bitmaps are read-only and may reach past the range:
	// the range comes first, then the smallest posting, then the rest. A
	// posting of fewer positions than the range has containers (one a
	// 2¹⁶ positions) is copied and cut to it instead: a rare key's few
	// positions, where the range's containers cost more (10M positions:
	// a third of a link target's read).
	slices.SortFunc(bms, func(a, b *roaring.Bitmap) int { return cmp.Compare(a.GetCardinality(), b.GetCardinality()) })
	if bms[0].GetCardinality() < (hi-lo)>>16 {
		cand = bms[0].Clone()
		cand.RemoveRange(0, lo)
		cand.RemoveRange(hi, 1<<32)
		bms = bms[1:]
	} else {
		cand.AddRange(lo, hi)
	}
	for _, m := range bms {
		cand.And(m)
	}
	return cand
}

// A posting is what a candidate must be in: an index posting, an OR of
// them, or a bitmap the plan computed.
type posting interface {
	// Bitmap returns the positions in [lo, hi), and maybe others, as a
	// read-only bitmap.
	Bitmap(lo, hi uint64) *roaring.Bitmap
	// Bounds returns the least and greatest position; ok false when empty.
	Least() (uint32, bool)    // ok false when it is empty
	Greatest() (uint32, bool) // ok false when it is empty
}

type bitmapPosting struct{ bm *roaring.Bitmap }

func (b bitmapPosting) Bitmap(uint64, uint64) *roaring.Bitmap { return b.bm }

func (b bitmapPosting) Least() (uint32, bool) {
	if b.bm.IsEmpty() {
		return 0, false
	}
	return b.bm.Minimum(), true
}

func (b bitmapPosting) Greatest() (uint32, bool) {
	if b.bm.IsEmpty() {
		return 0, false
	}
	return b.bm.Maximum(), true
}

// anyOf is the union of postings.
type anyOf []index.Posting

func (a anyOf) Bitmap(lo, hi uint64) *roaring.Bitmap {
	parts := make([]*roaring.Bitmap, len(a))
	for i, p := range a {
		parts[i] = p.Bitmap(lo, hi)
	}
	return roaring.FastOr(parts...)
}

func (a anyOf) Least() (lo uint32, ok bool) {
	for _, p := range a {
		if l, found := p.Least(); found && (!ok || l < lo) {
			lo, ok = l, true
		}
	}
	return lo, ok
}

func (a anyOf) Greatest() (hi uint32, ok bool) {
	for _, p := range a {
		if h, found := p.Greatest(); found && (!ok || h > hi) {
			hi, ok = h, true
		}
	}
	return hi, ok
}

// dropSuperseded removes the candidates a later version supersedes. A
// version is superseded once its next version is indexed; those
// superseded only by positions past p.last are not yet. A full plan keeps
// its own copy of them in excl (the index's changes after the read lock).
func (p *Plan) dropSuperseded(r index.Reader) {
	var keep *roaring.Bitmap
	all := r.Columns()
	for q := uint64(p.last) + 1; q <= uint64(all.Last); q++ {
		if prev := all.Prev(uint32(q)); prev != 0 && prev <= p.last && (p.full || p.cand.Contains(prev)) {
			if keep == nil {
				keep = roaring.New()
			}
			keep.Add(prev)
		}
	}
	if p.full {
		if sup := r.Superseded(); !sup.IsEmpty() {
			p.excl = sup.Clone()
			if keep != nil {
				p.excl.AndNot(keep)
			}
		}
		return
	}
	p.cand.AndNot(r.Superseded())
	if keep != nil {
		p.cand.Or(keep)
	}
}

// narrowBySearchers narrows the candidates by the full-text searcher (for
// a search, within window w when it can search a range) and by its terms
// index (for payload terms the index does not cover, when not windowed).
func (p *Plan) narrowBySearchers(ctx context.Context, opts Options, w *window, unindexed []trove.PayloadTerm) {
	if sq := p.q.SearchQuery(); sq != nil && opts.Searcher != nil {
		var bm *roaring.Bitmap
		var upTo uint32
		var ok bool
		if rs, ranged := opts.Searcher.(RangeSearcher); ranged && w != nil {
			bm, upTo, ok = rs.SearchRange(ctx, sq, max(w.lo, 1), min(w.hi, uint64(p.last)+1))
		} else {
			bm, upTo, ok = opts.Searcher.Search(ctx, sq)
		}
		if ok {
			p.narrow(bm, upTo)
		}
	}
	if ts, ok := opts.Searcher.(TermSearcher); ok && len(unindexed) > 0 && w == nil {
		if bm, upTo, ok := ts.SearchTerms(ctx, unindexed); ok {
			p.narrow(bm, upTo)
		}
	}
}

// partialKeys returns the top-level payload keys every payload test and
// payload sort key of q starts with, or nil when some test looks at the
// whole payload (a search clause without a field) or there are too many.
func partialKeys(q *trove.CompiledQuery) []string {
	var keys []string
	add := func(k string) {
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	if sq := q.SearchQuery(); sq != nil {
		for _, c := range sq.Clauses {
			if len(c.Keys) == 0 {
				return nil
			}
			add(c.Keys[0])
		}
	}
	for _, t := range q.PayloadTerms() {
		add(t.Keys[0])
	}
	for _, k := range q.SortKeys() {
		if k.Field == "payload" {
			add(k.Keys[0])
		}
	}
	if len(keys) == 0 || len(keys) > 4 || !plainKeys(keys) {
		return nil
	}
	return keys
}

// narrow keeps, of the candidates among 1…upTo, those in bm, and every
// candidate after upTo.
func (p *Plan) narrow(bm *roaring.Bitmap, upTo uint32) {
	tail := roaring.New()
	if upTo < p.last {
		tail.AddRange(uint64(upTo)+1, uint64(p.last)+1)
	}
	p.candidates().And(roaring.Or(bm, tail))
}

// termsUnindexed reports whether some payload term of q is on a path the
// index does not cover.
func termsUnindexed(ix *index.Index, q *trove.CompiledQuery) bool {
	found := false
	ix.Read(func(r index.Reader) {
		for _, t := range q.PayloadTerms() {
			vk, ok := index.ValueKey(t.Value)
			if _, indexed := r.Term(t.Path, vk); ok && !indexed {
				found = true
				return
			}
		}
	})
	return found
}

// literal returns the bytes a JSON string holding v exactly shows when it
// has no escape: v itself, when v is plain (and has no quote); nil
// otherwise, and for values that are not strings.
func literal(v any) []byte {
	s, ok := v.(string)
	if !ok || s == "" || !plain(s) || strings.ContainsRune(s, '"') {
		return nil
	}
	return []byte(s)
}

// plainKeys reports whether every key is plain and has no quote (see
// rawMatch and partialPayload).
func plainKeys(keys []string) bool {
	for _, k := range keys {
		if !plain(k) || strings.ContainsRune(k, '"') {
			return false
		}
	}
	return true
}

func sortsByPayload(q *trove.CompiledQuery) bool {
	for _, k := range q.SortKeys() {
		if k.Field == "payload" {
			return true
		}
	}
	return false
}

func allowed(names []string, set map[string]bool) []bool {
	ok := make([]bool, len(names))
	for i, n := range names {
		ok[i] = set[n]
	}
	return ok
}

// timeRanges returns the positions whose time chunk overlaps the query's
// time range (every position of the last, incomplete chunk included).
func (p *Plan) timeRanges() *roaring.Bitmap {
	bm := roaring.New()
	c := p.cols
	var runStart uint64
	inRun := false
	for i := range c.Chunks() {
		lo, hi := c.ChunkRange(i)
		overlap := (!p.hasStart || hi >= p.start) && (!p.hasEnd || lo <= p.end)
		first := uint64(i)*index.ChunkSize + 1
		if overlap && !inRun {
			runStart, inRun = first, true
		} else if !overlap && inRun {
			bm.AddRange(runStart, first)
			inRun = false
		}
	}
	tail := uint64(c.Chunks())*index.ChunkSize + 1
	if !inRun {
		runStart = tail
	}
	bm.AddRange(runStart, uint64(p.last)+1)
	return bm
}

// Candidates returns how many positions the plan will look at.
func (p *Plan) Candidates() uint64 {
	if p.full {
		n := uint64(p.last)
		if p.excl != nil {
			n -= p.excl.Rank(p.last) // superseded positions past last are no candidates anyway
		}
		return n
	}
	return p.cand.GetCardinality()
}

// metaFilters reports whether the query has filters metaOK checks.
func (p *Plan) metaFilters() bool {
	return p.schemaOK != nil || p.producerOK != nil || p.hasStart || p.hasEnd
}

// metaOK checks the filters the columns answer without reading the event.
func (p *Plan) metaOK(pos uint32) bool {
	sn, pn, t := p.cols.Meta(pos)
	if p.schemaOK != nil && !p.schemaOK[sn] || p.producerOK != nil && !p.producerOK[pn] {
		return false
	}
	return (!p.hasStart || t >= p.start) && (!p.hasEnd || t <= p.end)
}

// check reads the event at pos and verifies it against the whole query.
func (p *Plan) check(src Source, pos uint32) (trove.Sortable, bool, error) {
	if rs, ok := src.(RawSource); ok && p.rawTests {
		// Payload tests first, on the payload alone: most candidates of
		// a scan fail them, and then the event is never decoded.
		raw, err := rs.Payload(pos)
		if err != nil {
			return trove.Sortable{}, false, fmt.Errorf("query: position %d: %w", pos, err)
		}
		if !p.payloadMayMatch(raw) {
			return trove.Sortable{}, false, nil
		}
	}
	e, err := src.Event(pos)
	if err != nil {
		return trove.Sortable{}, false, fmt.Errorf("query: position %d: %w", pos, err)
	}
	links := e.Links
	if p.needLinks {
		if added := p.ix.AddedLinks(pos); len(added) > 0 {
			links = append(slices.Clip(links), added...)
		}
	}
	it, ok := p.match(e, links)
	return it, ok, nil
}

// match verifies e, whose outgoing links are links, against the whole
// query: payload terms on the raw payload when they can be (fastTerms),
// else on the members the query looks at (partial), else on the whole
// payload decoded. An event whose payload does not decode matches
// nothing.
func (p *Plan) match(e trove.Event, links []trove.EventLink) (trove.Sortable, bool) {
	if p.fastTerms != nil {
		ok := p.q.MatchMeta(&e) && p.q.MatchLinks(links) && p.termsMatch(e.Payload)
		return trove.Sortable{Event: e}, ok
	}
	var payload any
	if p.needBody {
		decoded := false
		if p.partial != nil && bytes.IndexByte(e.Payload, '\\') < 0 {
			payload, decoded = partialPayload(e.Payload, p.partial)
		}
		if !decoded {
			var err error
			if payload, err = trove.DecodePayload(e.Payload); err != nil {
				return trove.Sortable{}, false
			}
		}
	}
	return trove.Sortable{Event: e, Payload: payload}, p.q.MatchDecoded(&e, payload, links)
}

// Matcher verifies events against a compiled query exactly as
// trove.CompiledQuery.MatchDecoded does, as the engine's plans verify
// their candidates: payload terms on the raw payload where they can be,
// without decoding it, else only the members the query looks at. A
// backend that narrows with an index of its own (storage-postgres) uses
// it for its candidates. It is safe for concurrent use.
type Matcher struct{ p Plan }

// NewMatcher returns the Matcher of q.
func NewMatcher(q *trove.CompiledQuery) *Matcher {
	m := &Matcher{p: Plan{q: q, needBody: q.NeedsPayload()}}
	m.p.planFastTerms()
	if m.p.needBody {
		m.p.partial = partialKeys(q)
	}
	return m
}

// Match reports whether e, whose outgoing links (its own and those added
// since) are links, meets the query, and returns what the query's Sort
// needs of it (its Payload holds at least the members a payload sort
// reads).
func (m *Matcher) Match(e trove.Event, links []trove.EventLink) (trove.Sortable, bool) {
	return m.p.match(e, links)
}

// termsMatch verifies the fast terms on a raw payload.
func (p *Plan) termsMatch(payload []byte) bool {
	plain := -1 // 1: the payload holds no backslash
	for _, t := range p.fastTerms {
		if t.lit != nil {
			if plain < 0 {
				plain = 0
				if bytes.IndexByte(payload, '\\') < 0 {
					plain = 1
				}
			}
			if plain == 1 {
				if t.scan && !bytes.Contains(payload, t.lit) {
					return false
				}
				if m, decided := rawMatch(payload, t.keys, t.lit); decided {
					if !m {
						return false
					}
					continue
				}
			}
		}
		if v, found := index.LookupValue(payload, t.keys); !found || v != t.value {
			return false
		}
	}
	return true
}

// payloadMayMatch reports whether a raw payload passes the query's payload
// tests; false only when it certainly does not.
func (p *Plan) payloadMayMatch(raw []byte) bool {
	if p.fastTerms != nil {
		return p.termsMatch(raw)
	}
	if bytes.IndexByte(raw, '\\') >= 0 {
		return true
	}
	payload, ok := partialPayload(raw, p.partial)
	if !ok {
		return true
	}
	for _, t := range p.q.PayloadTerms() {
		if !t.Match(payload) {
			return false
		}
	}
	sq := p.q.SearchQuery()
	return sq == nil || sq.Match(payload)
}

// Run executes q: it plans over the index, verifies every candidate exactly
// with the query's Match, sorts and pages. With a limit and no sort, a
// position sort or a createdAt sort it stops as soon as the page is full.
func Run(ctx context.Context, ix *index.Index, src Source, q *trove.CompiledQuery, opts Options) ([]trove.Event, error) {
	if q.MatchesNothing() {
		return []trove.Event{}, nil
	}
	keys := q.SortKeys()
	if q.Offset() > 0 && uint64(q.Offset()) >= uint64(ix.Last()) {
		return []trove.Event{}, nil // fewer events than the offset skips
	}
	want := -1
	if q.Limit() >= 0 {
		// Saturated: offset + limit must not wrap into "no limit".
		want = q.Offset() + min(q.Limit(), math.MaxInt-q.Offset())
	}
	byPosition := len(keys) == 0 || keys[0].Field == "position"
	_, terms := opts.Searcher.(TermSearcher)
	_, ranged := opts.Searcher.(RangeSearcher)
	// A windowed run plans each window from the index (and, for a search,
	// the searcher's range); a query the searcher narrows otherwise is
	// planned once, with its candidates.
	searched := opts.Searcher != nil && (q.SearchQuery() != nil && !ranged || terms && termsUnindexed(ix, q))
	if byPosition && want >= 0 && !searched {
		return runWindowed(ctx, ix, src, q, opts, len(keys) > 0 && keys[0].Desc, want)
	}
	p := NewPlan(ctx, ix, q, opts)
	switch {
	case byPosition:
		desc := len(keys) > 0 && keys[0].Desc
		return p.stream(ctx, src, p.ordered(desc), want)
	case len(keys) == 1 && keys[0].Field == "createdAt":
		return p.stream(ctx, src, p.createdOrder(keys[0].Desc, want), want)
	}
	var items []trove.Sortable
	it := p.candidates().Iterator()
	for n := 0; it.HasNext(); n++ {
		if n&1023 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		pos := it.Next()
		if !p.metaOK(pos) {
			continue
		}
		s, ok, err := p.check(src, pos)
		if err != nil {
			return nil, err
		}
		if ok {
			items = append(items, s)
		}
	}
	q.Sort(items)
	events := make([]trove.Event, len(items))
	for i := range items {
		events[i] = items[i].Event
	}
	return q.Page(events), nil
}

// ordered yields candidates in position order.
func (p *Plan) ordered(desc bool) func(yield func(uint32) bool) {
	return func(yield func(uint32) bool) {
		var it roaring.IntIterable
		if desc {
			it = p.candidates().ReverseIterator()
		} else {
			it = p.candidates().Iterator()
		}
		for it.HasNext() {
			if pos := it.Next(); p.metaOK(pos) && !yield(pos) {
				return
			}
		}
	}
}

// byCreated yields candidates in createdAt order (ties by position), using
// the time column only.
func (p *Plan) byCreated(desc bool) func(yield func(uint32) bool) {
	return func(yield func(uint32) bool) {
		var list []uint32
		it := p.candidates().Iterator()
		for it.HasNext() {
			if pos := it.Next(); p.metaOK(pos) {
				list = append(list, pos)
			}
		}
		cols := p.cols
		slices.SortFunc(list, func(a, b uint32) int {
			r := cmp.Compare(cols.Created(a), cols.Created(b))
			if desc {
				r = -r
			}
			if r != 0 {
				return r
			}
			return cmp.Compare(a, b)
		})
		for _, pos := range list {
			if !yield(pos) {
				return
			}
		}
	}
}

// firstWindow is the number of positions the first window of a windowed
// run covers (one roaring container); each next window is twice as large.
const firstWindow = 1 << 16

// maxPrealloc bounds the results a limited run makes room for up front.
const maxPrealloc = 1000

// resultsFor returns an empty result slice with room for the matches a
// plan can give at most, want of them when want ≥ 0: its candidates when
// it has a bitmap of them. A link target's few candidates then take a
// slice of a few events, not one of want (100 events are 28 KiB to
// allocate and clear).
func (p *Plan) resultsFor(want int) []trove.Event {
	n := maxPrealloc
	if want >= 0 {
		n = min(n, want)
	}
	if !p.full {
		n = min(n, int(min(p.cand.GetCardinality(), maxPrealloc)))
	}
	return make([]trove.Event, 0, n)
}

// searchWindow is firstWindow for a search a RangeSearcher narrows: each
// of its hits costs the searcher a lookup, so the first window is small.
const searchWindow = 1 << 12

// runWindowed runs a position-ordered query with a limit window by window
// in the query's order: each window's candidates are the postings
// intersected inside it alone, verified in order, and the run stops once
// want matches are found, so a page near the start (or, descending, the
// end) never intersects whole postings.
func runWindowed(ctx context.Context, ix *index.Index, src Source, q *trove.CompiledQuery, opts Options, desc bool, want int) ([]trove.Event, error) {
	var out []trove.Event // made for the first window's candidates
	size := uint64(firstWindow)
	if q.SearchQuery() != nil && opts.Searcher != nil {
		size = searchWindow
	}
	if opts.window > 0 {
		size = opts.window
	}
	if len(q.LinkCriteria()) > 0 {
		opts.links = map[string]*roaring.Bitmap{}
	}
	if len(q.PayloadTerms()) > 0 {
		opts.segTerms = map[string]segTerm{}
	}
	// The first window of a descending run ends past any position, so it
	// holds the newest ones however far the index has grown; every later
	// window is planned against the first one's bound.
	var lo, hi uint64
	if desc {
		last := uint64(ix.Last())
		if opts.Bounded {
			last = min(last, uint64(opts.Last))
		}
		lo, hi = (last+1)-min(last, size-1), 1<<32
	} else {
		lo, hi = 1, 1+size
	}
	for {
		w := window{lo: lo, hi: hi, size: size, desc: desc}
		p := compile(ctx, ix, q, opts, &w)
		lo, hi = w.lo, w.hi
		opts.Bounded, opts.Last = true, p.last
		if out == nil {
			out = p.resultsFor(want)
		}
		var err error
		if out, err = p.collect(ctx, src, p.ordered(desc), out, want); err != nil {
			return nil, err
		}
		if len(out) >= want {
			break
		}
		size = min(size*2, 1<<32)
		if desc {
			if lo <= 1 {
				break
			}
			hi = lo
			lo = hi - min(hi-1, size)
		} else {
			if hi > uint64(p.last) {
				break
			}
			lo = hi
			hi = lo + size
		}
	}
	return q.Page(out), nil
}

// stream verifies positions in the order seq gives and stops once want
// matches are found (want < 0: all).
func (p *Plan) stream(ctx context.Context, src Source, seq func(func(uint32) bool), want int) ([]trove.Event, error) {
	var out []trove.Event
	if want >= 0 {
		out = p.resultsFor(want)
	}
	out, err := p.collect(ctx, src, seq, out, want)
	if err != nil {
		return nil, err
	}
	return p.q.Page(out), nil
}

// collect appends to out the matches among the positions seq gives,
// stopping once out holds want (want < 0: all).
func (p *Plan) collect(ctx context.Context, src Source, seq func(func(uint32) bool), out []trove.Event, want int) ([]trove.Event, error) {
	var err error
	n := 0
	seq(func(pos uint32) bool {
		if n++; n&1023 == 0 && ctx.Err() != nil {
			err = ctx.Err()
			return false
		}
		s, ok, cerr := p.check(src, pos)
		if cerr != nil {
			err = cerr
			return false
		}
		if ok {
			out = append(out, s.Event)
		}
		return want < 0 || len(out) < want
	})
	return out, err
}
