package storagetest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/plugins/memory"
	"github.com/trovedb/trove/storagetest"
)

// The kit checks itself on two wrappers of the memory backend: one that
// survives a reopen (so the persistence tests run) and one that offers
// nothing but events (so the not-applicable paths run).

func TestKitOnPersistentMemory(t *testing.T) {
	var mu sync.Mutex
	stores := map[string]*memory.Store{} // by directory: what a reopen finds
	storagetest.Run(t, storagetest.Backend{
		Persistent: true,
		Open: func(_ testing.TB, dir string) trove.Plugin {
			mu.Lock()
			defer mu.Unlock()
			s, ok := stores[dir]
			if !ok {
				s = memory.New(memory.Options{TempDir: dir})
				stores[dir] = s
			}
			return &durable{s: s, stop: make(chan struct{})}
		},
	})
}

func TestKitOnEventsOnly(t *testing.T) {
	storagetest.Run(t, storagetest.Backend{Open: func(_ testing.TB, dir string) trove.Plugin {
		return eventsOnly{memory.New(memory.Options{TempDir: dir})}
	}})
}

// eventsOnly hides everything of a memory store but its event storage.
type eventsOnly struct{ s *memory.Store }

func (e eventsOnly) Name() string                     { return "events-only" }
func (e eventsOnly) Capabilities() []trove.Capability { return []trove.Capability{trove.CapEvents} }
func (e eventsOnly) Initialize(ctx context.Context, c *trove.Core) error {
	return e.s.Initialize(ctx, c)
}
func (e eventsOnly) Shutdown(ctx context.Context) error { return e.s.Shutdown(ctx) }
func (e eventsOnly) SaveEvent(ctx context.Context, ev trove.Event) (trove.Event, error) {
	return e.s.SaveEvent(ctx, ev)
}
func (e eventsOnly) GetEvent(ctx context.Context, id trove.EventID) (trove.Event, error) {
	return e.s.GetEvent(ctx, id)
}
func (e eventsOnly) QueryEvents(ctx context.Context, q trove.EventQuery) ([]trove.Event, error) {
	return e.s.QueryEvents(ctx, q)
}

// durable is a handle on a memory store that outlives the handle: Shutdown
// closes the handle, not the store, and the next Open of the same
// directory gets the same store.
type durable struct {
	s      *memory.Store
	closed atomic.Bool
	once   sync.Once
	stop   chan struct{} // closed by Shutdown: ends live subscriptions
}

var errClosed = fmt.Errorf("durable: %w", trove.ErrClosed)

func (d *durable) Name() string                     { return "durable-memory" }
func (d *durable) Capabilities() []trove.Capability { return d.s.Capabilities() }
func (d *durable) Initialize(ctx context.Context, c *trove.Core) error {
	return d.s.Initialize(ctx, c)
}
func (d *durable) Shutdown(context.Context) error {
	d.once.Do(func() { d.closed.Store(true); close(d.stop) })
	return nil
}

func (d *durable) SaveEvent(ctx context.Context, e trove.Event) (trove.Event, error) {
	if d.closed.Load() {
		return e, errClosed
	}
	return d.s.SaveEvent(ctx, e)
}
func (d *durable) GetEvent(ctx context.Context, id trove.EventID) (trove.Event, error) {
	if d.closed.Load() {
		return trove.Event{}, errClosed
	}
	return d.s.GetEvent(ctx, id)
}
func (d *durable) QueryEvents(ctx context.Context, q trove.EventQuery) ([]trove.Event, error) {
	if d.closed.Load() {
		return nil, errClosed
	}
	return d.s.QueryEvents(ctx, q)
}
func (d *durable) SaveFile(ctx context.Context, f trove.EventFile, r io.Reader) (trove.EventFile, error) {
	if d.closed.Load() {
		return f, errClosed
	}
	return d.s.SaveFile(ctx, f, r)
}
func (d *durable) GetFile(ctx context.Context, id string) (trove.EventFile, error) {
	if d.closed.Load() {
		return trove.EventFile{}, errClosed
	}
	return d.s.GetFile(ctx, id)
}
func (d *durable) GetFileData(ctx context.Context, id string) (io.ReadCloser, error) {
	if d.closed.Load() {
		return nil, errClosed
	}
	return d.s.GetFileData(ctx, id)
}
func (d *durable) SaveLink(ctx context.Context, src trove.EventID, l trove.EventLink) error {
	if d.closed.Load() {
		return errClosed
	}
	return d.s.SaveLink(ctx, src, l)
}
func (d *durable) GetLinks(ctx context.Context, id trove.EventID, o trove.LinkOptions) ([]trove.EventLink, error) {
	if d.closed.Load() {
		return nil, errClosed
	}
	return d.s.GetLinks(ctx, id, o)
}
func (d *durable) GetLinkedEvents(ctx context.Context, id trove.EventID, o trove.LinkOptions) ([]trove.Event, error) {
	if d.closed.Load() {
		return nil, errClosed
	}
	return d.s.GetLinkedEvents(ctx, id, o)
}
func (d *durable) SaveEvents(ctx context.Context, es []trove.Event) ([]trove.Event, error) {
	if d.closed.Load() {
		return nil, errClosed
	}
	return d.s.SaveEvents(ctx, es)
}
func (d *durable) Replay(ctx context.Context, from uint64, fn func(trove.Event) error) error {
	if d.closed.Load() {
		return errClosed
	}
	return d.s.Replay(ctx, from, fn)
}
func (d *durable) SaveSchema(ctx context.Context, s trove.RegisteredSchema) error {
	if d.closed.Load() {
		return errClosed
	}
	return d.s.SaveSchema(ctx, s)
}
func (d *durable) ListSchemas(ctx context.Context) ([]trove.RegisteredSchema, error) {
	if d.closed.Load() {
		return nil, errClosed
	}
	return d.s.ListSchemas(ctx)
}

func (d *durable) Subscribe(ctx context.Context, from uint64, fn func(trove.Event) error) error {
	if d.closed.Load() {
		return errClosed
	}
	inner, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-d.stop:
			cancel()
		case <-inner.Done():
		}
	}()
	err := d.s.Subscribe(inner, from, fn)
	if errors.Is(err, context.Canceled) && ctx.Err() == nil {
		return errClosed
	}
	return err
}

func (d *durable) Begin(ctx context.Context) (trove.Tx, error) {
	if d.closed.Load() {
		return nil, errClosed
	}
	tx, err := d.s.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return &durableTx{Tx: tx, d: d}, nil
}

type durableTx struct {
	trove.Tx
	d *durable
}

func (t *durableTx) Commit(ctx context.Context) ([]trove.Event, error) {
	if t.d.closed.Load() {
		_ = t.Tx.Rollback(ctx)
		return nil, errClosed
	}
	return t.Tx.Commit(ctx)
}
