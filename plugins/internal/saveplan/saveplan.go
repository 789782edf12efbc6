package saveplan

import (
	"context"
	"errors"
	"time"

	"github.com/trovedb/trove"
)

// Staged is a prepared event waiting to be committed.
type Staged struct {
	Event trove.Event // prepared by trove.Prepare: id, version, createdAt and producer set
	// HadTime is whether the caller set CreatedAt; only then does a retry
	// have to carry the same one.
	HadTime bool
}

// Stage prepares e at now.
func Stage(e trove.Event, now time.Time) (Staged, error) {
	p, err := trove.Prepare(e, now)
	if err != nil {
		return Staged{}, err
	}
	return Staged{Event: p, HadTime: !e.CreatedAt.IsZero()}, nil
}

// StageAll prepares events at now; an error is a *trove.BatchError naming
// the failing event.
func StageAll(events []trove.Event, now time.Time) ([]Staged, error) {
	out := make([]Staged, len(events))
	for i, e := range events {
		st, err := Stage(e, now)
		if err != nil {
			return nil, &trove.BatchError{Index: i, Err: err}
		}
		out[i] = st
	}
	return out, nil
}

// Log is the stored side of a plan.
type Log interface {
	// Latest returns the latest stored version of id, 0 when none.
	Latest(ctx context.Context, id string) (int, error)
	// Stored returns the stored version id (1 ≤ id.Version ≤ Latest).
	Stored(ctx context.Context, id trove.EventID) (trove.Event, error)
	// Append takes e, the next version of its id, and returns its
	// position (0 when the plan only checks).
	Append(ctx context.Context, e trove.Event) (uint64, error)
}

// Plan checks events in order against log and the events before them, and
// appends the new versions. out holds every event's result (retries as
// stored or as first in the batch, new ones with their position); fresh
// the indexes of the new ones, in order. pkg starts the error texts.
// Errors of Latest are returned as they are; any other error is a
// *trove.BatchError.
func Plan(ctx context.Context, pkg string, events []Staged, log Log) (out []trove.Event, fresh []int, err error) {
	out = make([]trove.Event, len(events))
	storedLatest := map[string]int{}
	pending := map[string][]int{} // indexes into out of new versions per id
	for i, st := range events {
		e := st.Event
		stored, ok := storedLatest[e.ID.ID]
		if !ok {
			if stored, err = log.Latest(ctx, e.ID.ID); err != nil {
				return nil, nil, err
			}
			storedLatest[e.ID.ID] = stored
		}
		batch := pending[e.ID.ID]
		latest := stored + len(batch)
		switch trove.ClassifyVersion(e.ID.Version, stored, latest) {
		case trove.VersionStored:
			prev, err := log.Stored(ctx, e.ID)
			if err != nil {
				return nil, nil, &trove.BatchError{Index: i, Err: err}
			}
			if !trove.SameEvent(prev, e, st.HadTime) {
				return nil, nil, &trove.BatchError{Index: i, Err: trove.ConflictOtherContent(pkg, e.ID, false)}
			}
			out[i] = prev
		case trove.VersionPending:
			prev := out[batch[e.ID.Version-stored-1]]
			if !trove.SameEvent(prev, e, st.HadTime) {
				return nil, nil, &trove.BatchError{Index: i, Err: trove.ConflictOtherContent(pkg, e.ID, true)}
			}
			out[i] = prev
		case trove.VersionNext:
			pos, err := log.Append(ctx, e)
			if err != nil {
				return nil, nil, &trove.BatchError{Index: i, Err: err}
			}
			e.Position = pos
			pending[e.ID.ID] = append(batch, i)
			out[i] = e
			fresh = append(fresh, i)
		default:
			return nil, nil, &trove.BatchError{Index: i, Err: trove.ConflictVersionGap(pkg, e.ID, latest)}
		}
	}
	return out, fresh, nil
}

// Unbatch returns the error of the failing event when err is a
// *trove.BatchError, else err: what a call saving one event returns.
func Unbatch(err error) error {
	var be *trove.BatchError
	if errors.As(err, &be) {
		return be.Err
	}
	return err
}

// SaveOne saves e through s's SaveEvents, returning e and the event's own
// error on failure: SaveEvent of a backend whose single saves are batches
// of one.
func SaveOne(ctx context.Context, s trove.BatchSaver, e trove.Event) (trove.Event, error) {
	out, err := s.SaveEvents(ctx, []trove.Event{e})
	if err != nil {
		return e, Unbatch(err)
	}
	return out[0], nil
}

// PickVersion returns the entry for id among one id's versions, where
// versions[v-1] is version v: the latest when id.Version is 0. ok is false
// when that version does not exist.
func PickVersion[T any](versions []T, id trove.EventID) (v T, ok bool) {
	switch {
	case len(versions) == 0 || id.Version < 0 || id.Version > len(versions):
		return v, false
	case id.Version == 0:
		return versions[len(versions)-1], true
	}
	return versions[id.Version-1], true
}

// SaveAll is SaveEvents of a backend whose batches commit staged events:
// events staged at now (a *trove.BatchError names a bad one), then
// committed by commit. A context already done saves nothing.
func SaveAll(ctx context.Context, events []trove.Event, now func() time.Time, commit func(context.Context, []Staged) ([]trove.Event, error)) ([]trove.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st, err := StageAll(events, now())
	if err != nil {
		return nil, err
	}
	return commit(ctx, st)
}
