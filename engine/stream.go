package engine

import (
	"context"

	"github.com/trovedb/trove"
)

// Replay calls fn with every event after position from, in position order,
// up to the last event committed when Replay was called.
func (s *Store) Replay(ctx context.Context, from uint64, fn func(trove.Event) error) error {
	if err := s.enter("replay", false); err != nil {
		return err
	}
	defer s.leave(false)
	v := s.view.Load()
	return s.replayTo(ctx, v, from, v.last, fn)
}

func (s *Store) replayTo(ctx context.Context, v *view, from, to uint64, fn func(trove.Event) error) error {
	for p := from + 1; p <= to; p++ {
		if p&255 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		e, err := s.eventAt(v, p)
		if err != nil {
			return err
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

// Subscribe calls fn with every event after position from, then with each
// event as it commits, with no gap and no duplicate, until ctx is done
// (returning ctx.Err()), fn fails (returning its error) or the store closes
// (returning an error wrapping ErrClosed).
func (s *Store) Subscribe(ctx context.Context, from uint64, fn func(trove.Event) error) error {
	for {
		if err := s.enter("subscribe", false); err != nil {
			return err
		}
		v := s.view.Load()
		err := s.replayTo(ctx, v, from, v.last, fn)
		s.leave(false)
		if err != nil {
			return err
		}
		if v.last > from {
			from = v.last
		}
		select {
		case <-v.changed:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.closedCh:
			return closedErr("subscribe")
		}
	}
}
