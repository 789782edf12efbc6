package s3

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/blob"
	blobs3 "github.com/trovedb/trove/blob/s3"
	"github.com/trovedb/trove/plugins/internal/blobplugin"
	"github.com/trovedb/trove/plugins/internal/pluginopts"
)

// Name is the plugin's registered name.
const Name = "storage-s3"

func init() {
	trove.Register(Name, func(options json.RawMessage) (trove.Plugin, error) {
		var o Options
		if err := pluginopts.Decode("s3", options, &o, pluginopts.Strict); err != nil {
			return nil, err
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
	opts  Options
	files *blobplugin.Files // life cycle and the files role
}

var (
	_ trove.Plugin      = (*Plugin)(nil)
	_ trove.FileStorage = (*Plugin)(nil)
	_ trove.FileDeleter = (*Plugin)(nil)
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
	p := &Plugin{opts: opts}
	p.files = blobplugin.New("s3", func(ctx context.Context) (blob.Store, error) {
		o := p.opts
		return blobs3.Connect(ctx, blobs3.Config{
			Region: o.Region, Bucket: o.Bucket, AccessKeyID: o.AccessKeyID, SecretAccessKey: o.SecretAccessKey,
			SessionToken: o.SessionToken, Endpoint: o.Endpoint, ForcePathStyle: o.ForcePathStyle, Prefix: o.Prefix,
			PartSize: o.PartSize, Concurrency: o.Concurrency,
		})
	})
	return p, nil
}

// Name implements trove.Plugin.
func (p *Plugin) Name() string { return Name }

// Capabilities implements trove.Plugin: files only.
func (p *Plugin) Capabilities() []trove.Capability { return []trove.Capability{trove.CapFiles} }

// Initialize implements trove.Plugin: it builds the client and checks that
// the bucket exists and the credentials may use it.
func (p *Plugin) Initialize(ctx context.Context, _ *trove.Core) error {
	return p.files.Initialize(ctx)
}

// Shutdown implements trove.Plugin. Every save has been stored since it
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

// GetFileData implements trove.FileStorage. The reader implements io.Seeker.
func (p *Plugin) GetFileData(ctx context.Context, id string) (io.ReadCloser, error) {
	return p.files.GetFileData(ctx, id)
}

// DeleteFile implements trove.FileDeleter: the core takes back the files
// of a refused event with it.
func (p *Plugin) DeleteFile(ctx context.Context, id string) error {
	return p.files.DeleteFile(ctx, id)
}
