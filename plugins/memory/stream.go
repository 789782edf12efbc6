package memory

import (
	"context"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/plugins/internal/logstream"
	"github.com/trovedb/trove/plugins/internal/schemareg"
)

// Subscribe calls fn with every event after position from, then with each
// event as it commits, until ctx is done or fn fails (see logstream). fn
// runs without the store's lock held, so it may call the store.
func (s *Store) Subscribe(ctx context.Context, from uint64, fn func(trove.Event) error) error {
	return logstream.Subscribe(ctx, from, 0, s.after, fn)
}

// Replay calls fn with every event after position from, up to the last one
// committed when Replay was called.
func (s *Store) Replay(ctx context.Context, from uint64, fn func(trove.Event) error) error {
	s.mu.RLock()
	if err := s.mu.state.Check("replay"); err != nil {
		s.mu.RUnlock()
		return err
	}
	end := uint64(len(s.mu.log))
	s.mu.RUnlock()
	return logstream.Replay(ctx, from, end, s.after, fn)
}

// after returns up to 256 events after position from, and a channel closed
// when more arrive (a logstream.Pager; Replay stops at its end itself).
func (s *Store) after(_ context.Context, from, _ uint64) ([]trove.Event, <-chan struct{}, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.mu.state.Check("subscribe"); err != nil {
		return nil, nil, err
	}
	log := s.mu.log
	if from > uint64(len(log)) {
		from = uint64(len(log))
	}
	log = log[from:]
	if len(log) > 256 {
		log = log[:256]
	}
	out := make([]trove.Event, len(log))
	for i, r := range log {
		out[i] = r.ev.Clone()
	}
	return out, s.mu.state.Changed(), nil
}

// SaveSchema keeps a registered schema: the same (id, version) with the same
// document is a no-op, with another ErrConflict.
func (s *Store) SaveSchema(ctx context.Context, rs trove.RegisteredSchema) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.mu.state.Check("save schema"); err != nil {
		return err
	}
	next, _, err := schemareg.Add("memory", s.mu.regs, rs)
	s.mu.regs = next
	return err
}

// ListSchemas returns the stored schemas in registration order.
func (s *Store) ListSchemas(ctx context.Context) ([]trove.RegisteredSchema, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.mu.state.Check("list schemas"); err != nil {
		return nil, err
	}
	return schemareg.Copy(s.mu.regs), nil
}
