package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/segment"
)

// Sync modes (Options.SyncMode).
const (
	// SyncAlways fsyncs every group commit before acknowledging it: an
	// acknowledged save survives a crash or power loss.
	SyncAlways = "always"
	// SyncNone never fsyncs: acknowledged saves survive a process crash
	// (the bytes are in the OS) but not a power loss.
	SyncNone = "none"
)

// Options configure a Store. Zero values mean the default.
type Options struct {
	// SegmentSize is how many bytes of records the active (unsealed) part of
	// the log may hold before it is sealed into a compressed segment file.
	// Unit: bytes. Default 32 MiB; zero means the default. The unsealed
	// records are held in memory (with those of a seal under way, up to
	// about three times this): it bounds most of the store's heap.
	SegmentSize int64 `json:"segmentSize"`
	// SyncMode is SyncAlways (default; "" means it) or SyncNone.
	SyncMode string `json:"syncMode"`
	// BlockSize is the uncompressed size a sealed block aims for. Unit:
	// bytes. Default 1 KiB: a point read of a sealed event decompresses one
	// block (measured on 1M events of ~300 bytes: get-by-id p50 ~7-8 µs at
	// 1 KiB, ~10 µs at 2 KiB, ~10-11 µs at 4 KiB, ~20 µs at 16 KiB; sealed
	// size 17% of the JSON at 1 KiB, 10% at 2 KiB, 7% at 4 KiB, 4% at 16 KiB).
	// Zero means the default.
	BlockSize int `json:"blockSize"`
	// Compression is the codec of sealed blocks: "s2dict" (default; ""
	// means it), "s2" or "zstd". "s2dict" is S2 against a dictionary of
	// 16 KiB of the segment's records stored in the segment: on 1 KiB
	// blocks of event records it takes about 0.6× the bytes of plain S2
	// and decompresses as fast, where zstd's fastest level compresses
	// about 7× and decompresses about 6× slower than S2 (a sealed block is
	// decompressed on every cache miss of a read). Segments of every codec
	// are read whatever the option says.
	Compression string `json:"compression"`
	// CompressionLevel is the zstd level of sealed blocks when Compression
	// is "zstd": 1 fastest … 4 best. Default 1; zero means the default.
	CompressionLevel int `json:"compressionLevel"`
	// CacheSize bounds the decoded sealed blocks kept for reads. Unit:
	// bytes. Default 128 MiB; zero means the default; negative disables the
	// cache. The sealed segments' block tables, read from their footers,
	// are cached beside it in a quarter of CacheSize more (at least 1 MiB).
	CacheSize int64 `json:"cacheSize"`
	// MaxPathValues is how many distinct values a payload path may take
	// before the payload index stops indexing it (queries on it then scan).
	// Default 4096; zero means the default; negative turns the payload
	// index off.
	MaxPathValues int `json:"maxPathValues"`
	// MaxGroup caps how many concurrent requests one group commit takes.
	// Default 4096; zero means the default.
	MaxGroup int `json:"maxGroup"`
	// SearchIndex turns on the background bleve index used by search
	// queries over sealed segments: "on" (default) or "off".
	SearchIndex string `json:"searchIndex"`
	// NoMmap reads segment index files (segments/*.idx) into memory
	// instead of mapping them, for filesystems where a memory map is
	// unsafe or unsupported: a FUSE filesystem served by the same process
	// (a page fault on it can stop the Go runtime that must answer it),
	// some network filesystems. Default false: mapped.
	NoMmap bool `json:"noMmap"`
	// Logger receives the store's logs. Default slog.Default().
	Logger *slog.Logger `json:"-"`
	// walFileSize is the size of the WAL's files (tests; 0: the default,
	// segment.DefaultWALSegmentSize).
	walFileSize int
}

// DefaultOptions returns the defaults.
func DefaultOptions() Options {
	return Options{
		SegmentSize:      32 << 20,
		SyncMode:         SyncAlways,
		BlockSize:        1 << 10,
		Compression:      segment.CodecS2Dict,
		CompressionLevel: 1,
		CacheSize:        128 << 20,
		MaxPathValues:    4096,
		MaxGroup:         4096,
		SearchIndex:      "on",
	}
}

// withDefaults fills a copy of o and validates it. Errors wrap
// trove.ErrInvalid.
func (o Options) withDefaults() (Options, error) {
	d := DefaultOptions()
	if o.SegmentSize == 0 {
		o.SegmentSize = d.SegmentSize
	}
	if o.SyncMode == "" {
		o.SyncMode = d.SyncMode
	}
	if o.BlockSize == 0 {
		o.BlockSize = d.BlockSize
	}
	if o.Compression == "" {
		o.Compression = d.Compression
	}
	if o.CompressionLevel == 0 {
		o.CompressionLevel = d.CompressionLevel
	}
	if o.CacheSize == 0 {
		o.CacheSize = d.CacheSize
	}
	if o.MaxPathValues == 0 {
		o.MaxPathValues = d.MaxPathValues
	}
	if o.MaxGroup == 0 {
		o.MaxGroup = d.MaxGroup
	}
	if o.SearchIndex == "" {
		o.SearchIndex = d.SearchIndex
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	switch {
	case o.SegmentSize < 0:
		return o, fmt.Errorf("%w: engine: segmentSize %d is negative", trove.ErrInvalid, o.SegmentSize)
	case o.SyncMode != SyncAlways && o.SyncMode != SyncNone:
		return o, fmt.Errorf("%w: engine: syncMode %q (want %q or %q)", trove.ErrInvalid, o.SyncMode, SyncAlways, SyncNone)
	case o.BlockSize < 0:
		return o, fmt.Errorf("%w: engine: blockSize %d is negative", trove.ErrInvalid, o.BlockSize)
	case o.Compression != segment.CodecS2 && o.Compression != segment.CodecS2Dict && o.Compression != segment.CodecZstd:
		return o, fmt.Errorf("%w: engine: compression %q (want %q, %q or %q)", trove.ErrInvalid, o.Compression, segment.CodecS2Dict, segment.CodecS2, segment.CodecZstd)
	case o.CompressionLevel < 1 || o.CompressionLevel > 4:
		return o, fmt.Errorf("%w: engine: compressionLevel %d (want 1-4)", trove.ErrInvalid, o.CompressionLevel)
	case o.MaxGroup < 0:
		return o, fmt.Errorf("%w: engine: maxGroup %d is negative", trove.ErrInvalid, o.MaxGroup)
	case o.SearchIndex != "on" && o.SearchIndex != "off":
		return o, fmt.Errorf("%w: engine: searchIndex %q (want on or off)", trove.ErrInvalid, o.SearchIndex)
	}
	return o, nil
}

// pluginOptions is the options object of the storage-log plugin: Options
// plus the directory.
type pluginOptions struct {
	// Directory holds the store (created when missing). Required.
	Directory string `json:"directory"`
	Options
}

func parsePluginOptions(raw json.RawMessage) (string, Options, error) {
	var po pluginOptions
	if len(bytes.TrimSpace(raw)) > 0 {
		d := json.NewDecoder(bytes.NewReader(raw))
		d.DisallowUnknownFields()
		if err := d.Decode(&po); err != nil {
			return "", Options{}, fmt.Errorf("%w: engine: options: %v", trove.ErrInvalid, err)
		}
	}
	if po.Directory == "" {
		return "", Options{}, fmt.Errorf("%w: engine: options: directory is required", trove.ErrInvalid)
	}
	o, err := po.Options.withDefaults()
	return po.Directory, o, err
}
