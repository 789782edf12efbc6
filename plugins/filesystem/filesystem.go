package filesystem

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/blob"
	"github.com/trovedb/trove/blob/local"
)

// Name is the plugin's registered name.
const Name = "storage-file-system"

func init() {
	trove.Register(Name, func(options json.RawMessage) (trove.Plugin, error) {
		var o Options
		if len(bytes.TrimSpace(options)) > 0 && string(bytes.TrimSpace(options)) != "null" {
			dec := json.NewDecoder(bytes.NewReader(options))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&o); err != nil {
				return nil, fmt.Errorf("filesystem: %w: options: %v", trove.ErrInvalid, err)
			}
		}
		return New(o)
	})
}

// Options configure the plugin.
type Options struct {
	// Directory holds the files; it is created when missing. Required.
	Directory string `json:"directory"`
}

// Plugin serves the files role from a local directory. It is safe for
// concurrent use.
type Plugin struct {
	opts Options

	mu struct {
		sync.RWMutex
		store  *local.Store      // nil before Initialize and after Shutdown
		files  trove.FileStorage // on store
		closed bool              // Shutdown was called
	}
}

var (
	_ trove.Plugin      = (*Plugin)(nil)
	_ trove.FileStorage = (*Plugin)(nil)
)

// New makes the plugin; Initialize opens its directory.
func New(opts Options) (*Plugin, error) {
	if opts.Directory == "" {
		return nil, fmt.Errorf("filesystem: %w: options: directory is required", trove.ErrInvalid)
	}
	return &Plugin{opts: opts}, nil
}

// Name implements trove.Plugin.
func (p *Plugin) Name() string { return Name }

// Capabilities implements trove.Plugin: files only.
func (p *Plugin) Capabilities() []trove.Capability { return []trove.Capability{trove.CapFiles} }

// Initialize implements trove.Plugin: it opens (creating) the directory and
// removes what a crash may have left half-written.
func (p *Plugin) Initialize(ctx context.Context, _ *trove.Core) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mu.closed {
		return fmt.Errorf("filesystem: initialize: %w", trove.ErrClosed)
	}
	if p.mu.store != nil {
		return nil
	}
	s, err := local.Open(p.opts.Directory)
	if err != nil {
		return fmt.Errorf("filesystem: %w", err)
	}
	p.mu.store, p.mu.files = s, blob.NewFileStorage(s)
	return nil
}

// Shutdown implements trove.Plugin. Every save has been durable since it
// returned, so there is nothing to flush.
func (p *Plugin) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mu.closed = true
	if p.mu.store == nil {
		return nil
	}
	err := p.mu.store.Close()
	p.mu.store, p.mu.files = nil, nil
	return err
}

func (p *Plugin) fileStorage() (trove.FileStorage, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.mu.files == nil {
		if p.mu.closed {
			return nil, fmt.Errorf("filesystem: %w", trove.ErrClosed)
		}
		return nil, fmt.Errorf("filesystem: %w: not initialized", trove.ErrClosed)
	}
	return p.mu.files, nil
}

// SaveFile implements trove.FileStorage.
func (p *Plugin) SaveFile(ctx context.Context, f trove.EventFile, data io.Reader) (trove.EventFile, error) {
	fs, err := p.fileStorage()
	if err != nil {
		return trove.EventFile{}, err
	}
	return fs.SaveFile(ctx, f, data)
}

// GetFile implements trove.FileStorage.
func (p *Plugin) GetFile(ctx context.Context, id string) (trove.EventFile, error) {
	fs, err := p.fileStorage()
	if err != nil {
		return trove.EventFile{}, err
	}
	return fs.GetFile(ctx, id)
}

// GetFileData implements trove.FileStorage. The reader is an *os.File.
func (p *Plugin) GetFileData(ctx context.Context, id string) (io.ReadCloser, error) {
	fs, err := p.fileStorage()
	if err != nil {
		return nil, err
	}
	return fs.GetFileData(ctx, id)
}
