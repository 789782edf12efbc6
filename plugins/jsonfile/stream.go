package jsonfile

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/internal/fsutil"
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
	if err := s.checkLocked("replay"); err != nil {
		s.mu.RUnlock()
		return err
	}
	end := s.mu.lastPos
	s.mu.RUnlock()
	return logstream.Replay(ctx, from, end, s.after, fn)
}

// after returns up to 256 events after position from, and a channel closed
// when more arrive (a logstream.Pager; Replay stops at its end itself).
func (s *Store) after(_ context.Context, from, _ uint64) ([]trove.Event, <-chan struct{}, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.checkLocked("subscribe"); err != nil {
		return nil, nil, err
	}
	log := s.mu.log
	i := sort.Search(len(log), func(i int) bool { return log[i].ev.Position > from })
	log = log[i:]
	if len(log) > 256 {
		log = log[:256]
	}
	out := make([]trove.Event, len(log))
	for i, r := range log {
		out[i] = r.ev.Clone()
	}
	return out, s.mu.state.Changed(), nil
}

// SaveSchema keeps a registered schema in schemas.json: the same (id,
// version) with the same document is a no-op, with another ErrConflict.
func (s *Store) SaveSchema(ctx context.Context, rs trove.RegisteredSchema) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.mu.RLock()
	err := s.checkWriteLocked("save schema")
	regs := s.mu.regs
	s.mu.RUnlock()
	if err != nil {
		return err
	}
	next, added, err := schemareg.Add("jsonfile", regs, rs)
	if err != nil || !added {
		return err
	}
	raw, err := json.MarshalIndent(next, "", "  ")
	if err != nil {
		return fmt.Errorf("jsonfile: save schema: %w", err)
	}
	if err := fsutil.WriteFileBytes(filepath.Join(s.opts.Directory, schemasFile), append(raw, '\n'), 0o644); err != nil {
		return fmt.Errorf("jsonfile: save schema: %w", err)
	}
	s.mu.Lock()
	s.mu.regs = next
	s.mu.Unlock()
	return nil
}

// ListSchemas returns the stored schemas in registration order.
func (s *Store) ListSchemas(ctx context.Context) ([]trove.RegisteredSchema, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.checkLocked("list schemas"); err != nil {
		return nil, err
	}
	return schemareg.Copy(s.mu.regs), nil
}
