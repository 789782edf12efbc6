package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"

	"github.com/trovedb/trove"
)

// Name is the name the engine registers under.
const Name = "storage-log"

func init() {
	trove.Register(Name, func(raw json.RawMessage) (trove.Plugin, error) {
		dir, opts, err := parsePluginOptions(raw)
		if err != nil {
			return nil, err
		}
		return NewPlugin(dir, opts), nil
	})
}

// Plugin is the storage-log plugin: a Store opened by Initialize and
// closed by Shutdown. It serves events, files and links, and offers
// transactions, batches, subscriptions, replay and the schema store.
type Plugin struct {
	dir  string
	opts Options
	mu   sync.RWMutex
	st   *Store // nil before Initialize and after Shutdown
	done bool
}

var (
	_ trove.Plugin        = (*Plugin)(nil)
	_ trove.EventStorage  = (*Plugin)(nil)
	_ trove.FileStorage   = (*Plugin)(nil)
	_ trove.LinkStorage   = (*Plugin)(nil)
	_ trove.Transactional = (*Plugin)(nil)
	_ trove.BatchSaver    = (*Plugin)(nil)
	_ trove.Subscriber    = (*Plugin)(nil)
	_ trove.Replayer      = (*Plugin)(nil)
	_ trove.SchemaStore   = (*Plugin)(nil)
)

// NewPlugin returns the plugin for a store in dir; Initialize opens it.
func NewPlugin(dir string, opts Options) *Plugin { return &Plugin{dir: dir, opts: opts} }

// Name returns "storage-log".
func (p *Plugin) Name() string { return Name }

// Capabilities lists events, files and links.
func (p *Plugin) Capabilities() []trove.Capability {
	return []trove.Capability{trove.CapEvents, trove.CapFiles, trove.CapLinks}
}

// Initialize opens the store. The core's logger is used when the options
// name none.
func (p *Plugin) Initialize(ctx context.Context, core *trove.Core) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return closedErr("initialize")
	}
	if p.st != nil {
		return nil
	}
	opts := p.opts
	if opts.Logger == nil && core != nil {
		opts.Logger = core.Logger()
	}
	st, err := OpenContext(ctx, p.dir, opts)
	if err != nil {
		return err
	}
	p.st = st
	return nil
}

// Shutdown closes the store; later calls return ErrClosed.
func (p *Plugin) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done = true
	if p.st == nil {
		return nil
	}
	err := p.st.Close()
	p.st = nil
	return err
}

// Store returns the open store, or an error wrapping ErrClosed.
func (p *Plugin) Store() (*Store, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.st == nil {
		return nil, fmt.Errorf("engine: plugin not initialized or shut down: %w", trove.ErrClosed)
	}
	return p.st, nil
}

func (p *Plugin) SaveEvent(ctx context.Context, e trove.Event) (trove.Event, error) {
	s, err := p.Store()
	if err != nil {
		return e, err
	}
	return s.SaveEvent(ctx, e)
}

func (p *Plugin) GetEvent(ctx context.Context, id trove.EventID) (trove.Event, error) {
	s, err := p.Store()
	if err != nil {
		return trove.Event{}, err
	}
	return s.GetEvent(ctx, id)
}

func (p *Plugin) QueryEvents(ctx context.Context, q trove.EventQuery) ([]trove.Event, error) {
	s, err := p.Store()
	if err != nil {
		return nil, err
	}
	return s.QueryEvents(ctx, q)
}

func (p *Plugin) SaveEvents(ctx context.Context, events []trove.Event) ([]trove.Event, error) {
	s, err := p.Store()
	if err != nil {
		return nil, err
	}
	return s.SaveEvents(ctx, events)
}

func (p *Plugin) Begin(ctx context.Context) (trove.Tx, error) {
	s, err := p.Store()
	if err != nil {
		return nil, err
	}
	return s.Begin(ctx)
}

func (p *Plugin) Subscribe(ctx context.Context, from uint64, fn func(trove.Event) error) error {
	s, err := p.Store()
	if err != nil {
		return err
	}
	return s.Subscribe(ctx, from, fn)
}

func (p *Plugin) Replay(ctx context.Context, from uint64, fn func(trove.Event) error) error {
	s, err := p.Store()
	if err != nil {
		return err
	}
	return s.Replay(ctx, from, fn)
}

func (p *Plugin) SaveSchema(ctx context.Context, rs trove.RegisteredSchema) error {
	s, err := p.Store()
	if err != nil {
		return err
	}
	return s.SaveSchema(ctx, rs)
}

func (p *Plugin) ListSchemas(ctx context.Context) ([]trove.RegisteredSchema, error) {
	s, err := p.Store()
	if err != nil {
		return nil, err
	}
	return s.ListSchemas(ctx)
}

func (p *Plugin) SaveLink(ctx context.Context, source trove.EventID, l trove.EventLink) error {
	s, err := p.Store()
	if err != nil {
		return err
	}
	return s.SaveLink(ctx, source, l)
}

func (p *Plugin) GetLinks(ctx context.Context, id trove.EventID, opts trove.LinkOptions) ([]trove.EventLink, error) {
	s, err := p.Store()
	if err != nil {
		return nil, err
	}
	return s.GetLinks(ctx, id, opts)
}

func (p *Plugin) GetLinkedEvents(ctx context.Context, id trove.EventID, opts trove.LinkOptions) ([]trove.Event, error) {
	s, err := p.Store()
	if err != nil {
		return nil, err
	}
	return s.GetLinkedEvents(ctx, id, opts)
}

func (p *Plugin) SaveFile(ctx context.Context, f trove.EventFile, data io.Reader) (trove.EventFile, error) {
	s, err := p.Store()
	if err != nil {
		return f, err
	}
	return s.SaveFile(ctx, f, data)
}

func (p *Plugin) GetFile(ctx context.Context, id string) (trove.EventFile, error) {
	s, err := p.Store()
	if err != nil {
		return trove.EventFile{}, err
	}
	return s.GetFile(ctx, id)
}

func (p *Plugin) GetFileData(ctx context.Context, id string) (io.ReadCloser, error) {
	s, err := p.Store()
	if err != nil {
		return nil, err
	}
	return s.GetFileData(ctx, id)
}

// Stats returns the store's figures (see Store.Stats); nil before
// Initialize and after Shutdown.
func (p *Plugin) Stats() map[string]float64 {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.st == nil {
		return nil
	}
	return p.st.Stats()
}
