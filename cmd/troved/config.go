package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/internal/httpapi"
)

// fileConfig is the --config file, YAML or JSON:
//
//	storage:                       # as in Trove; default: --storage under --data
//	  events: {plugin: storage-log, options: {directory: ./data}}
//	  files: useEventStorage
//	  links: useEventStorage
//	http:
//	  addr: 127.0.0.1:3000
//	auth:
//	  tokens: [a-token-of-16-bytes-or-more]  # a blank token is an error
//	  metrics: false               # true: /metrics needs a token too
//	limits:
//	  eventBodyBytes: 33554432     # JSON/NDJSON bodies and multipart text fields
//	  fileBodyBytes: 1073741824    # requests that carry file bytes
//	  queryBodyBytes: 1048576      # POST /api/events/query bodies
//	  defaultPageSize: 100
//	  maxPageSize: 10000
//	  maxBatchEvents: 100000       # events per batch, counted as the body streams
//	  maxSearchBytes: 16384        # bytes of a search string
//	  maxSearchClauses: 1024       # clauses of a search string
//	  maxIdentifierBytes: 256      # event id, producer, schema id, link type and target, registered schema id and version
//	  maxStreams: 256
//	  heartbeat: 15s
//	  readHeaderTimeout: 10s
//	  readTimeout: 5m
//	  uploadReadTimeout: 1h        # replaces readTimeout for requests that carry file bytes
//	  idleTimeout: 2m
//	  shutdownTimeout: 30s
//	  schemaCacheBytes: 67108864   # compiled JSON Schemas kept for reuse (-1: none)
//
// Flags override the file.
type fileConfig struct {
	Storage *trove.StorageConfig `json:"storage"`
	HTTP    struct {
		Addr string `json:"addr"`
	} `json:"http"`
	Auth struct {
		Tokens  []string `json:"tokens"`
		Metrics bool     `json:"metrics"`
	} `json:"auth"`
	Limits limits `json:"limits"`
}

// limits are the configurable limits; zero fields take the defaults
// (httpapi.Default* and the server timeouts below), negative ones are an
// error.
type limits struct {
	EventBodyBytes     int64    `json:"eventBodyBytes"`
	FileBodyBytes      int64    `json:"fileBodyBytes"`
	QueryBodyBytes     int64    `json:"queryBodyBytes"`
	DefaultPageSize    int      `json:"defaultPageSize"`
	MaxPageSize        int      `json:"maxPageSize"`
	MaxBatchEvents     int      `json:"maxBatchEvents"`
	InflightEventBytes int64    `json:"inflightEventBytes"`
	MaxSearchBytes     int      `json:"maxSearchBytes"`
	MaxSearchClauses   int      `json:"maxSearchClauses"`
	MaxIdentifierBytes int      `json:"maxIdentifierBytes"`
	MaxStreams         int      `json:"maxStreams"`
	Heartbeat          duration `json:"heartbeat"`
	ReadHeaderTimeout  duration `json:"readHeaderTimeout"`
	ReadTimeout        duration `json:"readTimeout"`
	UploadReadTimeout  duration `json:"uploadReadTimeout"`
	IdleTimeout        duration `json:"idleTimeout"`
	ShutdownTimeout    duration `json:"shutdownTimeout"`
	// SchemaCacheBytes is the core's compiled-schema cache
	// (trove.Config.SchemaCacheBytes); MaxIdentifierBytes above is also the
	// core's trove.Config.MaxIdentifierBytes.
	SchemaCacheBytes int64 `json:"schemaCacheBytes"`
}

// checkServe refuses, before the store opens, a config serve cannot use:
// negative limits, blank tokens, auth.metrics without tokens.
func (c fileConfig) checkServe() error {
	if err := c.Limits.validate(); err != nil {
		return err
	}
	if err := httpapi.CheckTokens(c.Auth.Tokens); err != nil {
		return fmt.Errorf("troved: config auth.tokens: %w", err)
	}
	if c.Auth.Metrics && len(c.Auth.Tokens) == 0 {
		return fmt.Errorf("troved: config auth.metrics: true needs auth.tokens")
	}
	return nil
}

// validate refuses negative limits, which would otherwise silently take
// the defaults.
func (l limits) validate() error {
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"eventBodyBytes", l.EventBodyBytes}, {"fileBodyBytes", l.FileBodyBytes}, {"queryBodyBytes", l.QueryBodyBytes},
		{"defaultPageSize", int64(l.DefaultPageSize)}, {"maxPageSize", int64(l.MaxPageSize)},
		{"maxBatchEvents", int64(l.MaxBatchEvents)}, {"inflightEventBytes", l.InflightEventBytes}, {"maxSearchBytes", int64(l.MaxSearchBytes)},
		{"maxSearchClauses", int64(l.MaxSearchClauses)}, {"maxIdentifierBytes", int64(l.MaxIdentifierBytes)},
		{"maxStreams", int64(l.MaxStreams)}, {"heartbeat", int64(l.Heartbeat)},
		{"readHeaderTimeout", int64(l.ReadHeaderTimeout)}, {"readTimeout", int64(l.ReadTimeout)},
		{"uploadReadTimeout", int64(l.UploadReadTimeout)}, {"idleTimeout", int64(l.IdleTimeout)},
		{"shutdownTimeout", int64(l.ShutdownTimeout)},
	} {
		if f.v < 0 {
			return fmt.Errorf("troved: limits.%s must not be negative (0 or absent: the default)", f.name)
		}
	}
	return nil
}

// Server timeouts when the config names none.
const (
	defaultReadHeaderTimeout = 10 * time.Second
	defaultReadTimeout       = 5 * time.Minute
	defaultIdleTimeout       = 2 * time.Minute
	defaultShutdownTimeout   = 30 * time.Second
	maxHeaderBytes           = 1 << 20
)

// duration reads "1m30s" or a number of seconds.
type duration time.Duration

func (d *duration) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("duration %q: %w", s, err)
		}
		*d = duration(v)
		return nil
	}
	f, err := strconv.ParseFloat(string(bytes.TrimSpace(b)), 64)
	if err != nil {
		return fmt.Errorf("duration %s: want \"10s\" or a number of seconds", b)
	}
	*d = duration(f * float64(time.Second))
	return nil
}

func orDefault(d duration, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return time.Duration(d)
}

func (l limits) apiOptions() httpapi.Options {
	return httpapi.Options{
		MaxEventBytes:   l.EventBodyBytes,
		MaxFileBytes:    l.FileBodyBytes,
		MaxQueryBytes:   l.QueryBodyBytes,
		DefaultPageSize: l.DefaultPageSize,
		MaxPageSize:     l.MaxPageSize,
		MaxBatchEvents:  l.MaxBatchEvents,
		MaxStreams:      l.MaxStreams,
		Heartbeat:       time.Duration(l.Heartbeat),

		MaxInflightEventBytes: l.InflightEventBytes,

		MaxSearchBytes:     l.MaxSearchBytes,
		MaxSearchClauses:   l.MaxSearchClauses,
		MaxIdentifierBytes: l.MaxIdentifierBytes,
		UploadReadTimeout:  time.Duration(l.UploadReadTimeout),
	}
}

// storeFlags are the flags of every subcommand that opens the store.
type storeFlags struct {
	data    string
	storage string
	config  string
}

func (sf *storeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&sf.data, "data", "./data", "data directory of the storage `DIR`")
	fs.StringVar(&sf.storage, "storage", defaultStorage, "storage plugin `NAME` for all three roles, with its default options under --data")
	fs.StringVar(&sf.config, "config", "", "config `FILE` (YAML or JSON)")
}

// settings is the outcome of flags and config file.
type settings struct {
	file    fileConfig
	storage trove.Config
	plugin  string // the event storage's plugin
	dataDir string
	kind    storageKind
	known   bool // kind is from the table
}

// resolve merges the config file and the flags: a flag set on the command
// line wins; --storage (explicit, or when the file names no storage) puts
// all three roles on one plugin with its default options under --data.
func (sf *storeFlags) resolve(fs *flag.FlagSet) (settings, error) {
	var st settings
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if sf.config != "" {
		raw, err := trove.ReadConfigFile(sf.config)
		if err != nil {
			return st, err
		}
		d := json.NewDecoder(bytes.NewReader(raw))
		d.DisallowUnknownFields() // a misspelled key must not silently take the default
		if err := d.Decode(&st.file); err != nil {
			return st, fmt.Errorf("config %s: %s", sf.config, trove.DescribeJSONError(err))
		}
	}
	abs, err := filepath.Abs(sf.data)
	if err != nil {
		return st, err
	}
	st.dataDir = abs
	if st.file.Storage != nil && st.file.Storage.Events.Plugin != "" && !set["storage"] {
		st.storage = trove.Config{Storage: *st.file.Storage}
		st.plugin = st.storage.Storage.Events.Plugin
	} else {
		kinds := storageKinds()
		k, ok := kinds[sf.storage]
		if !ok {
			return st, unknownStorage(sf.storage, kinds)
		}
		opts, _ := json.Marshal(k.options(abs))
		st.storage = trove.Config{Storage: trove.StorageConfig{
			Events: trove.PluginConfig{Plugin: sf.storage, Options: opts},
		}}
		st.plugin = sf.storage
	}
	st.storage.SchemaCacheBytes = st.file.Limits.SchemaCacheBytes
	st.storage.MaxIdentifierBytes = st.file.Limits.MaxIdentifierBytes
	st.kind, st.known = storageKinds()[st.plugin]
	return st, nil
}

// needsDataDir reports whether the data directory must exist before the
// store opens.
func (st settings) needsDataDir() bool { return !st.known || st.kind.persistent }

func (st settings) makeDataDir() error {
	if !st.needsDataDir() {
		return nil
	}
	if err := os.MkdirAll(st.dataDir, 0o755); err != nil {
		return fmt.Errorf("troved: data directory: %w", err)
	}
	return nil
}

// unknownStorage explains why --storage cannot name a plugin: a plugin that
// serves files only cannot hold events, and one that needs options (a
// bucket, a DSN) is configured with --config.
func unknownStorage(name string, kinds map[string]storageKind) error {
	usable := strings.Join(slices.Sorted(maps.Keys(kinds)), ", ")
	switch {
	case !slices.Contains(trove.Plugins(), name):
		return fmt.Errorf("%w: unknown storage %q for --storage (it takes one of %s)", errUsage, name, usable)
	case filesOnly[name]:
		return fmt.Errorf("%w: %s stores files only and cannot hold events: --storage takes one of %s; put %s under storage.files in a --config file",
			errUsage, name, usable, name)
	}
	return fmt.Errorf("%w: %s needs options of its own: configure it under storage.events in a --config file; --storage takes one of %s",
		errUsage, name, usable)
}

// filesOnly are the plugins troved carries that serve the files role only.
var filesOnly = map[string]bool{"storage-s3": true, "storage-file-system": true}
