package engine

import (
	"context"
	"encoding/json"
	"fmt"
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
	kind   reqKind
	events []staged
	batch  bool // errors name the failing event (*trove.BatchError)
	source trove.EventID
	link   trove.EventLink
	schema trove.RegisteredSchema
	done   chan response
}

type response struct {
	events []trove.Event
	err    error
}

// staged is a prepared event waiting for commit.
type staged struct {
	ev      trove.Event
	hadTime bool
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
	latest  map[string]int                // id → latest version in the group
	pos     map[trove.EventID]uint64      // id@version → position in the group
	events  map[trove.EventID]trove.Event // events new in the group
	docs    map[string]uint32             // schema documents new in the group
	docList []trove.Schema
	regs    map[string]string
	next    uint64 // next position
}

func newGroup(next uint64) *group {
	return &group{latest: map[string]int{}, events: map[trove.EventID]trove.Event{},
		docs: map[string]uint32{}, regs: map[string]string{}, next: next}
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
		case req, ok := <-s.reqs:
			if !ok {
				s.waitSeal()
				return
			}
			r = req
		}
		batch := []*request{r}
	drain:
		for len(batch) < s.opts.MaxGroup {
			select {
			case r2, ok := <-s.reqs:
				if !ok {
					break drain
				}
				batch = append(batch, r2)
			default:
				break drain
			}
		}
		s.commit(batch)
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
	g := newGroup(s.w.last + 1)
	var accepted []*request
	var entries [][]segment.Record
	var results [][]trove.Event
	for _, r := range batch {
		recs, out, err := s.plan(g, r)
		if err != nil {
			r.done <- response{err: err}
			continue
		}
		accepted = append(accepted, r)
		entries = append(entries, recs)
		results = append(results, out)
	}
	if len(entries) == 0 {
		return
	}
	// Index the group's events while its bytes are written and fsynced:
	// readers see the index only up to the committed position (the view's
	// last), so nothing is visible before it is durable. Groups with added
	// links are indexed after the write, in record order.
	var indexed chan error
	if !hasLinks(entries) {
		indexed = make(chan error, 1)
		go func() { indexed <- s.indexEvents(g, entries) }()
	}
	size := s.wal.Size()
	first, err := s.wal.Append(entries)
	var ixErr error
	if indexed != nil {
		ixErr = <-indexed
	}
	if err == nil {
		s.stats.bytesWritten.Add(uint64(max(0, s.wal.Size()-size)))
		if s.opts.SyncMode != SyncNone {
			s.stats.fsyncs.Add(1)
		}
	}
	if err != nil {
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
	// Readers find events through the view, then through the index: publish
	// the view first, so that whatever the index names can be read.
	for i, recs := range entries {
		s.mustApply(recs, first+uint64(i), false, true)
	}
	s.publish()
	if indexed == nil {
		for i, recs := range entries {
			s.mustApply(recs, first+uint64(i), true, false)
		}
	} else if ixErr != nil {
		s.mu.Lock()
		s.mu.err = fmt.Errorf("engine: index entries %d-%d: %w", first, first+uint64(len(entries))-1, ixErr)
		s.mu.Unlock()
	}
	for i, r := range accepted {
		out := results[i]
		for j := range out {
			if out[j].Position == 0 {
				// A retry of an event new in this group: take its position.
				if p, ok := g.pos[out[j].ID]; ok {
					out[j].Position = p
				}
			}
		}
		r.done <- response{events: out}
	}
	s.maybeSeal()
}

// plan checks r against the committed state and the group, and returns its
// records and its results. On error nothing of r is left in g.
func (s *Store) plan(g *group, r *request) ([]segment.Record, []trove.Event, error) {
	switch r.kind {
	case reqLink:
		return s.planLink(g, r)
	case reqSchema:
		return s.planSchema(g, r)
	}
	// Work on a copy of the group's maps' deltas: remember what to undo.
	type undo struct {
		id     string
		had    bool
		latest int
	}
	var undos []undo
	var newEvents []trove.EventID
	docMark := len(g.docList)
	next := g.next
	rollback := func() {
		for i := len(undos) - 1; i >= 0; i-- {
			u := undos[i]
			if u.had {
				g.latest[u.id] = u.latest
			} else {
				delete(g.latest, u.id)
			}
		}
		for _, id := range newEvents {
			delete(g.events, id)
			delete(g.pos, id)
		}
		for _, sc := range g.docList[docMark:] {
			delete(g.docs, string(sc.Raw()))
		}
		g.docList = g.docList[:docMark]
	}
	fail := func(i int, err error) ([]segment.Record, []trove.Event, error) {
		rollback()
		if r.batch {
			return nil, nil, &trove.BatchError{Index: i, Err: err}
		}
		return nil, nil, err
	}
	var recs []segment.Record
	var arena []byte // every event body of the request, one allocation
	out := make([]trove.Event, len(r.events))
	for i, st := range r.events {
		e := st.ev
		committed := 0
		if _, v, ok := s.ix.Latest(e.ID.ID); ok {
			committed = v
		}
		latest, inGroup := g.latest[e.ID.ID]
		if !inGroup {
			latest = committed
		}
		switch {
		case e.ID.Version <= committed:
			stored, err := s.getEvent(e.ID)
			if err != nil {
				return fail(i, err)
			}
			if !trove.SameEvent(stored, e, st.hadTime) {
				return fail(i, fmt.Errorf("%w: engine: event %s exists with other content", trove.ErrConflict, e.ID))
			}
			out[i] = stored
		case e.ID.Version <= latest:
			prev := g.events[e.ID]
			if !trove.SameEvent(prev, e, st.hadTime) {
				return fail(i, fmt.Errorf("%w: engine: event %s is being saved with other content", trove.ErrConflict, e.ID))
			}
			out[i] = prev.Clone()
		case e.ID.Version == latest+1:
			num, newDoc := s.schemaNum(g, e.Schema)
			if newDoc {
				recs = append(recs, segment.Record{Type: recSchemaDoc, Body: encodeSchemaDoc(num, e.Schema)})
			}
			e.Position = next
			next++
			if arena == nil {
				arena = make([]byte, 0, len(r.events)*(len(e.Payload)+96))
			}
			start := len(arena)
			arena = appendEvent(arena, &e, num)
			recs = append(recs, segment.Record{Type: recEvent, Position: e.Position,
				Time: e.CreatedAt.UnixMilli(), Body: arena[start:len(arena):len(arena)]})
			undos = append(undos, undo{id: e.ID.ID, had: inGroup, latest: latest})
			g.latest[e.ID.ID] = e.ID.Version
			g.events[e.ID] = e
			if g.pos == nil {
				g.pos = map[trove.EventID]uint64{}
			}
			g.pos[e.ID] = e.Position
			newEvents = append(newEvents, e.ID)
			out[i] = e
		default:
			return fail(i, fmt.Errorf("%w: engine: event %s: version %d is not latest+1 (latest is %d)",
				trove.ErrConflict, e.ID.ID, e.ID.Version, latest))
		}
	}
	g.next = next
	// out shares nothing with the store: prepared events are the caller's
	// copies, stored ones were decoded into new memory.
	return recs, out, nil
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

// indexEvents adds the events of a planned group to the index. It runs
// beside the group's WAL write: it reads the writer's dictionary and the
// group's new schema documents, which nothing changes meanwhile.
func (s *Store) indexEvents(g *group, entries [][]segment.Record) error {
	var docs []index.Doc
	var firstPos uint32
	known := uint32(len(s.w.schemas))
	for _, recs := range entries {
		for i := range recs {
			rec := &recs[i]
			if rec.Type != recEvent {
				continue
			}
			h, err := decodeHead(rec.Body)
			if err != nil {
				return err
			}
			var sc trove.Schema
			switch {
			case h.schemaNum < known:
				sc = s.w.schemas[h.schemaNum]
			case int(h.schemaNum-known) < len(g.docList):
				sc = g.docList[h.schemaNum-known]
			default:
				return fmt.Errorf("%w: unknown schema number %d", errRecord, h.schemaNum)
			}
			if docs == nil {
				firstPos = uint32(rec.Position)
				docs = make([]index.Doc, 0, len(recs))
			}
			docs = append(docs, index.Doc{ID: h.id, Version: h.version, CreatedAt: rec.Time,
				Schema: sc.Identity(), Producer: h.producer, Links: h.links, Payload: h.payload})
		}
	}
	if len(docs) == 0 {
		return nil
	}
	return s.ix.AddBatch(firstPos, docs)
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
	g.docs[key] = n
	g.docList = append(g.docList, sc)
	return n, true
}

func (s *Store) planLink(g *group, r *request) ([]segment.Record, []trove.Event, error) {
	var pos uint64
	if p, ok := s.ix.Lookup(r.source.ID, r.source.Version); ok {
		pos = uint64(p)
	} else {
		v := r.source.Version
		if v == 0 {
			v = g.latest[r.source.ID]
		}
		p, ok := g.pos[trove.EventID{ID: r.source.ID, Version: v}]
		if !ok || v == 0 {
			return nil, nil, fmt.Errorf("%w: engine: link source %s", trove.ErrNotFound, r.source)
		}
		pos = p
	}
	return []segment.Record{{Type: recLink, Body: encodeLinkRecord(pos, r.link)}}, nil, nil
}

func (s *Store) planSchema(g *group, r *request) ([]segment.Record, []trove.Event, error) {
	key := r.schema.ID + "\x00" + r.schema.Version
	doc, ok := s.w.regKeys[key]
	if !ok {
		doc, ok = g.regs[key]
	}
	if ok {
		if trove.JSONEqual(json.RawMessage(doc), r.schema.Schema) {
			return nil, nil, nil
		}
		return nil, nil, fmt.Errorf("%w: engine: schema %s version %s is registered with another document",
			trove.ErrConflict, r.schema.ID, r.schema.Version)
	}
	body, err := json.Marshal(r.schema)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: engine: schema: %v", trove.ErrInvalid, err)
	}
	g.regs[key] = string(r.schema.Schema)
	return []segment.Record{{Type: recRegistered, Body: body}}, nil, nil
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
		m := s.w.mem
		if m.firstWAL == 0 {
			m.firstWAL = walIndex
		}
		m.lastWAL = walIndex
		for i := range recs {
			rec := recs[i]
			m.records = append(m.records, rec)
			m.bytes += int64(len(rec.Body)) + 8
			if rec.Type == recEvent {
				m.bodies = append(m.bodies, rec.Body)
				m.times = append(m.times, rec.Time)
			}
		}
	}
	return nil
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
