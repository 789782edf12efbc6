package engine

import (
	"bytes"
	"fmt"
	"sync"
	"time"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/index"
)

// Staging: the per-event work of a save is done in the caller's goroutine
// (on two goroutines for large batches) before the request is queued, so
// that the single writer only checks versions, assigns positions and
// appends:
//
//   - trove.Prepare (validation, defaults, JSON compaction; a payload that
//     is already compact skips compaction, see jsonscan.go; with the
//     payload index on, that check is the pass that extracts its terms,
//     index.TermWriter.AppendChecked);
//   - the record body (record.go), when the event's schema is already in
//     the committed dictionary (schemas new to the store are interned and
//     encoded by the writer);
//   - a precheck of the id's committed latest version (index.Latest);
//   - the payload's index terms (index.TermWriter), which the writer's
//     index update would otherwise walk the payload for.
//
// The precheck is only a hint: it was made against the view whose last
// position the request carries, and the writer uses it only when no event
// was committed since (its own last position is still that one); otherwise
// it looks the versions up again. The index only ever holds events past the
// published view while a group is being committed, and such a group either
// commits (the last position moves on, so the hint is ignored) or fails
// (the store refuses everything after it); and the writer completes a
// group's index before it publishes the view that covers the group.

// stageParallelMin is the batch size from which staging splits the work
// across two goroutines.
const stageParallelMin = 256

// maxSchemaScan bounds the linear search of the committed dictionary for an
// event's schema during staging; in stores with more schema documents the
// writer encodes the events itself.
const maxSchemaScan = 64

// stageInfo is what staging learned about one prepared event.
type stageInfo struct {
	hadTime bool   // the caller gave createdAt (idempotent retries compare it)
	latest  int    // committed latest version of the id at the precheck (0: none)
	known   bool   // the schema is in the committed dictionary …
	num     uint32 // … under this number
	body    []byte // the encoded record body; nil: the writer encodes it
	// terms are the payload's index terms (index.TermWriter), extracted
	// here so that the writer's index update does not walk the payload;
	// termsSet is false when the payload index is off.
	terms    []byte
	termsSet bool
}

// schemaFinder finds schema documents in the committed dictionary,
// remembering the last one found.
type schemaFinder struct {
	schemas []trove.Schema
	last    int // index of the last hit, -1 when none
}

func newSchemaFinder(v *view) schemaFinder {
	if len(v.schemas) > maxSchemaScan {
		return schemaFinder{last: -1}
	}
	return schemaFinder{schemas: v.schemas, last: -1}
}

// find returns the dictionary number of sc's document.
func (f *schemaFinder) find(sc trove.Schema) (uint32, bool) {
	raw := sc.Raw()
	if f.last >= 0 && bytes.Equal(f.schemas[f.last].Raw(), raw) {
		return uint32(f.last), true
	}
	for n := range f.schemas {
		if bytes.Equal(f.schemas[n].Raw(), raw) {
			f.last = n
			return uint32(n), true
		}
	}
	return 0, false
}

// stageRange stages evs[lo:hi] against view v, filling info. With prepare,
// src[i] is the caller's event and evs[i] receives it prepared with clock t;
// without, evs already holds prepared events and info their hadTime. The
// error is the first failing event's (a *trove.BatchError when batch).
func (s *Store) stageRange(v *view, src, evs []trove.Event, info []stageInfo, lo, hi int, t time.Time, batch bool) error {
	finder := newSchemaFinder(v)
	withTerms := s.opts.MaxPathValues > 0
	var payloads []byte // the payloads copied on the fast path, one allocation
	var terms []byte    // the range's index terms, one buffer dropped once the group is indexed
	n := 0
	for i := lo; i < hi; i++ {
		if src != nil {
			n += len(src[i].Payload)
		} else {
			n += len(evs[i].Payload)
		}
	}
	if src != nil {
		payloads = make([]byte, 0, n)
	}
	if withTerms {
		// A term takes about as many bytes as its payload text.
		terms = make([]byte, 0, n+n/2)
	}
	tw := termWriters.Get().(*index.TermWriter)
	defer termWriters.Put(tw)
	size := 0
	for i := lo; i < hi; i++ {
		if src != nil {
			in := src[i]
			var fast bool
			if withTerms {
				// The check of the fast path extracts the terms too.
				start := len(terms)
				if terms, fast = tw.AppendChecked(terms, in.Payload); fast {
					info[i].terms, info[i].termsSet = terms[start:len(terms):len(terms)], true
				}
			} else {
				fast = alreadyCompact(in.Payload)
			}
			if fast {
				// Compaction would copy it unchanged: prepare the rest,
				// copy the payload into the range's buffer.
				in.Payload = []byte(`{}`)
			}
			p, err := trove.Prepare(in, t)
			if err != nil {
				if batch {
					return &trove.BatchError{Index: i, Err: err}
				}
				return err
			}
			if fast {
				start := len(payloads)
				payloads = append(payloads, src[i].Payload...)
				p.Payload = payloads[start:len(payloads):len(payloads)]
			}
			evs[i] = p
			info[i].hadTime = !src[i].CreatedAt.IsZero()
		}
		e := &evs[i]
		ver, err := s.latestVersion(e.ID.ID)
		if err != nil {
			if batch {
				return &trove.BatchError{Index: i, Err: err}
			}
			return err
		}
		info[i].latest = ver
		if num, ok := finder.find(e.Schema); ok {
			info[i].num, info[i].known = num, true
			size += bodySize(e, num)
		}
	}
	// Every body of the range in one allocation, sized exactly (but for
	// file lists): the memtable keeps them until the range is sealed.
	arena := make([]byte, 0, size)
	for i := lo; i < hi; i++ {
		if info[i].known {
			start := len(arena)
			arena = appendEvent(arena, &evs[i], info[i].num)
			info[i].body = arena[start:len(arena):len(arena)]
		}
	}
	if withTerms {
		// The terms of the payloads the fast path did not take, compacted
		// by trove.Prepare (and of every payload of a transaction).
		for i := lo; i < hi; i++ {
			if !info[i].termsSet {
				start := len(terms)
				terms = tw.Append(terms, evs[i].Payload)
				info[i].terms, info[i].termsSet = terms[start:len(terms):len(terms)], true
			}
		}
	}
	return nil
}

// termWriters keeps term extractors with their scratch buffers, so that
// staging one event does not grow new ones.
var termWriters = sync.Pool{New: func() any { return new(index.TermWriter) }}

// latestVersion returns the latest version of id in the index (0 when the
// id is new). An id the index cannot tell apart from the ids it holds,
// because reading one of them back failed (a damaged block), is an error:
// taken as new, it would let a second version 1 in.
func (s *Store) latestVersion(id string) (int, error) {
	_, ver, found, err := s.ix.FindLatest(id)
	if found {
		return ver, nil
	}
	if err != nil {
		s.mu.RLock()
		closed := s.mu.closed
		s.mu.RUnlock()
		if closed {
			return 0, closedErr("save")
		}
		return 0, fmt.Errorf("engine: latest version of %s: %w", id, err)
	}
	return 0, nil
}

// stage builds the request that saves events: prepared with clock t when
// src is set (then evs and info are allocated here), or already prepared in
// evs with info's hadTime set. Large batches are staged on two goroutines;
// the error returned is always the first failing event's.
func (s *Store) stage(src []trove.Event, evs []trove.Event, info []stageInfo, t time.Time, batch bool) (*request, error) {
	n := len(evs)
	if src != nil {
		n = len(src)
		evs = make([]trove.Event, n)
		info = make([]stageInfo, n)
	}
	v := s.view.Load() // before any precheck: see the comment at the top
	r := &request{kind: reqEvents, evs: evs, info: info, batch: batch, checked: true, last: v.last}
	if n < stageParallelMin {
		if err := s.stageRange(v, src, evs, info, 0, n, t, batch); err != nil {
			return nil, err
		}
		return r, nil
	}
	mid := n / 2
	var second error
	done := make(chan struct{})
	go func() {
		defer close(done)
		second = s.stageRange(v, src, evs, info, mid, n, t, batch)
	}()
	first := s.stageRange(v, src, evs, info, 0, mid, t, batch)
	<-done
	if first != nil {
		return nil, first
	}
	if second != nil {
		return nil, second
	}
	return r, nil
}
