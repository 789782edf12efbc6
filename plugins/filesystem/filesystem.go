package filesystem

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/blob"
	"github.com/trovedb/trove/blob/local"
	"github.com/trovedb/trove/plugins/internal/blobplugin"
	"github.com/trovedb/trove/plugins/internal/pluginopts"
)

// Name is the plugin's registered name.
const Name = "storage-file-system"

func init() {
	trove.Register(Name, func(options json.RawMessage) (trove.Plugin, error) {
		var o Options
		if err := pluginopts.Decode("filesystem", options, &o, pluginopts.Strict); err != nil {
			return nil, err
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
	opts  Options
	files *blobplugin.Files // life cycle and the files role
}

var (
	_ trove.Plugin      = (*Plugin)(nil)
	_ trove.FileStorage = (*Plugin)(nil)
	_ trove.FileDeleter = (*Plugin)(nil)
)

// New makes the plugin; Initialize opens its directory.
func New(opts Options) (*Plugin, error) {
	if opts.Directory == "" {
		return nil, fmt.Errorf("filesystem: %w: options: directory is required", trove.ErrInvalid)
	}
	p := &Plugin{opts: opts}
	p.files = blobplugin.New("filesystem", func(ctx context.Context) (blob.Store, error) {
		s, err := local.OpenContext(ctx, p.opts.Directory)
		if err != nil {
			return nil, fmt.Errorf("filesystem: %w", err)
		}
		return s, nil
	})
	return p, nil
}

// Name implements trove.Plugin.
func (p *Plugin) Name() string { return Name }

// Capabilities implements trove.Plugin: files only.
func (p *Plugin) Capabilities() []trove.Capability { return []trove.Capability{trove.CapFiles} }

// Initialize implements trove.Plugin: it opens (creating) the directory and
// removes what a crash may have left half-written.
func (p *Plugin) Initialize(ctx context.Context, _ *trove.Core) error {
	return p.files.Initialize(ctx)
}

// Shutdown implements trove.Plugin. Every save has been durable since it
// returned, so there is nothing to flush.
func (p *Plugin) Shutdown(ctx context.Context) error { return p.files.Shutdown(ctx) }

// SaveFile implements trove.FileStorage.
func (p *Plugin) SaveFile(ctx context.Context, f trove.EventFile, data io.Reader) (trove.EventFile, error) {
	return p.files.SaveFile(ctx, f, data)
}

// GetFile implements trove.FileStorage.
func (p *Plugin) GetFile(ctx context.Context, id string) (trove.EventFile, error) {
	return p.files.GetFile(ctx, id)
}

// GetFileData implements trove.FileStorage. The reader is an *os.File.
func (p *Plugin) GetFileData(ctx context.Context, id string) (io.ReadCloser, error) {
	return p.files.GetFileData(ctx, id)
}

// DeleteFile implements trove.FileDeleter: the core takes back the files
// of a refused event with it.
func (p *Plugin) DeleteFile(ctx context.Context, id string) error {
	return p.files.DeleteFile(ctx, id)
}
