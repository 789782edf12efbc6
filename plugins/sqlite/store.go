package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/internal/fsutil"
	"github.com/trovedb/trove/plugins/internal/lifecycle"
	"github.com/trovedb/trove/plugins/internal/pluginopts"
	"github.com/trovedb/trove/plugins/internal/sqlevents"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver, pure Go
)

// Name is the plugin's registered name.
const Name = "storage-sqlite"

func init() { pluginopts.Register(Name, "sqlite", pluginopts.Lenient, New) }

// Options configure a Store.
type Options struct {
	// Path is the database file. It and its directory are created by
	// Initialize when missing; SQLite keeps Path-wal and Path-shm beside it.
	// Required: "" is ErrInvalid.
	Path string `json:"path"`
	// Readers is the number of read connections. 0 means DefaultReaders.
	Readers int `json:"readers,omitempty"`
	// BusyTimeout is how long a connection waits for a lock held by another
	// process before failing, in milliseconds. 0 means 5000.
	BusyTimeoutMS int `json:"busyTimeoutMs,omitempty"`
	// ChunkSize is the size of the pieces file bytes are stored in, in
	// bytes. 0 means DefaultChunkSize.
	ChunkSize int `json:"chunkSize,omitempty"`
}

// Defaults of Options.
const (
	DefaultReaders   = 4
	DefaultChunkSize = 256 << 10
)

func (o Options) withDefaults() Options {
	if o.Readers <= 0 {
		o.Readers = DefaultReaders
	}
	if o.BusyTimeoutMS <= 0 {
		o.BusyTimeoutMS = 5000
	}
	if o.ChunkSize <= 0 {
		o.ChunkSize = DefaultChunkSize
	}
	return o
}

// Store is the SQLite storage plugin. It serves events, files and links and
// offers transactions, batches, subscriptions, replay and a schema store.
// Every method is safe for concurrent use.
type Store struct {
	opts Options
	now  func() time.Time

	// writeMu serializes writers: SQLite has one writer, and holding this
	// also keeps the schema cache's pending entries consistent.
	writeMu sync.Mutex

	mu struct {
		sync.RWMutex
		state lifecycle.State // open/closed, and the signal subscribers wait on
		w     *sql.DB         // one connection: every write
		r     *sql.DB         // Options.Readers connections, query_only
		lock  *fsutil.DirLock // shared flock on Path-lock while open
	}

	// schemas caches parsed schema documents by schema_pk; rows never
	// change once written, so entries never go stale.
	schemas sqlevents.Schemas

	schemaLoad sync.Mutex // serializes loadSchemas
	schemaMax  int64      // the largest schema_pk cached by loadSchemas; guarded by schemaLoad
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

// New makes a store on o.Path; Initialize opens it. An empty path is
// ErrInvalid.
func New(o Options) (*Store, error) {
	if o.Path == "" {
		return nil, fmt.Errorf("%w: sqlite: options: path is required", trove.ErrInvalid)
	}
	s := &Store{opts: o.withDefaults(), now: time.Now}
	s.mu.state = lifecycle.New("sqlite", lifecycle.Strict)
	return s, nil
}

// Name returns "storage-sqlite".
func (s *Store) Name() string { return Name }

// Capabilities lists events, files and links.
func (s *Store) Capabilities() []trove.Capability {
	return []trove.Capability{trove.CapEvents, trove.CapFiles, trove.CapLinks}
}

// dsn is the driver's data source name for the database file: WAL journal,
// synchronous=FULL (a commit is durable when it returns), foreign keys on.
func (s *Store) dsn(readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", s.opts.BusyTimeoutMS))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(1)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Set("_txlock", "immediate")
	}
	return "file:" + (&url.URL{Path: s.opts.Path}).EscapedPath() + "?" + q.Encode()
}

// Initialize opens the database (creating it when missing), applies the
// schema migrations, removes the bytes of file uploads a crash interrupted,
// and opens the pools: one write connection, Options.Readers read ones.
func (s *Store) Initialize(ctx context.Context, _ *trove.Core) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if todo, err := s.mu.state.Initializing(); !todo || err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(s.opts.Path), 0o755); err != nil {
		return fmt.Errorf("sqlite: initialize: %w", err)
	}
	// SQLite's locking lets several processes share the database. Only
	// the removal of interrupted uploads below needs the database alone:
	// it would take the blob of an upload another process is streaming.
	// Every store holds a shared flock on Path-lock while open; the one
	// that gets it exclusive (no other store is open) removes them first.
	alone, err := fsutil.TryLockPath(s.opts.Path, s.opts.Path+"-lock")
	if err != nil {
		return fmt.Errorf("sqlite: initialize: %w", err)
	}
	lock := alone
	if lock == nil {
		if lock, err = fsutil.LockPath(ctx, s.opts.Path, s.opts.Path+"-lock", false); err != nil {
			return fmt.Errorf("sqlite: initialize: %w", err)
		}
	}
	defer func() {
		if !s.mu.state.IsOpen() {
			lock.Unlock()
		}
	}()
	w, err := sql.Open("sqlite", s.dsn(false))
	if err != nil {
		return fmt.Errorf("sqlite: initialize: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	if err := migrate(ctx, w, s.now()); err != nil {
		w.Close()
		return err
	}
	if alone != nil {
		if _, err := w.ExecContext(ctx, `DELETE FROM file_chunks WHERE blob_pk NOT IN (SELECT blob_pk FROM files);
DELETE FROM blobs WHERE blob_pk NOT IN (SELECT blob_pk FROM files)`); err != nil {
			w.Close()
			return fmt.Errorf("sqlite: initialize: remove interrupted uploads: %w", err)
		}
		if err := alone.Downgrade(ctx); err != nil {
			w.Close()
			return fmt.Errorf("sqlite: initialize: %w", err)
		}
	}
	r, err := sql.Open("sqlite", s.dsn(true))
	if err != nil {
		w.Close()
		return fmt.Errorf("sqlite: initialize: %w", err)
	}
	r.SetMaxOpenConns(s.opts.Readers)
	r.SetMaxIdleConns(s.opts.Readers)
	if err := r.PingContext(ctx); err != nil {
		w.Close()
		r.Close()
		return fmt.Errorf("sqlite: initialize: %w", err)
	}
	s.mu.w, s.mu.r, s.mu.lock = w, r, lock
	s.mu.state.Opened()
	return nil
}

// Shutdown closes the pools (checkpointing the WAL). Calls after it return
// ErrClosed; a second Shutdown is a no-op.
func (s *Store) Shutdown(ctx context.Context) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	wasOpen := s.mu.state.IsOpen()
	if !s.mu.state.Close() || !wasOpen {
		return nil
	}
	err := errors.Join(s.mu.r.Close(), s.mu.w.Close(), s.mu.lock.Unlock())
	if err != nil {
		return fmt.Errorf("sqlite: shutdown: %w", err)
	}
	return nil
}

// pools returns the connection pools, or ErrClosed after Shutdown.
func (s *Store) pools(op string) (w, r *sql.DB, err error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.mu.state.Check(op); err != nil {
		return nil, nil, err
	}
	return s.mu.w, s.mu.r, nil
}

// notify wakes subscribers after a commit.
func (s *Store) notify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.state.Notify()
}

// changedChan returns the channel closed at the next commit.
func (s *Store) changedChan() <-chan struct{} {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.mu.state.Changed()
}
