package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/trovedb/trove"
	"github.com/trovedb/trove/plugins/internal/lifecycle"
	"github.com/trovedb/trove/plugins/internal/pluginopts"
	"github.com/trovedb/trove/plugins/internal/sqlevents"
)

// Name is the plugin's registered name.
const Name = "storage-postgres"

func init() { pluginopts.Register(Name, "postgres", pluginopts.Strict, New) }

// Options configure a Store.
type Options struct {
	// DSN is the connection string (a URL or key=value pairs, as libpq
	// takes). Empty: the standard PG* environment variables (PGHOST,
	// PGPORT, PGUSER, PGPASSWORD, PGDATABASE, PGSSLMODE, …) alone.
	DSN string `json:"dsn,omitempty"`
	// Schema is the SQL schema holding the store's tables, created when
	// missing. Empty means DefaultSchema. Several stores may share a
	// database under different schemas.
	Schema string `json:"schema,omitempty"`
	// MaxConns is the largest number of connections the pool opens (the
	// LISTEN connection is extra). 0 means DefaultMaxConns.
	MaxConns int `json:"maxConns,omitempty"`
	// Notify is "on" (default, "" too) or "off". On: each append sends a
	// NOTIFY carrying the new head position and a dedicated connection
	// LISTENs, so subscribers in other processes wake at once. Off: no
	// NOTIFY or LISTEN (for poolers in transaction mode and engines without
	// them); subscribers find other processes' appends by polling.
	Notify string `json:"notify,omitempty"`
	// PollMS is how often an idle subscription reads the log for appends no
	// notification announced, in milliseconds. 0 means 1000 with notify on
	// and 200 with notify off.
	PollMS int `json:"pollMs,omitempty"`
	// ReadDSN, when set, is a streaming replica of the same database: gets,
	// queries, replay and subscription catch-up read from it once it has
	// replayed every commit this Store acknowledged, or from the primary
	// after ReplicaWaitMS.
	ReadDSN string `json:"readDSN,omitempty"`
	// ReplicaWaitMS bounds the wait for the replica to catch up, in
	// milliseconds. 0 means 200.
	ReplicaWaitMS int `json:"replicaWaitMs,omitempty"`
	// ChunkSize is the size of the pieces file bytes are stored in, in
	// bytes. 0 means DefaultChunkSize.
	ChunkSize int `json:"chunkSize,omitempty"`
	// Retries is how many times an append transaction that failed with a
	// serialization failure or a deadlock (SQLSTATE 40001, 40P01: what
	// CockroachDB and YugabyteDB return under contention) is run again,
	// after a pause doubling from 5 ms; the saves are answered only after.
	// 0 means DefaultRetries; at most MaxRetries.
	Retries int `json:"retries,omitempty"`
}

// Defaults of Options.
const (
	DefaultSchema    = "trove"
	DefaultMaxConns  = 16
	DefaultChunkSize = 256 << 10
	DefaultRetries   = 3
	MaxRetries       = 100
)

var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

func (o Options) withDefaults() (Options, error) {
	if o.Schema == "" {
		o.Schema = DefaultSchema
	}
	if !schemaName.MatchString(o.Schema) {
		return o, fmt.Errorf("%w: postgres: options: schema %q must be 1-63 of [a-z0-9_], not starting with a digit", trove.ErrInvalid, o.Schema)
	}
	switch o.Notify {
	case "", "on":
		o.Notify = "on"
	case "off":
	default:
		return o, fmt.Errorf("%w: postgres: options: notify must be \"on\" or \"off\", not %q", trove.ErrInvalid, o.Notify)
	}
	if o.MaxConns < 0 || o.PollMS < 0 || o.ChunkSize < 0 || o.ReplicaWaitMS < 0 || o.Retries < 0 {
		return o, fmt.Errorf("%w: postgres: options: maxConns, pollMs, chunkSize, replicaWaitMs and retries must not be negative", trove.ErrInvalid)
	}
	if o.Retries > MaxRetries {
		return o, fmt.Errorf("%w: postgres: options: retries must be at most %d, not %d", trove.ErrInvalid, MaxRetries, o.Retries)
	}
	if o.Retries == 0 {
		o.Retries = DefaultRetries
	}
	if o.MaxConns == 0 {
		o.MaxConns = DefaultMaxConns
	}
	if o.PollMS == 0 {
		o.PollMS = 1000
		if o.Notify == "off" {
			o.PollMS = 200
		}
	}
	if o.ReplicaWaitMS == 0 {
		o.ReplicaWaitMS = 200
	}
	if o.ChunkSize == 0 {
		o.ChunkSize = DefaultChunkSize
	}
	return o, nil
}

// Store is the PostgreSQL storage plugin. It serves events, files and links
// and offers transactions, batches, subscriptions, replay and a schema
// store. Every method is safe for concurrent use; several Stores, in one
// process or many, may share one database and schema.
type Store struct {
	opts    Options
	now     func() time.Time
	channel string // the NOTIFY channel of the schema

	commits chan *commitReq // to the committer goroutine

	mu struct {
		sync.RWMutex
		state  lifecycle.State // open/closed, and the signal subscribers wait on
		pool   *pgxpool.Pool
		read   *pgxpool.Pool // the replica (ReadDSN), or nil
		cancel context.CancelFunc
		done   chan struct{} // closed when the background goroutines ended
	}

	// schemas caches parsed schema documents by schema_pk; rows never
	// change once committed, so entries never go stale.
	schemas sqlevents.Schemas
	// schemaPKs caches committed schema_docs keys by document hash.
	schemaPKs sync.Map // string -> int64

	// lastLSN is the WAL position of this Store's last acknowledged commit,
	// for the replica wait; guarded by lsnMu.
	lsnMu   sync.Mutex
	lastLSN uint64

	listening chan struct{} // closed once the first LISTEN succeeded (notify on)

	// pending moves the GIN indexes' pending lists off the append path
	// (pending.go).
	pending *cleaner

	// beforeCommit, when set (by tests, before Initialize), runs in each
	// append transaction after its writes, with the head row locked, just
	// before the commit; an error rolls the transaction back.
	beforeCommit func(ctx context.Context, tx *pgxpool.Conn) error
	// lockedOnly, when set (by benchmarks, before Initialize), sends
	// every group through the locked path (no planning ahead), to
	// compare the two in one process.
	lockedOnly bool
	// aheadPlanned, when set (by tests, before Initialize), runs in the
	// committer after a group was planned ahead of the head lock (see
	// ahead.go), before its transaction is sent.
	aheadPlanned func()
	// walked, when set (by tests), is told each position window a query
	// walked: its size, the candidates it held, whether it was read by
	// position buckets, and whether the query then hands the rest of the
	// log over to the index.
	walked func(window int64, candidates int, buckets bool, handOver bool)
	// rates remembers how common the filters of past walks were.
	rates rates
}

var (
	_ trove.Plugin        = (*Store)(nil)
	_ trove.EventStorage  = (*Store)(nil)
	_ trove.FileStorage   = (*Store)(nil)
	_ trove.LinkStorage   = (*Store)(nil)
	_ trove.Transactional = (*Store)(nil)
	_ trove.BatchSaver    = (*Store)(nil)
	_ trove.Subscriber    = (*Store)(nil)
	_ trove.Replayer      = (*Store)(nil)
	_ trove.SchemaStore   = (*Store)(nil)
)

// New makes a store; Initialize connects. Bad options are ErrInvalid.
func New(o Options) (*Store, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	if _, err := pgxpool.ParseConfig(o.DSN); err != nil {
		return nil, fmt.Errorf("%w: postgres: options: dsn: %v", trove.ErrInvalid, err)
	}
	if o.ReadDSN != "" {
		if _, err := pgxpool.ParseConfig(o.ReadDSN); err != nil {
			return nil, fmt.Errorf("%w: postgres: options: readDSN: %v", trove.ErrInvalid, err)
		}
	}
	sum := sha256.Sum256([]byte(o.Schema))
	s := &Store{
		opts:      o,
		now:       time.Now,
		channel:   "trove_" + hex.EncodeToString(sum[:8]),
		commits:   make(chan *commitReq, 1024),
		listening: make(chan struct{}),
		pending:   newCleaner(),
	}
	s.mu.state = lifecycle.New("postgres", lifecycle.Strict)
	return s, nil
}

// Name returns "storage-postgres".
func (s *Store) Name() string { return Name }

// Capabilities lists events, files and links.
func (s *Store) Capabilities() []trove.Capability {
	return []trove.Capability{trove.CapEvents, trove.CapFiles, trove.CapLinks}
}

// poolConfig parses dsn and sets the pool size and search_path.
func (s *Store) poolConfig(dsn string) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("%w: postgres: dsn: %v", trove.ErrInvalid, err)
	}
	cfg.MaxConns = int32(s.opts.MaxConns)
	cfg.ConnConfig.RuntimeParams["search_path"] = s.opts.Schema
	cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		registerTSVector(c.TypeMap())
		// No JIT: the planner's cost of a cursor over the whole log (an
		// order other than position) passes jit_above_cost, and compiling
		// it took longer than fetching the first page. An engine without
		// the setting refuses it, and is served as well without.
		_, _ = c.Exec(ctx, `SET jit = off`)
		return nil
	}
	return cfg, nil
}

// Initialize connects, applies the schema migrations (under an advisory
// lock, so several processes may start at once) and starts the committer
// and, with notify on, the LISTEN connection.
func (s *Store) Initialize(ctx context.Context, _ *trove.Core) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if todo, err := s.mu.state.Initializing(); !todo || err != nil {
		return err
	}
	cfg, err := s.poolConfig(s.opts.DSN)
	if err != nil {
		return err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("postgres: initialize: %w", err)
	}
	if err := migrate(ctx, pool, s.opts.Schema); err != nil {
		pool.Close()
		return err
	}
	s.wrote(ctx, pool) // the migrations
	if s.opts.ReadDSN != "" {
		rcfg, err := s.poolConfig(s.opts.ReadDSN)
		if err != nil {
			pool.Close()
			return err
		}
		read, err := pgxpool.NewWithConfig(ctx, rcfg)
		if err != nil {
			pool.Close()
			return fmt.Errorf("postgres: initialize: replica: %w", err)
		}
		s.mu.read = read
	}
	bg, cancel := context.WithCancel(context.Background())
	s.mu.pool, s.mu.cancel, s.mu.done = pool, cancel, make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); s.committer(bg, pool) }()
	wg.Add(1)
	go func() { defer wg.Done(); s.pending.run(bg, pool) }()
	if s.opts.Notify == "on" {
		wg.Add(1)
		go func() { defer wg.Done(); s.listen(bg, cfg) }()
	} else {
		close(s.listening)
	}
	go func() { wg.Wait(); close(s.mu.done) }()
	s.mu.state.Opened()
	return nil
}

// Shutdown stops the background goroutines, waits for the commits in
// flight and closes the pools. Calls after it return ErrClosed; a second
// Shutdown is a no-op.
func (s *Store) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	wasOpen := s.mu.state.IsOpen()
	if !s.mu.state.Close() || !wasOpen {
		s.mu.Unlock()
		return nil
	}
	cancel, done, pool, read := s.mu.cancel, s.mu.done, s.mu.pool, s.mu.read
	s.mu.Unlock()
	cancel()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("postgres: shutdown: %w", ctx.Err())
	}
	pool.Close()
	if read != nil {
		read.Close()
	}
	return nil
}

// pool returns the primary's pool, or ErrClosed after Shutdown (reads
// that may go to the replica use reader).
func (s *Store) pool(op string) (*pgxpool.Pool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.mu.state.Check(op); err != nil {
		return nil, err
	}
	return s.mu.pool, nil
}

// notify wakes local subscribers: the log grew.
func (s *Store) notify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.state.Notify()
}

// changedChan returns the channel closed at the next notify or Shutdown.
func (s *Store) changedChan() <-chan struct{} {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.mu.state.Changed()
}
