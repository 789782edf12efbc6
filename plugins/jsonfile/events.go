package jsonfile

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/internal/fsutil"
	"github.com/trovedb/trove/plugins/internal/linkbook"
	"github.com/trovedb/trove/plugins/internal/saveplan"
)

// SaveEvent saves e (see trove.EventStorage). The event's file is on disk,
// fsynced, when it returns.
func (s *Store) SaveEvent(ctx context.Context, e trove.Event) (trove.Event, error) {
	return saveplan.SaveOne(ctx, s, e)
}

// SaveEvents saves events atomically: all of them, or none on any error,
// which is then a *trove.BatchError naming the failing event when one event
// is at fault. A batch of more than one new event goes through the batch
// journal, so a crash in the middle leaves all of it or none.
func (s *Store) SaveEvents(ctx context.Context, events []trove.Event) ([]trove.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st, err := saveplan.StageAll(events, s.now())
	if err != nil {
		return nil, err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	return s.commitWriteLocked(st)
}

// commitWriteLocked checks every staged event against the store and the
// events before it, writes the new ones and publishes them. The caller holds
// writeMu, so the in-memory state cannot change underneath (readers only
// read it). Nothing changes on error.
func (s *Store) commitWriteLocked(events []saveplan.Staged) ([]trove.Event, error) {
	s.mu.RLock()
	err := s.checkWriteLocked("save")
	s.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	out, fresh, err := s.planLocked(events)
	if err != nil {
		return nil, err
	}
	if len(fresh) == 0 {
		return out, nil
	}
	if err := s.persist(fresh); err != nil {
		return nil, err
	}
	s.mu.Lock()
	for _, e := range fresh {
		s.addLocked(e, false)
	}
	s.notifyLocked()
	s.mu.Unlock()
	for i := range out {
		out[i] = out[i].Clone()
	}
	return out, nil
}

// planLocked validates a batch and assigns positions to its new events
// (saveplan.Plan). It returns the result of every event (new ones with
// their positions, retries as stored) and the new events in position order.
// The caller holds writeMu.
func (s *Store) planLocked(events []saveplan.Staged) (out, fresh []trove.Event, err error) {
	out, idx, err := saveplan.Plan(context.Background(), "jsonfile", events, &planLog{s: s, last: s.mu.lastPos})
	if err != nil {
		return nil, nil, err
	}
	for _, i := range idx {
		fresh = append(fresh, out[i])
	}
	return out, fresh, nil
}

// planLog is the store as saveplan.Plan reads it. Append only numbers the
// new events: commitWriteLocked writes them once the whole batch passed.
type planLog struct {
	s    *Store
	last uint64 // the last position given
}

func (l *planLog) Latest(_ context.Context, id string) (int, error) {
	return len(l.s.mu.byID[id]), nil
}

func (l *planLog) Stored(_ context.Context, id trove.EventID) (trove.Event, error) {
	return l.s.mu.byID[id.ID][id.Version-1].ev, nil
}

func (l *planLog) Append(context.Context, trove.Event) (uint64, error) {
	l.last++
	return l.last, nil
}

// persist writes new event versions durably. One event is one atomic file
// publish. Several go through the journal: once it is published the batch
// is committed; the event files follow (one syncfs for all), then the
// journal is removed. If a write fails, what was written is removed again
// (rollback), so the batch is none.
func (s *Store) persist(fresh []trove.Event) error {
	if len(fresh) == 1 {
		if err := s.writeEvents(fresh); err != nil {
			return s.rollback(fresh, false, err)
		}
		return nil
	}
	if err := s.writeJournal(fresh); err != nil {
		// The journal may be published even so (a rename whose directory
		// sync failed): it goes too.
		return s.rollback(fresh, true, err)
	}
	if err := s.writeJournaledEvents(fresh); err != nil {
		return s.rollback(fresh, true, err)
	}
	// Every event file is durable: the batch is saved. A journal that
	// cannot be removed only rewrites the same files at the next open (or
	// is replaced by the next batch's), so it does not fail the save.
	_ = s.removeJournal()
	return nil
}

// rollback undoes a failed persist of fresh: it removes the event files
// the write may have left, makes the removals durable, and only then
// removes the journal (when journaled), so that a crash at any point
// leaves all of the batch (the journal finishes it at the next open) or
// none of it. When any step fails, the directory may still hold the events
// and the next open may show them: the store then refuses every write
// until it is reopened (checkWriteLocked), positions are never given
// twice, and the error, wrapping trove.ErrCorrupt, says that the outcome
// is unknown rather than that nothing was saved.
func (s *Store) rollback(fresh []trove.Event, journaled bool, cause error) error {
	var errs []error
	dirs := map[string]bool{}
	for _, e := range fresh {
		path := s.eventPath(e.ID.ID, e.ID.Version)
		dirs[filepath.Dir(path)] = true
		err := s.faultAt("remove event", path)
		if err == nil {
			err = os.Remove(path)
		}
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove %s: %w", path, err))
		}
	}
	if len(errs) == 0 {
		for dir := range dirs {
			err := s.faultAt("sync dir", dir)
			if err == nil {
				err = fsutil.SyncDir(dir)
			}
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	if journaled && len(errs) == 0 {
		if err := s.removeJournal(); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		return cause
	}
	err := fmt.Errorf("%w: jsonfile: a save failed (%v) and so did its rollback (%v): the directory may still hold the events, which an open would then show; the store refuses writes until it is reopened",
		trove.ErrCorrupt, cause, errors.Join(errs...))
	s.mu.Lock()
	if s.mu.broken == nil {
		s.mu.broken = err
	}
	s.mu.Unlock()
	return err
}

// checkWriteLocked is checkLocked for a call that writes: it also reports
// a rollback that failed (rollback). The caller holds mu.
func (s *Store) checkWriteLocked(op string) error {
	if err := s.checkLocked(op); err != nil {
		return err
	}
	if s.mu.broken != nil {
		return fmt.Errorf("jsonfile: %s: refused until the store is reopened: %w", op, s.mu.broken)
	}
	return nil
}

// faultAt is the fault-injection seam of the tests: it returns the error
// the test's hook injects for op on path, nil in production.
func (s *Store) faultAt(op, path string) error {
	if s.fault == nil {
		return nil
	}
	return s.fault(op, path)
}

// GetEvent returns the latest version of id.ID, or id.Version when set.
func (s *Store) GetEvent(ctx context.Context, id trove.EventID) (trove.Event, error) {
	if err := ctx.Err(); err != nil {
		return trove.Event{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.checkLocked("get event"); err != nil {
		return trove.Event{}, err
	}
	r := s.lookupLocked(id)
	if r == nil {
		return trove.Event{}, fmt.Errorf("%w: jsonfile: event %s", trove.ErrNotFound, id)
	}
	return r.ev.Clone(), nil
}

// lookupLocked finds an event version (the latest for Version 0), or nil.
func (s *Store) lookupLocked(id trove.EventID) *record {
	r, _ := saveplan.PickVersion(s.mu.byID[id.ID], id)
	return r
}

// outLinks returns r's outgoing links: its own, then those added.
func outLinks(r *record) []trove.EventLink { return linkbook.Outgoing(r.ev.Links, r.added) }

// QueryEvents evaluates q with the root package's compiled Query, over the
// smallest candidate list the in-memory indexes give (by schema, producer,
// time range or link target), so its results are exactly the contract's.
// With a limit it stops as soon as offset+limit events matched, walking the
// candidates in the query's order: position order without a sort, the time
// index for a sort on createdAt alone.
func (s *Store) QueryEvents(ctx context.Context, q trove.EventQuery) ([]trove.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c, err := q.Compile()
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.checkLocked("query"); err != nil {
		return nil, err
	}
	if c.MatchesNothing() {
		return []trove.Event{}, nil
	}
	keys := c.SortKeys()
	byTime := len(keys) == 1 && keys[0].Field == "createdAt"
	want := -1 // matches needed before stopping; -1: all
	if c.Limit() >= 0 && (len(keys) == 0 || byTime) {
		want = math.MaxInt // offset+limit saturates instead of wrapping to "all"
		if c.Offset() <= math.MaxInt-c.Limit() {
			want = c.Offset() + c.Limit()
		}
	}
	candidates := s.candidatesLocked(c)
	seq := slices.Values(candidates)
	if byTime && want >= 0 && len(candidates) > s.walkAbove {
		seq = s.timeOrderLocked(c, keys[0].Desc)
	} else if len(keys) > 0 {
		want = -1 // every candidate is needed to sort
	}
	var items []trove.Sortable
	i := 0
	for r := range seq {
		if i++; i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		if !c.AllVersions() {
			versions := s.mu.byID[r.ev.ID.ID]
			if versions[len(versions)-1] != r {
				continue
			}
		}
		if !c.MatchDecoded(&r.ev, r.payload, outLinks(r)) {
			continue
		}
		items = append(items, trove.Sortable{Event: r.ev, Payload: r.payload})
		if want >= 0 && len(items) >= want {
			break
		}
	}
	c.Sort(items) // stable: items already in the query's order stay so
	events := make([]trove.Event, len(items))
	for i := range items {
		events[i] = items[i].Event
	}
	events = c.Page(events)
	out := make([]trove.Event, len(events))
	for i, e := range events {
		out[i] = e.Clone()
	}
	return out, nil
}

// smallCandidates is the default of Store.walkAbove: the candidate count
// under which sorting them all beats walking the time index.
const smallCandidates = 4096

// timeRangeLocked returns the bounds in byTime of the query's time range.
func (s *Store) timeRangeLocked(c *trove.CompiledQuery) (lo, hi int) {
	start, hasStart, end, hasEnd := c.TimeBounds()
	lo, hi = 0, len(s.mu.byTime)
	if hasStart {
		lo, _ = slices.BinarySearchFunc(s.mu.byTime, start, func(r *record, t time.Time) int {
			if r.ev.CreatedAt.Before(t) {
				return -1
			}
			return 1
		})
	}
	if hasEnd {
		hi, _ = slices.BinarySearchFunc(s.mu.byTime, end, func(r *record, t time.Time) int {
			if r.ev.CreatedAt.After(t) {
				return 1
			}
			return -1
		})
	}
	return lo, max(lo, hi)
}

// timeOrderLocked yields the events of the query's time range ordered by
// createdAt (descending when desc), ties in position order, as
// trove.CompiledQuery.Compare orders a sort on createdAt alone.
func (s *Store) timeOrderLocked(c *trove.CompiledQuery, desc bool) iter.Seq[*record] {
	lo, hi := s.timeRangeLocked(c)
	list := s.mu.byTime
	return func(yield func(*record) bool) {
		if !desc {
			for _, r := range list[lo:hi] {
				if !yield(r) {
					return
				}
			}
			return
		}
		for i := hi - 1; i >= lo; {
			j := i // the group of equal createdAt is list[j:i+1], in position order
			for j > lo && list[j-1].ev.CreatedAt.Equal(list[i].ev.CreatedAt) {
				j--
			}
			for _, r := range list[j : i+1] {
				if !yield(r) {
					return
				}
			}
			i = j - 1
		}
	}
}

// candidatesLocked returns, in position order, a superset of the events the
// query can match: the shortest of the schema, producer, time range and
// link target index lists, or the whole log.
func (s *Store) candidatesLocked(c *trove.CompiledQuery) []*record {
	best := s.mu.log
	consider := func(lists [][]*record, sorted bool) {
		n := 0
		for _, l := range lists {
			n += len(l)
		}
		if n >= len(best) {
			return
		}
		if len(lists) == 1 && sorted {
			best = lists[0]
			return
		}
		merged := make([]*record, 0, n)
		for _, l := range lists {
			merged = append(merged, l...)
		}
		slices.SortFunc(merged, func(a, b *record) int { return cmp.Compare(a.ev.Position, b.ev.Position) })
		best = slices.CompactFunc(merged, func(a, b *record) bool { return a == b })
	}
	byKey := func(keys map[string]bool, index map[string][]*record) {
		if keys == nil {
			return
		}
		var lists [][]*record
		for k := range keys {
			if l := index[k]; len(l) > 0 {
				lists = append(lists, l)
			}
		}
		consider(lists, true)
	}
	byKey(c.Schemas(), s.mu.schema)
	byKey(c.Producers(), s.mu.producer)
	if lo, hi := s.timeRangeLocked(c); hi-lo < len(s.mu.byTime) {
		consider([][]*record{s.mu.byTime[lo:hi]}, false)
	}
	for _, cr := range c.LinkCriteria() {
		if cr.TargetEvent != nil && cr.TargetEvent.ID != "" {
			consider([][]*record{s.mu.target[cr.TargetEvent.ID]}, false)
		}
	}
	return best
}
