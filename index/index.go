package index

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/trovedb/trove"
)

// DefaultMaxPathValues is the default Options.MaxPathValues.
const DefaultMaxPathValues = 4096

// chunkShift sets the time-column chunk: 1<<chunkShift positions share one
// min/max summary.
const chunkShift = 10

// groupShift sets the chunk group: 1<<groupShift chunks share one min/max
// summary of their own, so that a reader looking for the times it needs
// passes over a group at a time (10M positions are 9,766 chunks, 153
// groups).
const groupShift = 6

// Options tune an Index.
type Options struct {
	// MaxPathValues is how many distinct values one payload path may take
	// before the path stops being indexed (its postings are dropped and
	// queries on it fall back to scanning and verifying). Default
	// DefaultMaxPathValues; zero means the default; a negative value turns
	// the payload index off.
	MaxPathValues int

	// IDAt returns the id of the event at a position the caller declared
	// readable (Index.Readable). The index keeps no id text for such
	// positions: it finds ids by a hash and verifies a candidate by
	// reading its id back. It is called with the index's lock held, so it
	// must not call the index. Nil means no position is ever readable: the
	// index then keeps every id's text itself (tests, tools).
	IDAt func(pos uint32) (string, error)
}

func (o Options) withDefaults() Options {
	if o.MaxPathValues == 0 {
		o.MaxPathValues = DefaultMaxPathValues
	}
	return o
}

// Doc is what the index learns about one event.
type Doc struct {
	ID        string
	Version   int
	CreatedAt int64 // unix milliseconds
	Schema    string
	Producer  string
	Links     []trove.EventLink // the event's own links
	Payload   []byte            // the payload, a JSON object
	// Terms, when TermsSet, are Payload's terms as TermWriter.Append
	// encoded them: the index takes them instead of walking Payload.
	Terms    []byte
	TermsSet bool
}

// LinkRef names one outgoing link of an event: Slot ≥ 0 is the event's own
// link at that index; Slot < 0 is the link added with SaveLink at index
// -Slot-1 of the event's added links.
type LinkRef struct {
	Source uint32
	Slot   int32
	// After is the last position when the link was saved: the source's
	// position for an own link, the log's last position at SaveLink for
	// an added one.
	After uint32
}

// Index is the engine's in-memory index over event positions. Positions
// start at 1 and are dense (every position is an event). One writer calls
// Add and AddLink; any number of readers call Read and the lookup methods
// concurrently.
type Index struct {
	opts Options
	mu   sync.RWMutex // guards st; columns below st.n are never modified
	st   state
	walk walker // the writer's scratch buffers for payload terms
	// paths remembers, within one Add or AddBatch, the postings of the
	// paths met so far (terms.go).
	paths pathMemo
	// filters are the id filters of segment indexes (idlookup.go).
	filters segFilters
}

type state struct {
	n uint32 // last position

	cols     columns  // per-position columns, in chunks
	pairs    pairDict // (schema, producer) combinations
	ids      idTable  // id hash → latest position
	pend     pendingIDs
	readable uint32 // positions up to it can be read through Options.IDAt
	closed   bool

	schemas  dict
	produce  dict
	chunkMin []int64
	chunkMax []int64
	groupMin []int64 // the least chunkMin of each group of chunks
	groupMax []int64

	bySchema   []*roaring.Bitmap // by schema number
	byProducer []*roaring.Bitmap // by producer number
	linkType   map[string]*roaring.Bitmap
	anyLink    *roaring.Bitmap
	superseded *roaring.Bitmap

	terms   map[string]map[string]*roaring.Bitmap // path → value key → positions
	hot     map[string]bool                       // paths past the guard: not indexed
	hotHead hotHead                               // hashed postings of those paths in the head (hothead.go)

	added map[uint32][]trove.EventLink // links added with SaveLink, by source
	// incoming lists the links to each target id, in save order; the
	// positions linking to a target (Reader.LinkTarget) are its sources.
	// Most targets have one or two incoming links, so no bitmap is kept
	// per target: it would cost ~200 bytes each.
	incoming map[string][]LinkRef
	// ownLinks lists the head's own links (those of Add, each with a ref
	// in incoming) in source order. Once the trimmed prefix passes their
	// sources, trimStep drops their refs a batch at a time.
	ownLinks []ownLink

	// segs are the segment indexes of the sealed log covering positions
	// 1…segUpTo (SetSegments).
	segs    []*SegIndex
	segUpTo uint32
	// keyRuns are the key runs of the sealed log (SetKeyRuns), keyUnits
	// segs grouped for key lookups (keyunits.go).
	keyRuns  []*KeyRun
	keyUnits []keyUnit
	// trimmed is the prefix of positions dropped from the postings above
	// (posting.go): the segment indexes answer for them. colSegs are the
	// segment indexes as columns, for the positions whose column chunks
	// are dropped.
	trimmed uint32
	colSegs []colSeg
	// idsLeft is how many sub-tables of ids, the last ones, may still
	// hold ids whose latest position is up to idsCut, the trimmed prefix
	// when they were last trimmed (trimStep).
	idsLeft int
	idsCut  uint32
	// runs are the id runs set with SetIDRuns; usedRuns those of them
	// the lookups read, and idSrcs every sorted id list they read, in
	// position order (idlookup.go).
	runs     []*IDRun
	usedRuns []*IDRun
	idSrcs   []idSrc
}

type dict struct {
	names []string
	nums  map[string]uint32
}

func (d *dict) num(s string) (uint32, bool) {
	if n, ok := d.nums[s]; ok {
		return n, false
	}
	if d.nums == nil {
		d.nums = map[string]uint32{}
	}
	n := uint32(len(d.names))
	d.names = append(d.names, s)
	d.nums[s] = n
	return n, true
}

// New returns an empty index.
func New(opts Options) *Index {
	ix := &Index{opts: opts.withDefaults()}
	ix.st.init()
	return ix
}

func (s *state) init() {
	s.ids.seed = newSeed()
	s.linkType = map[string]*roaring.Bitmap{}
	s.anyLink = roaring.New()
	s.superseded = roaring.New()
	s.terms = map[string]map[string]*roaring.Bitmap{}
	s.hot = map[string]bool{}
	s.added = map[uint32][]trove.EventLink{}
	s.incoming = map[string][]LinkRef{}
}

// Last returns the last indexed position (0 when empty).
func (ix *Index) Last() uint32 {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.st.n
}

// Add indexes the event at pos, which must be Last()+1. A version above 1
// marks the id's previous latest version superseded.
func (ix *Index) Add(pos uint32, d Doc) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.paths.reset()
	return ix.addLocked(pos, &d)
}

// AddBatch indexes several events under one lock; docs[i] goes to first+i.
// It ends at the first event that fails, as Add would: the events before it
// are indexed, it and the ones after are not. From addParallelMin events
// on, the payload terms are posted on a goroutine of their own beside the
// rest (ids, columns, schema, producer and link postings), which touches
// none of what the terms do.
func (ix *Index) AddBatch(first uint32, docs []Doc) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.paths.reset()
	if len(docs) < addParallelMin || ix.opts.MaxPathValues <= 0 {
		for i := range docs {
			if err := ix.addLocked(first+uint32(i), &docs[i]); err != nil {
				return err
			}
		}
		return nil
	}
	s := &ix.st
	if s.closed {
		return errClosed
	}
	if first != s.n+1 {
		return fmt.Errorf("index: add position %d after %d", first, s.n)
	}
	// Malformed terms end the batch before the event that holds them, as
	// addLocked's check does; the events before it are added.
	n, termErr := len(docs), error(nil)
	for i := range docs {
		if err := checkTerms(first+uint32(i), &docs[i]); err != nil {
			n, termErr = i, err
			break
		}
	}
	// The terms goroutine posts the terms of the events the meta loop has
	// added (counts sent on ready), so that a failing event leaves no term.
	ready := make(chan int, n/addChunk+2)
	done := make(chan struct{})
	go func() {
		defer close(done)
		from := 0
		for upto := range ready {
			for i := from; i < upto; i++ {
				ix.addTerms(first+uint32(i), &docs[i])
			}
			from = upto
		}
	}()
	added, err := 0, error(nil)
	for i := range n {
		if err = ix.addMeta(first+uint32(i), &docs[i]); err != nil {
			break
		}
		if added = i + 1; added%addChunk == 0 {
			ready <- added
		}
	}
	if added%addChunk != 0 {
		ready <- added
	}
	close(ready)
	<-done
	s.n = first + uint32(added) - 1
	if err == nil {
		err = termErr
	}
	return err
}

// addParallelMin is the batch size from which AddBatch posts terms on a
// second goroutine; addChunk is how many events at a time it hands over.
const (
	addParallelMin = 32
	addChunk       = 16
)

// addLocked indexes the event at pos, which must be Last()+1; on error
// nothing of it is indexed.
func (ix *Index) addLocked(pos uint32, d *Doc) error {
	s := &ix.st
	if s.closed {
		return errClosed
	}
	if pos != s.n+1 {
		return fmt.Errorf("index: add position %d after %d", pos, s.n)
	}
	// Checked before anything changes: a failed add leaves no trace.
	if err := checkTerms(pos, d); err != nil {
		return err
	}
	if err := ix.addMeta(pos, d); err != nil {
		return err
	}
	ix.addTerms(pos, d)
	s.n = pos
	return nil
}

// checkTerms reports terms extracted ahead (Doc.Terms) that are malformed.
func checkTerms(pos uint32, d *Doc) error {
	if d.TermsSet {
		if err := eachTerm(d.Terms, func(_, _ []byte) {}); err != nil {
			return fmt.Errorf("index: add position %d: %w", pos, err)
		}
	}
	return nil
}

// addMeta indexes everything of the event at pos but its payload terms:
// its id and versions, columns, schema, producer and links. On error
// nothing of it is indexed. It leaves the last position to the caller.
func (ix *Index) addMeta(pos uint32, d *Doc) error {
	s := &ix.st
	sub, fp := splitHash(s.ids.hash(d.ID))
	var idErr error
	slot, prev, found := s.ids.probe(sub, fp, func(p uint32) bool {
		ok, err := ix.idIs(p, d.ID, nil)
		if err != nil && idErr == nil {
			idErr = err
		}
		return ok
	})
	if !found && idErr == nil {
		// Not in the head: the id's latest version may be sealed.
		var sealed bool
		prev, sealed, idErr = ix.sealedID(d.ID, ^uint32(0), nil, true)
		if sealed {
			s.superseded.Add(prev)
		}
	}
	if idErr != nil {
		return fmt.Errorf("index: add position %d: %w", pos, idErr)
	}
	if found {
		s.ids.set(sub, slot, fp, pos)
		s.superseded.Add(prev)
	} else {
		s.ids.insert(sub, fp, pos)
	}
	if pos > s.readable {
		s.pend.add(pos, d.ID)
	} else {
		s.pend.drop(pos) // nothing before pos needs its text
	}
	sn, _ := s.schemas.num(d.Schema)
	for int(sn) >= len(s.bySchema) {
		s.bySchema = append(s.bySchema, roaring.New())
	}
	s.bySchema[sn].Add(pos)
	pn, _ := s.produce.num(d.Producer)
	for int(pn) >= len(s.byProducer) {
		s.byProducer = append(s.byProducer, roaring.New())
	}
	s.byProducer[pn].Add(pos)
	s.cols.set(pos, d.CreatedAt, uint32(d.Version), prev, s.pairs.num(pair{sn, pn}))
	s.chunk(pos, d.CreatedAt)
	for i, l := range d.Links {
		s.link(pos, l, int32(i), pos)
	}
	return nil
}

// addTerms posts the payload terms of the event at pos (its Terms, checked
// by checkTerms, or its Payload walked here). It touches only the term
// postings and the writer's term scratch (walk, paths).
func (ix *Index) addTerms(pos uint32, d *Doc) {
	max := ix.opts.MaxPathValues
	if max <= 0 {
		return
	}
	s := &ix.st
	if !d.TermsSet {
		k := 0
		walkTerms(d.Payload, &ix.walk, func(path, value []byte) {
			s.term(pos, path, value, max, ix.paths.at(k, path, s), &ix.paths)
			k++
		})
		return
	}
	// The k-th term of the event: events of one shape list their paths in
	// the same order.
	b := d.Terms // checked by checkTerms
	for k := 0; len(b) > 0; k++ {
		var path, value []byte
		path, b = nextTermField(b)
		value, b = nextTermField(b)
		s.term(pos, path, value, max, ix.paths.at(k, path, s), &ix.paths)
	}
}

// idIs reports whether the event at pos (≤ the last position) has id id,
// reading a readable position's id through at (nil: Options.IDAt).
func (ix *Index) idIs(pos uint32, id string, at func(uint32) (string, error)) (bool, error) {
	s := &ix.st
	if s.pend.has(pos) {
		return string(s.pend.at(pos)) == id, nil
	}
	if at == nil {
		at = ix.opts.IDAt
	}
	if pos > s.readable || at == nil {
		return false, fmt.Errorf("index: the id at position %d is neither kept nor readable", pos)
	}
	got, err := at(pos)
	if err != nil {
		return false, err
	}
	return got == id, nil
}

// Readable declares that Options.IDAt can read the ids at positions up to
// pos (the caller's committed, readable log): the index stops keeping
// their text. Without Options.IDAt it does nothing.
func (ix *Index) Readable(pos uint32) {
	if ix.opts.IDAt == nil {
		return
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	s := &ix.st
	if pos > s.readable {
		s.readable = pos
	}
	s.pend.drop(min(s.readable, s.n))
}

// Close releases the index's memory. Nothing it returned (Columns) may be
// used afterwards; later adds fail, lookups find nothing and Columns are
// empty.
func (ix *Index) Close() {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	s := &ix.st
	if s.closed {
		return
	}
	s.closed = true
	s.cols.free()
	s.ids.free()
}

var errClosed = errors.New("index: closed")

func (s *state) chunk(pos uint32, t int64) {
	c := int((pos - 1) >> chunkShift)
	if c == len(s.chunkMin) {
		s.chunkMin = append(s.chunkMin, t)
		s.chunkMax = append(s.chunkMax, t)
	} else {
		s.chunkMin[c] = min(s.chunkMin[c], t)
		s.chunkMax[c] = max(s.chunkMax[c], t)
	}
	s.group(c>>groupShift, t, t)
}

// group widens group g's summary to lo…hi (a new group when g is next).
func (s *state) group(g int, lo, hi int64) {
	if g == len(s.groupMin) {
		s.groupMin = append(s.groupMin, lo)
		s.groupMax = append(s.groupMax, hi)
		return
	}
	s.groupMin[g] = min(s.groupMin[g], lo)
	s.groupMax[g] = max(s.groupMax[g], hi)
}

// regroup rebuilds the groups' summaries from the chunks'.
func (s *state) regroup() {
	s.groupMin, s.groupMax = nil, nil
	for c := range s.chunkMin {
		s.group(c>>groupShift, s.chunkMin[c], s.chunkMax[c])
	}
}

func (s *state) link(pos uint32, l trove.EventLink, slot int32, after uint32) {
	s.linkTypeBitmap(l.Type).Add(pos)
	s.anyLink.Add(pos)
	t := l.TargetEvent.ID
	s.incoming[t] = append(slices.Clip(s.incoming[t]), LinkRef{Source: pos, Slot: slot, After: after})
	if slot >= 0 {
		s.ownLinks = append(s.ownLinks, ownLink{src: pos, target: t})
	}
}

// ownLink is an own link's source and target (state.ownLinks).
type ownLink struct {
	src    uint32
	target string
}

// term adds pos to the posting of path=value; the byte slices are only
// borrowed (map lookups by string(b) do not allocate). slot is the memo of
// path's postings (pathMemo.at).
func (s *state) term(pos uint32, path, value []byte, maxValues int, slot *pathSlot, memo *pathMemo) {
	if slot.hot {
		s.hotHead.add(termHash(path, value), pos)
		return
	}
	vals := slot.vals
	if vals == nil {
		if vals = s.terms[string(path)]; vals == nil {
			vals = map[string]*roaring.Bitmap{}
			s.terms[string(path)] = vals
		}
		slot.vals = vals
	}
	bm := vals[string(value)]
	if bm == nil {
		if len(vals) >= maxValues {
			// The path's head positions move to hashed postings.
			for v, bm := range vals {
				h := termHash(path, []byte(v))
				it := bm.Iterator()
				for it.HasNext() {
					s.hotHead.add(h, it.Next())
				}
			}
			s.hotHead.add(termHash(path, value), pos)
			delete(s.terms, string(path))
			s.hot[string(path)] = true
			memo.setHot(path)
			return
		}
		bm = roaring.New()
		vals[string(value)] = bm
	}
	bm.Add(pos)
}

// AddLink records a link added with SaveLink to the event at source.
func (ix *Index) AddLink(source uint32, l trove.EventLink) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	s := &ix.st
	list := append(slices.Clip(s.added[source]), l)
	s.added[source] = list
	s.link(source, l, -int32(len(list)), s.n)
}

// Lookup returns the position of id's version (its latest when version is
// 0).
func (ix *Index) Lookup(id string, version int) (uint32, bool) {
	return ix.LookupAt(id, version, ^uint32(0))
}

// LookupAt is Lookup among positions up to last: the index as it was when
// last was its last position.
func (ix *Index) LookupAt(id string, version int, last uint32) (uint32, bool) {
	p, ok, _ := ix.Find(id, version, last)
	return p, ok
}

// Find is LookupAt that also returns the error of reading an id back
// (Options.IDAt) when one kept it from answering: then found is false
// and the id may exist.
func (ix *Index) Find(id string, version int, last uint32) (pos uint32, found bool, err error) {
	return ix.FindWith(id, version, last, nil)
}

// FindWith is Find reading ids back through at instead of Options.IDAt
// (nil: Options.IDAt), for positions declared readable. A caller that
// goes on to read the event found passes an at that keeps the record it
// read, so that the event is read once. The index calls at holding its
// lock: at must not call the index.
func (ix *Index) FindWith(id string, version int, last uint32, at func(pos uint32) (string, error)) (pos uint32, found bool, err error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.lookupAt(id, version, last, at, false)
}

// lookupAt is FindWith under ix.mu. fromFile says how to read the id
// runs' entries (sealedID): from their files for a save's lookup, through
// their maps for a read's.
func (ix *Index) lookupAt(id string, version int, last uint32, at func(uint32) (string, error), fromFile bool) (uint32, bool, error) {
	s := &ix.st
	if s.closed {
		return 0, false, errClosed
	}
	sub, fp := splitHash(s.ids.hash(id))
	var p uint32
	var idErr error
	_, _, found := s.ids.probe(sub, fp, func(latest uint32) bool {
		// Every version of an id holds its text: verify the newest one
		// visible at last.
		p = latest
		for p > last {
			p = s.prev(p)
		}
		if p == 0 {
			return false
		}
		ok, err := ix.idIs(p, id, at)
		if err != nil && idErr == nil {
			idErr = err
		}
		return ok
	})
	if !found {
		if idErr != nil {
			return 0, false, idErr
		}
		var err error
		if p, found, err = ix.sealedID(id, last, at, fromFile); !found {
			return 0, false, err
		}
	}
	if version == 0 {
		return p, true, nil
	}
	for p != 0 {
		v := int(s.version(p))
		if v == version {
			return p, true, nil
		}
		if v < version {
			return 0, false, nil
		}
		p = s.prev(p)
	}
	return 0, false, nil
}

func (s *state) prev(pos uint32) uint32 {
	if c, i := at(s.cols.chunks, pos); c != nil {
		return c.prevAt(i)
	}
	return s.segCol(pos).ix.Prev(pos)
}

func (s *state) version(pos uint32) uint32 {
	if c, i := at(s.cols.chunks, pos); c != nil {
		return c.versionAt(i)
	}
	return uint32(s.segCol(pos).ix.Version(pos))
}

func (s *state) segCol(pos uint32) colSeg { return findSeg(s.colSegs, pos) }

// Latest returns the position and version of id's latest version.
func (ix *Index) Latest(id string) (pos uint32, version int, ok bool) {
	p, v, ok, _ := ix.FindLatest(id)
	return p, v, ok
}

// FindLatest is Latest that also returns the error of reading an id back
// (Options.IDAt) when one kept it from answering: then found is false and
// the id may exist. It is a save's lookup: an id run's entries are read
// from its file (sealedID).
func (ix *Index) FindLatest(id string) (pos uint32, version int, found bool, err error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	p, ok, err := ix.lookupAt(id, 0, ^uint32(0), nil, true)
	if !ok {
		return 0, 0, false, err
	}
	return p, int(ix.st.version(p)), true, nil
}

// AddedLinks returns the links added with SaveLink to the event at pos. The
// caller must not modify the slice.
func (ix *Index) AddedLinks(pos uint32) []trove.EventLink {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.st.added[pos]
}

// Read calls fn with a Reader over the index, holding the read lock: fn
// must be short (compute candidate bitmaps, copy what it needs) and must not
// keep the Reader or any bitmap it returns.
func (ix *Index) Read(fn func(r Reader)) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	fn(Reader{st: &ix.st, opts: ix.opts})
}

// Reader reads an index under its read lock (see Index.Read). Postings it
// returns are valid inside the callback only; the bitmaps of Superseded
// are the index's own: read them, never modify or keep them.
type Reader struct {
	st   *state
	opts Options
}

// Last returns the last indexed position.
func (r Reader) Last() uint32 { return r.st.n }

// Schema returns the positions of events with this schema identity.
func (r Reader) Schema(name string) Posting {
	var head *roaring.Bitmap
	if n, ok := r.st.schemas.nums[name]; ok && int(n) < len(r.st.bySchema) {
		head = r.st.bySchema[n]
	}
	return r.posting(KindSchema, name, "", head)
}

// Producer returns the positions of events of this producer.
func (r Reader) Producer(name string) Posting {
	var head *roaring.Bitmap
	if n, ok := r.st.produce.nums[name]; ok && int(n) < len(r.st.byProducer) {
		head = r.st.byProducer[n]
	}
	return r.posting(KindProducer, name, "", head)
}

// LinkType returns the positions of events with an outgoing link of this
// type.
func (r Reader) LinkType(t string) Posting {
	return r.posting(KindLinkType, t, "", r.st.linkType[t])
}

// LinkTarget returns the positions of events with an outgoing link to this
// id.
func (r Reader) LinkTarget(id string) Posting {
	return r.posting(KindLinkTarget, id, "", r.st.linkTarget(id))
}

// linkTarget returns the positions of the events linking to id, built from
// its incoming links; nil when there are none.
func (s *state) linkTarget(id string) *roaring.Bitmap {
	refs := s.incoming[id]
	if len(refs) == 0 {
		return nil
	}
	bm := roaring.New()
	for _, r := range refs {
		bm.Add(r.Source)
	}
	return bm
}

// AnyLink returns the positions of events with an outgoing link.
func (r Reader) AnyLink() Posting { return r.posting(KindAnyLink, "", "", r.st.anyLink) }

// Superseded returns the positions of versions that a later version of the
// same id replaced.
func (r Reader) Superseded() *roaring.Bitmap { return r.st.superseded }

// Term returns the positions whose payload holds value (a ValueKey) at path.
// indexed is false when the path is not indexed (past the guard, or the
// payload index is off): then the caller must scan.
func (r Reader) Term(path, value string) (p Posting, indexed bool) {
	if r.opts.MaxPathValues < 0 || r.st.hot[path] {
		return Posting{}, false
	}
	return r.posting(KindTerm, path, value, r.st.terms[path][value]), true
}

// Columns returns the per-position columns as they stand. What it returns
// stays valid and unchanged after the read lock is released (until the
// index is closed).
func (r Reader) Columns() Columns {
	s := r.st
	if s.closed {
		return Columns{} // no positions: the memory is gone
	}
	n := int(s.n)
	full := n >> chunkShift
	groups := full >> groupShift // groups of complete chunks only: the writer widens the last one
	nc := (n + colMask) >> colShift
	return Columns{
		Last:      s.n,
		chunks:    s.cols.chunks[:nc:nc],
		pairs:     s.pairs.list[:len(s.pairs.list):len(s.pairs.list)],
		Schemas:   s.schemas.names[:len(s.schemas.names):len(s.schemas.names)],
		Producers: s.produce.names[:len(s.produce.names):len(s.produce.names)],
		chunkMin:  s.chunkMin[:full:full],
		chunkMax:  s.chunkMax[:full:full],
		groupMin:  s.groupMin[:groups:groups],
		groupMax:  s.groupMax[:groups:groups],
		segs:      s.colSegs[:len(s.colSegs):len(s.colSegs)],
	}
}

// Upto returns the columns as they were when last (≤ c.Last) was the last
// position.
func (c Columns) Upto(last uint32) Columns {
	if last >= c.Last {
		return c
	}
	full := min(len(c.chunkMin), int(last)>>chunkShift)
	groups := min(len(c.groupMin), full>>groupShift)
	c.Last = last
	c.chunkMin, c.chunkMax = c.chunkMin[:full:full], c.chunkMax[:full:full]
	c.groupMin, c.groupMax = c.groupMin[:groups:groups], c.groupMax[:groups:groups]
	return c
}

// Columns are immutable per-position columns over positions 1…Last, read
// with the accessor methods (pos must be in 1…Last). Schema and producer
// numbers index Schemas and Producers.
type Columns struct {
	Last      uint32
	Schemas   []string // schema identities by number
	Producers []string // producers by number

	chunks   []*colChunk // nil where dropped: segs hold those positions
	pairs    []pair
	chunkMin []int64
	chunkMax []int64
	groupMin []int64
	groupMax []int64
	segs     []colSeg
}

// colSeg is a segment index read as columns, with its dictionary numbers
// translated to the index's.
type colSeg struct {
	ix                 *SegIndex
	schemas, producers []uint32 // the index's number of each segment-local one
}

// findSeg returns the segment of segs holding pos, which one must hold.
func findSeg(segs []colSeg, pos uint32) colSeg {
	lo, hi := 0, len(segs)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if segs[m].ix.Last() < pos {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return segs[lo]
}

// Version returns the event version at pos.
func (c Columns) Version(pos uint32) int {
	if ch, i := at(c.chunks, pos); ch != nil {
		return int(ch.versionAt(i))
	}
	return findSeg(c.segs, pos).ix.Version(pos)
}

// SchemaNum returns the schema number (an index into Schemas) at pos.
func (c Columns) SchemaNum(pos uint32) uint32 {
	if ch, i := at(c.chunks, pos); ch != nil {
		return c.pairs[ch.pairAt(i)].schema
	}
	sg := findSeg(c.segs, pos)
	return sg.schemas[sg.ix.SchemaNum(pos)]
}

// ProducerNum returns the producer number (an index into Producers) at pos.
func (c Columns) ProducerNum(pos uint32) uint32 {
	if ch, i := at(c.chunks, pos); ch != nil {
		return c.pairs[ch.pairAt(i)].producer
	}
	sg := findSeg(c.segs, pos)
	return sg.producers[sg.ix.ProducerNum(pos)]
}

// Prev returns the position of the previous version of the event at pos,
// 0 when it is the first.
func (c Columns) Prev(pos uint32) uint32 {
	if ch, i := at(c.chunks, pos); ch != nil {
		return ch.prevAt(i)
	}
	return findSeg(c.segs, pos).ix.Prev(pos)
}

// Meta returns the schema number, producer number and createdAt of the
// event at pos in one lookup.
func (c Columns) Meta(pos uint32) (schema, producer uint32, created int64) {
	if ch, i := at(c.chunks, pos); ch != nil {
		p := c.pairs[ch.pairAt(i)]
		return p.schema, p.producer, ch.createdAt(i)
	}
	sg := findSeg(c.segs, pos)
	return sg.schemas[sg.ix.SchemaNum(pos)], sg.producers[sg.ix.ProducerNum(pos)], sg.ix.Created(pos)
}

// Created returns the createdAt of the event at pos, in unix milliseconds.
func (c Columns) Created(pos uint32) int64 {
	if ch, i := at(c.chunks, pos); ch != nil {
		return ch.createdAt(i)
	}
	return findSeg(c.segs, pos).ix.Created(pos)
}

// Chunks returns how many complete time chunks there are: chunk i covers
// positions i*ChunkSize+1 … (i+1)*ChunkSize; the positions after the last
// complete chunk have no summary.
func (c Columns) Chunks() int { return len(c.chunkMin) }

// ChunkRange returns the least and greatest createdAt (unix ms) in
// complete chunk i.
func (c Columns) ChunkRange(i int) (lo, hi int64) { return c.chunkMin[i], c.chunkMax[i] }

// ChunkSize is the number of positions per time-column chunk.
const ChunkSize = 1 << chunkShift

// GroupChunks is the number of chunks per chunk group: group g holds chunks
// g*GroupChunks … (g+1)*GroupChunks−1.
const GroupChunks = 1 << groupShift

// Groups returns how many groups of complete chunks there are; the chunks
// after the last one (fewer than GroupChunks) belong to none.
func (c Columns) Groups() int { return len(c.groupMin) }

// GroupRange returns the least and greatest createdAt (unix ms) of the
// chunks of group g: bounds of every ChunkRange among them.
func (c Columns) GroupRange(g int) (lo, hi int64) { return c.groupMin[g], c.groupMax[g] }
