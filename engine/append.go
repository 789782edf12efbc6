package engine

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"time"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/index"
	"github.com/trovedb/trove/segment"
)

type reqKind int

const (
	reqEvents reqKind = iota
	reqLink
	reqSchema
)

// request is one atomic unit of the group commit: one WAL entry.
type request struct {
	kind reqKind
	// evs are the prepared events of a reqEvents request, staged by the
	// caller (stage.go); the writer sets their positions (or replaces a
	// retried one by the stored event) and answers with the slice.
	evs     []trove.Event
	info    []stageInfo
	checked bool   // info holds version prechecks …
	last    uint64 // … made against the view with this last position
	batch   bool   // errors name the failing event (*trove.BatchError)
	source  trove.EventID
	link    trove.EventLink
	schema  trove.RegisteredSchema
	done    chan response
}

type response struct {
	events []trove.Event
	err    error
}

// submit sends r to the writer and waits for its response.
func (s *Store) submit(ctx context.Context, what string, r *request) response {
	if err := ctx.Err(); err != nil {
		return response{err: err}
	}
	if err := s.enter(what, true); err != nil {
		return response{err: err}
	}
	defer s.leave(true)
	r.done = make(chan response, 1)
	s.reqs <- r
	// The request is durable or failed once answered; never abandon it
	// half way, so callers learn the outcome.
	return <-r.done
}

// group is the writer's scratch state for one group commit: what the
// accepted requests before the current one have added.
type group struct {
	latest  map[string]int // id → latest version new in the group
	news    []*trove.Event // events new in the group, in position order
	infos   []*stageInfo   // their staging, news[i]'s at infos[i]
	docs    map[string]uint32
	docList []trove.Schema // schema documents new in the group, by number
	regs    map[string]string
	links   []pendingLink // links added in the group, in order
	next    uint64        // next position
}

// pendingLink is a link added in the group to the event at pos.
type pendingLink struct {
	pos  uint64
	link trove.EventLink
}

func newGroup(next uint64, events int) *group {
	return &group{latest: make(map[string]int, events), news: make([]*trove.Event, 0, events),
		infos: make([]*stageInfo, 0, events), next: next}
}

// find returns the event new in the group with id, nil when there is none.
// Only retries and links to events of the group need it.
func (g *group) find(id trove.EventID) *trove.Event {
	for i := len(g.news) - 1; i >= 0; i-- {
		if g.news[i].ID == id {
			return g.news[i]
		}
	}
	return nil
}

// writer is the single writer goroutine.
func (s *Store) writer() {
	defer s.writerWG.Done()
	for {
		var r *request
		select {
		case job := <-s.sealed:
			s.finishSeal(job)
			continue
		case m := <-s.idMerged:
			s.finishIDMerge(m)
			continue
		case m := <-s.keyMerged:
			s.finishKeyMerge(m)
			continue
		case r := <-s.repaired:
			s.finishSegIndexRepair(r)
			continue
		case req, ok := <-s.reqs:
			if !ok {
				s.w.closing = true
				s.waitSeal()
				s.waitIDMerge()
				s.waitKeyMerge()
				return
			}
			r = req
		}
		batch := s.gather(r)
		s.commit(batch)
	}
}

// groupWait bounds how long the writer waits for saves in flight that have
// not queued their request yet before it commits a group without them.
const groupWait = 250 * time.Microsecond

// gather returns r and every request waiting behind it (up to
// Options.MaxGroup). While more saves are in flight than queued (callers
// answered a moment ago, about to queue their next save), it waits for
// them a little, so that they share this group's fsync instead of waiting
// for the next one's. A lone writer never waits.
func (s *Store) gather(r *request) []*request {
	batch := []*request{r}
	saves := int64(0)
	if r.kind == reqEvents {
		saves++
	}
	var deadline time.Time
	for {
	drain:
		for len(batch) < s.opts.MaxGroup {
			select {
			case r2, ok := <-s.reqs:
				if !ok {
					return batch
				}
				batch = append(batch, r2)
				if r2.kind == reqEvents {
					saves++
				}
			default:
				break drain
			}
		}
		if len(batch) >= s.opts.MaxGroup || s.stats.saving.Load() <= saves {
			return batch
		}
		if deadline.IsZero() {
			deadline = time.Now().Add(groupWait)
		} else if time.Now().After(deadline) {
			return batch
		}
		runtime.Gosched()
	}
}

// commit checks, appends, applies and answers one group.
func (s *Store) commit(batch []*request) {
	if err := s.Err(); err != nil {
		for _, r := range batch {
			r.done <- response{err: fmt.Errorf("engine: the store failed earlier: %w", err)}
		}
		return
	}
	events := 0
	for _, r := range batch {
		events += len(r.evs)
	}
	g := newGroup(s.w.last+1, events)
	accepted := make([]*request, 0, len(batch))
	entries := make([][]segment.Record, 0, len(batch))
	for _, r := range batch {
		recs, err := s.plan(g, r)
		if err != nil {
			r.done <- response{err: err}
			continue
		}
		accepted = append(accepted, r)
		entries = append(entries, recs)
	}
	if len(entries) == 0 {
		return
	}
	first := s.wal.NextIndex()
	// Index the group's events while its bytes are written and fsynced:
	// readers see the index only up to the committed position (the view's
	// last), so nothing is visible before it is durable. Groups with added
	// links are indexed after the write, in record order.
	links := hasLinks(entries)
	var indexed chan error
	if !links && len(g.news) > 0 {
		indexed = make(chan error, 1)
		go func() { indexed <- s.indexEvents(g) }()
	}
	// The memtable takes the records now too; readers see it only through
	// a published view, and a failed write takes them back.
	mark := s.memMark()
	for i, recs := range entries {
		s.memAppend(recs, first+uint64(i))
	}
	size := s.wal.Size()
	got, err := s.wal.Append(entries)
	if err == nil && got != first {
		err = fmt.Errorf("engine: the WAL numbered the group's first entry %d, expected %d", got, first)
	}
	var ixErr error
	if indexed != nil {
		ixErr = <-indexed
	}
	if err != nil {
		s.memUndo(mark)
		err = fmt.Errorf("engine: append: %w", err)
		s.mu.Lock()
		s.mu.err = err
		s.mu.Unlock()
		s.logger.Error("write failed; the store refuses writes until reopened", "err", err)
		for _, r := range accepted {
			r.done <- response{err: err}
		}
		return
	}
	s.stats.bytesWritten.Add(uint64(max(0, s.wal.Size()-size)))
	if s.opts.SyncMode != SyncNone {
		s.stats.fsyncs.Add(1)
	}
	// Durable: fold in the dictionary and registered schemas (and, for a
	// group with added links, the index, in record order), then publish.
	// The index is complete before the view that covers it is published:
	// staging's version prechecks rely on that (stage.go).
	for i, recs := range entries {
		s.mustApply(recs, first+uint64(i), links, false)
	}
	s.w.last = g.next - 1
	if ixErr != nil {
		s.mu.Lock()
		s.mu.err = fmt.Errorf("engine: index entries %d-%d: %w", first, first+uint64(len(entries))-1, ixErr)
		s.mu.Unlock()
	}
	s.publish()
	for _, r := range accepted {
		if r.kind == reqEvents {
			r.done <- response{events: r.evs}
		} else {
			r.done <- response{}
		}
	}
	s.maybeSeal()
}

// plan checks r against the committed state and the group, and returns its
// records. On error nothing of r is left in g.
func (s *Store) plan(g *group, r *request) ([]segment.Record, error) {
	switch r.kind {
	case reqLink:
		return s.planLink(g, r)
	case reqSchema:
		return s.planSchema(g, r)
	}
	// Remember what to undo should an event fail.
	type undo struct {
		id     string
		had    bool
		latest int
	}
	var undos []undo
	newMark, docMark, next := len(g.news), len(g.docList), g.next
	rollback := func() {
		for i := len(undos) - 1; i >= 0; i-- {
			u := undos[i]
			if u.had {
				g.latest[u.id] = u.latest
			} else {
				delete(g.latest, u.id)
			}
		}
		g.news, g.infos = g.news[:newMark], g.infos[:newMark]
		for _, sc := range g.docList[docMark:] {
			delete(g.docs, string(sc.Raw()))
		}
		g.docList = g.docList[:docMark]
		g.next = next
	}
	fail := func(i int, err error) ([]segment.Record, error) {
		rollback()
		if r.batch {
			return nil, &trove.BatchError{Index: i, Err: err}
		}
		return nil, err
	}
	// The prechecks hold when nothing was committed since they were made.
	trusted := r.checked && r.last == s.w.last
	recs := make([]segment.Record, 0, len(r.evs))
	var arena []byte // bodies the writer encodes itself, one allocation
	// The request is one WAL entry, which segment.WAL refuses past
	// segment.MaxBodySize; refused there it would fail the whole group and
	// the store, so it is refused here, as invalid input.
	size := entryOverhead
	for i := range r.evs {
		e := &r.evs[i]
		in := &r.info[i]
		committed := in.latest
		if !trusted {
			v, err := s.latestVersion(e.ID.ID)
			if err != nil {
				return fail(i, err)
			}
			committed = v
		}
		latest, inGroup := g.latest[e.ID.ID]
		if !inGroup {
			latest = committed
		}
		switch trove.ClassifyVersion(e.ID.Version, committed, latest) {
		case trove.VersionStored:
			stored, err := s.getEvent(e.ID)
			if err != nil {
				return fail(i, err)
			}
			if !trove.SameEvent(stored, *e, in.hadTime) {
				return fail(i, trove.ConflictOtherContent("engine", e.ID, false))
			}
			*e = stored // decoded into new memory: the caller's to keep
		case trove.VersionPending:
			prev := g.find(e.ID)
			if prev == nil || !trove.SameEvent(*prev, *e, in.hadTime) {
				return fail(i, trove.ConflictOtherContent("engine", e.ID, true))
			}
			*e = prev.Clone()
		case trove.VersionNext:
			body := in.body
			if body == nil {
				num, newDoc := s.schemaNum(g, e.Schema)
				if newDoc {
					recs = append(recs, segment.Record{Type: recSchemaDoc, Body: encodeSchemaDoc(num, e.Schema)})
					size += recordOverhead + len(recs[len(recs)-1].Body)
				}
				if need := bodySize(e, num); cap(arena)-len(arena) < need {
					// A new arena when full: bodies in the old one stay put.
					arena = make([]byte, 0, max(need, (len(r.evs)-i)*need))
				}
				start := len(arena)
				arena = appendEvent(arena, e, num)
				body = arena[start:len(arena):len(arena)]
			}
			e.Position = g.next
			g.next++
			recs = append(recs, segment.Record{Type: recEvent, Position: e.Position,
				Time: e.CreatedAt.UnixMilli(), Body: body})
			if size += recordOverhead + len(body); size > segment.MaxBodySize {
				return fail(i, fmt.Errorf("%w: engine: event %s takes the request past %d bytes (one WAL entry); save fewer or smaller events at once",
					trove.ErrInvalid, e.ID, segment.MaxBodySize))
			}
			undos = append(undos, undo{id: e.ID.ID, had: inGroup, latest: latest})
			g.latest[e.ID.ID] = e.ID.Version
			g.news = append(g.news, e)
			g.infos = append(g.infos, in)
		default:
			return fail(i, trove.ConflictVersionGap("engine", e.ID, latest))
		}
	}
	return recs, nil
}

// The most a WAL entry's record list takes beyond its bodies: the record
// count, and per record its type and three varints (segment FORMAT.md).
const (
	entryOverhead  = binary.MaxVarintLen64
	recordOverhead = 1 + 3*binary.MaxVarintLen64
)

// fitsEntry reports whether recs fit in one WAL entry (segment.MaxBodySize).
func fitsEntry(recs []segment.Record) bool {
	size := entryOverhead
	for i := range recs {
		if size += recordOverhead + len(recs[i].Body); size > segment.MaxBodySize {
			return false
		}
	}
	return true
}

// hasLinks reports whether entries hold a link added with SaveLink.
func hasLinks(entries [][]segment.Record) bool {
	for _, recs := range entries {
		for i := range recs {
			if recs[i].Type == recLink {
				return true
			}
		}
	}
	return false
}

// indexEvents adds the events new in a planned group to the index. It runs
// beside the group's WAL write and reads only the group's events, which
// nothing changes meanwhile.
func (s *Store) indexEvents(g *group) error {
	docs := make([]index.Doc, len(g.news))
	for i, e := range g.news {
		in := g.infos[i]
		docs[i] = index.Doc{ID: e.ID.ID, Version: e.ID.Version, CreatedAt: e.CreatedAt.UnixMilli(),
			Schema: e.Schema.Identity(), Producer: e.Producer, Links: e.Links, Payload: e.Payload,
			Terms: in.terms, TermsSet: in.termsSet}
	}
	return s.ix.AddBatch(uint32(g.news[0].Position), docs)
}

// schemaNum returns the dictionary number of a schema document, assigning
// one in the group when it is new.
func (s *Store) schemaNum(g *group, sc trove.Schema) (uint32, bool) {
	key := string(sc.Raw())
	if n, ok := s.w.schemaNums[key]; ok {
		return n, false
	}
	if n, ok := g.docs[key]; ok {
		return n, false
	}
	n := uint32(len(s.w.schemas) + len(g.docList))
	if g.docs == nil {
		g.docs = map[string]uint32{}
	}
	g.docs[key] = n
	g.docList = append(g.docList, sc)
	return n, true
}

func (s *Store) planLink(g *group, r *request) ([]segment.Record, error) {
	var pos uint64
	if p, ok, err := s.ix.Find(r.source.ID, r.source.Version, ^uint32(0)); ok {
		pos = uint64(p)
	} else {
		v := r.source.Version
		if v == 0 {
			v = g.latest[r.source.ID]
		}
		e := g.find(trove.EventID{ID: r.source.ID, Version: v})
		switch {
		case e != nil && v != 0:
			pos = e.Position
		case err != nil:
			// The index could not verify the id: not "not found".
			return nil, fmt.Errorf("engine: link source %s: %w", r.source, err)
		default:
			return nil, fmt.Errorf("%w: engine: link source %s", trove.ErrNotFound, r.source)
		}
	}
	dup, err := s.hasLink(g, pos, r.link)
	if err != nil {
		return nil, fmt.Errorf("engine: link source %s: %w", r.source, err)
	}
	if dup {
		return nil, nil
	}
	recs := []segment.Record{{Type: recLink, Body: encodeLinkRecord(pos, r.link)}}
	if !fitsEntry(recs) {
		return nil, fmt.Errorf("%w: engine: link from %s: its metadata takes it past %d bytes (one WAL entry)", trove.ErrInvalid, r.source, segment.MaxBodySize)
	}
	g.links = append(g.links, pendingLink{pos, r.link})
	return recs, nil
}

// hasLink reports whether the event at pos already has link: saved with
// it, added before, or added earlier in the group.
func (s *Store) hasLink(g *group, pos uint64, link trove.EventLink) (bool, error) {
	for _, pl := range g.links {
		if pl.pos == pos && pl.link.Same(link) {
			return true, nil
		}
	}
	if slices.ContainsFunc(s.ix.AddedLinks(uint32(pos)), link.Same) {
		return true, nil
	}
	for _, e := range g.news {
		if e.Position == pos {
			return slices.ContainsFunc(e.Links, link.Same), nil
		}
	}
	e, err := s.eventAt(s.view.Load(), pos)
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(e.Links, link.Same), nil
}

func (s *Store) planSchema(g *group, r *request) ([]segment.Record, error) {
	key := r.schema.ID + "\x00" + r.schema.Version
	doc, ok := s.w.regKeys[key]
	if !ok {
		doc, ok = g.regs[key]
	}
	if ok {
		if trove.JSONEqual(json.RawMessage(doc), r.schema.Schema) {
			return nil, nil
		}
		return nil, fmt.Errorf("%w: engine: schema %s version %s is registered with another document",
			trove.ErrConflict, r.schema.ID, r.schema.Version)
	}
	body, err := json.Marshal(r.schema)
	if err != nil {
		return nil, fmt.Errorf("%w: engine: schema: %v", trove.ErrInvalid, err)
	}
	recs := []segment.Record{{Type: recRegistered, Body: body}}
	if !fitsEntry(recs) {
		return nil, fmt.Errorf("%w: engine: schema %s version %s is past %d bytes (one WAL entry)", trove.ErrInvalid, r.schema.ID, r.schema.Version, segment.MaxBodySize)
	}
	if g.regs == nil {
		g.regs = map[string]string{}
	}
	g.regs[key] = string(r.schema.Schema)
	return recs, nil
}

// apply folds the records of WAL entry walIndex into the writer's state:
// the dictionary, the registered schemas, the index (when toIndex) and the
// memtable (when toMem).
func (s *Store) apply(recs []segment.Record, walIndex uint64, toIndex, toMem bool) error {
	var docs []index.Doc
	var firstPos uint32
	flush := func() error {
		if len(docs) == 0 {
			return nil
		}
		err := s.ix.AddBatch(firstPos, docs)
		docs = docs[:0]
		return err
	}
	for i := range recs {
		rec := &recs[i]
		switch rec.Type {
		case recSchemaDoc:
			num, sc, err := decodeSchemaDoc(rec.Body)
			if err != nil {
				return err
			}
			if int(num) == len(s.w.schemas) {
				s.w.schemas = append(s.w.schemas, sc)
				s.w.schemaNums[string(sc.Raw())] = num
			} else if int(num) > len(s.w.schemas) {
				return fmt.Errorf("%w: schema number %d out of order", errRecord, num)
			}
		case recRegistered:
			var rs trove.RegisteredSchema
			if err := json.Unmarshal(rec.Body, &rs); err != nil {
				return fmt.Errorf("%w: registered schema: %v", errRecord, err)
			}
			key := rs.ID + "\x00" + rs.Version
			if _, dup := s.w.regKeys[key]; !dup {
				s.w.regKeys[key] = string(rs.Schema)
				s.regMu.Lock()
				s.registered = append(s.registered, rs)
				s.regMu.Unlock()
			}
		case recEvent:
			s.w.last = max(s.w.last, rec.Position)
			if toIndex {
				h, err := decodeHead(rec.Body)
				if err != nil {
					return err
				}
				if h.schemaNum >= uint32(len(s.w.schemas)) {
					return fmt.Errorf("%w: unknown schema number %d", errRecord, h.schemaNum)
				}
				if len(docs) == 0 {
					firstPos = uint32(rec.Position)
				}
				docs = append(docs, index.Doc{ID: h.id, Version: h.version, CreatedAt: rec.Time,
					Schema: s.w.schemas[h.schemaNum].Identity(), Producer: h.producer,
					Links: h.links, Payload: h.payload})
			}
		case recLink:
			if toIndex {
				if err := flush(); err != nil {
					return err
				}
				src, l, err := decodeLinkRecord(rec.Body)
				if err != nil {
					return err
				}
				s.ix.AddLink(uint32(src), l)
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if toMem {
		s.memAppend(recs, walIndex)
	}
	return nil
}

// memAppend adds the records of WAL entry walIndex to the memtable.
func (s *Store) memAppend(recs []segment.Record, walIndex uint64) {
	m := s.w.mem
	if m.firstWAL == 0 {
		m.firstWAL = walIndex
	}
	m.lastWAL = walIndex
	m.records = append(grow(m.records, len(recs)), recs...)
	m.bodies, m.times = grow(m.bodies, len(recs)), grow(m.times, len(recs))
	for i := range recs {
		rec := &recs[i]
		m.bytes += int64(len(rec.Body)) + 8
		if rec.Type == recEvent {
			m.bodies = append(m.bodies, rec.Body)
			m.times = append(m.times, rec.Time)
		}
	}
}

// grow makes room for n more elements in s, doubling its capacity when it
// must grow: the memtable's slices reach millions of elements, and
// append's growth by a quarter would copy them over and over.
func grow[T any](s []T, n int) []T {
	if len(s)+n <= cap(s) {
		return s
	}
	g := make([]T, len(s), max(2*cap(s), len(s)+n, 1024))
	copy(g, s)
	return g
}

// memState is the memtable's extent, to take back appends of a failed write.
type memState struct {
	records, bodies, times int
	bytes                  int64
	firstWAL, lastWAL      uint64
}

func (s *Store) memMark() memState {
	m := s.w.mem
	return memState{len(m.records), len(m.bodies), len(m.times), m.bytes, m.firstWAL, m.lastWAL}
}

// memUndo takes the memtable back to ms. The dropped records were never
// published.
func (s *Store) memUndo(ms memState) {
	m := s.w.mem
	m.records, m.bodies, m.times = m.records[:ms.records], m.bodies[:ms.bodies], m.times[:ms.times]
	m.bytes, m.firstWAL, m.lastWAL = ms.bytes, ms.firstWAL, ms.lastWAL
}

// mustApply applies records the writer encoded itself; a failure there is
// a bug, and it stops the store's writes.
func (s *Store) mustApply(recs []segment.Record, walIndex uint64, toIndex, toMem bool) {
	if err := s.apply(recs, walIndex, toIndex, toMem); err != nil {
		s.mu.Lock()
		s.mu.err = fmt.Errorf("engine: apply entry %d: %w", walIndex, err)
		s.mu.Unlock()
	}
}

// now is the store's clock.
func now() time.Time { return time.Now() }
