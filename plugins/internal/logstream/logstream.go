package logstream

import (
	"context"
	"time"

	"github.com/trovedb/trove"
)

// Pager reads up to a page of committed events after position from, in
// position order, and at most up to position end when end > 0. changed is
// closed when the log grows past what was read, or the store closes;
// Subscribe waits on it, Replay ignores it (it may be nil there).
type Pager func(ctx context.Context, from, end uint64) (page []trove.Event, changed <-chan struct{}, err error)

// Subscribe calls fn with every event after from, then with each event as
// it commits, until ctx is done, fn fails or next fails. poll > 0 also
// reads again after that long idle, for commits no signal announces; 0
// waits for changed alone.
func Subscribe(ctx context.Context, from uint64, poll time.Duration, next Pager, fn func(trove.Event) error) error {
	for {
		batch, changed, err := next(ctx, from, 0)
		if err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return ctxErr
			}
			return err
		}
		if len(batch) > 0 {
			if from, _, err = deliver(ctx, batch, 0, fn); err != nil {
				return err
			}
			continue
		}
		if err := wait(ctx, changed, poll); err != nil {
			return err
		}
	}
}

// Replay calls fn with every event after from up to position end, then
// returns.
func Replay(ctx context.Context, from, end uint64, next Pager, fn func(trove.Event) error) error {
	for from < end {
		batch, _, err := next(ctx, from, end)
		if err != nil || len(batch) == 0 {
			return err
		}
		var done bool
		if from, done, err = deliver(ctx, batch, end, fn); err != nil || done {
			return err
		}
	}
	return nil
}

// deliver calls fn with the events of batch up to position end (0: all)
// and returns the last position delivered, and done when an event past end
// was met.
func deliver(ctx context.Context, batch []trove.Event, end uint64, fn func(trove.Event) error) (last uint64, done bool, err error) {
	for _, e := range batch {
		if end > 0 && e.Position > end {
			return last, true, nil
		}
		if err := ctx.Err(); err != nil {
			return last, false, err
		}
		if err := fn(e); err != nil {
			return last, false, err
		}
		last = e.Position
	}
	return last, false, nil
}

// wait returns when changed is closed, poll has passed (poll > 0), or ctx
// is done (then with ctx's error).
func wait(ctx context.Context, changed <-chan struct{}, poll time.Duration) error {
	var tick <-chan time.Time
	if poll > 0 {
		t := time.NewTimer(poll)
		defer t.Stop()
		tick = t.C
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-changed:
	case <-tick:
	}
	return nil
}
