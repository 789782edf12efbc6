package s3

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/blob"
	blobs3 "github.com/trovedb/trove/blob/s3"
)

// Name is the plugin's registered name.
const Name = "storage-s3"

func init() {
	trove.Register(Name, func(options json.RawMessage) (trove.Plugin, error) {
		var o Options
		if len(bytes.TrimSpace(options)) > 0 && string(bytes.TrimSpace(options)) != "null" {
			dec := json.NewDecoder(bytes.NewReader(options))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&o); err != nil {
				return nil, fmt.Errorf("s3: %w: options: %v", trove.ErrInvalid, err)
			}
		}
		return New(o)
	})
}

// Options configure the plugin. Empty fields take their defaults.
type Options struct {
	// Region of the bucket, e.g. "us-west-2". Default: AWS_REGION or the
	// profile's region; "us-east-1" with an endpoint and no region found.
	Region string `json:"region"`
	// Bucket holds the files. Required; it must exist.
	Bucket string `json:"bucket"`
	// AccessKeyID and SecretAccessKey are static credentials, both or
	// neither. Default: the standard AWS credential chain.
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
	// SessionToken goes with temporary static credentials. Default none.
	SessionToken string `json:"sessionToken"`
	// Endpoint is the URL of an S3-compatible server, e.g.
	// "http://127.0.0.1:7070". Default: AWS S3.
	Endpoint string `json:"endpoint"`
	// Prefix is put before every file id, e.g. "trove/files/". Default "".
	Prefix string `json:"prefix"`
	// ForcePathStyle addresses the bucket as endpoint/bucket; most
	// S3-compatible servers need it. Default false (virtual-hosted style).
	ForcePathStyle bool `json:"forcePathStyle"`
	// PartSize is the multipart part size in bytes, and the size of each
	// upload buffer. Default 5 MiB (0), S3's minimum; raise it (and
	// Concurrency) for more throughput to AWS at the cost of memory.
	PartSize int64 `json:"partSize"`
	// Concurrency is how many parts of one upload are sent at once; an
	// upload holds at most Concurrency+1 parts in memory (15 MiB with the
	// defaults). Default 2 (0).
	Concurrency int `json:"concurrency"`
}

// Plugin serves the files role from an S3 bucket. It is safe for
// concurrent use.
type Plugin struct {
	opts Options

	mu struct {
		sync.RWMutex
		store  *blobs3.Store     // nil before Initialize and after Shutdown
		files  trove.FileStorage // on store
		closed bool              // Shutdown was called
	}
}

var (
	_ trove.Plugin      = (*Plugin)(nil)
	_ trove.FileStorage = (*Plugin)(nil)
)

// New makes the plugin from its options; Initialize connects.
func New(opts Options) (*Plugin, error) {
	switch {
	case opts.Bucket == "":
		return nil, fmt.Errorf("s3: %w: options: bucket is required", trove.ErrInvalid)
	case (opts.AccessKeyID == "") != (opts.SecretAccessKey == ""):
		return nil, fmt.Errorf("s3: %w: options: accessKeyId and secretAccessKey go together", trove.ErrInvalid)
	case opts.PartSize != 0 && opts.PartSize < 5<<20:
		return nil, fmt.Errorf("s3: %w: options: partSize %d is below S3's minimum of 5 MiB (5242880)", trove.ErrInvalid, opts.PartSize)
	case opts.Concurrency < 0:
		return nil, fmt.Errorf("s3: %w: options: negative concurrency", trove.ErrInvalid)
	}
	return &Plugin{opts: opts}, nil
}

// Name implements trove.Plugin.
func (p *Plugin) Name() string { return Name }

// Capabilities implements trove.Plugin: files only.
func (p *Plugin) Capabilities() []trove.Capability { return []trove.Capability{trove.CapFiles} }

// Initialize implements trove.Plugin: it builds the client and checks that
// the bucket exists and the credentials may use it.
func (p *Plugin) Initialize(ctx context.Context, _ *trove.Core) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mu.closed {
		return fmt.Errorf("s3: initialize: %w", trove.ErrClosed)
	}
	if p.mu.store != nil {
		return nil
	}
	o := p.opts
	s, err := blobs3.Connect(ctx, blobs3.Config{
		Region: o.Region, Bucket: o.Bucket, AccessKeyID: o.AccessKeyID, SecretAccessKey: o.SecretAccessKey,
		SessionToken: o.SessionToken, Endpoint: o.Endpoint, ForcePathStyle: o.ForcePathStyle, Prefix: o.Prefix,
		PartSize: o.PartSize, Concurrency: o.Concurrency,
	})
	if err != nil {
		return err
	}
	p.mu.store, p.mu.files = s, blob.NewFileStorage(s)
	return nil
}

// Shutdown implements trove.Plugin. Every save has been stored since it
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
			return nil, fmt.Errorf("s3: %w", trove.ErrClosed)
		}
		return nil, fmt.Errorf("s3: %w: not initialized", trove.ErrClosed)
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

// GetFileData implements trove.FileStorage. The reader implements io.Seeker.
func (p *Plugin) GetFileData(ctx context.Context, id string) (io.ReadCloser, error) {
	fs, err := p.fileStorage()
	if err != nil {
		return nil, err
	}
	return fs.GetFileData(ctx, id)
}
