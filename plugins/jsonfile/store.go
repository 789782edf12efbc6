package jsonfile

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/internal/fsutil"
	"github.com/trovedb/trove/plugins/internal/lifecycle"
	"github.com/trovedb/trove/plugins/internal/linkbook"
	"github.com/trovedb/trove/plugins/internal/pluginopts"
)

// Name is the plugin's registered name.
const Name = "storage-json-file"

func init() {
	trove.Register(Name, func(options json.RawMessage) (trove.Plugin, error) {
		var o Options
		if err := pluginopts.Decode("jsonfile", options, &o, pluginopts.Lenient); err != nil {
			return nil, err
		}
		return New(o)
	})
}

// Options configure a Store.
type Options struct {
	// Directory holds the store (see the package documentation for its
	// layout). It is created by Initialize when missing. Required: "" is
	// ErrInvalid.
	Directory string `json:"directory"`
}

// Store is the JSON-file storage plugin. It serves events, files and links
// and offers transactions, batches, subscriptions, replay and a schema
// store. Every method is safe for concurrent use.
type Store struct {
	opts Options
	now  func() time.Time
	// walkAbove is the candidate count above which a query sorted on
	// createdAt with a limit walks the time index; tests lower it.
	walkAbove int
	// fault, set by tests only, injects an error into a file operation
	// (faultAt); nil in production.
	fault func(op, path string) error

	// writeMu serializes every change to the directory: one writer at a
	// time does its file I/O holding it, then publishes the change in
	// memory under mu. Readers take only mu, so they never wait on fsync.
	writeMu sync.Mutex

	mu struct {
		sync.RWMutex
		state    lifecycle.State         // open/closed, and the signal subscribers wait on
		lock     *fsutil.DirLock         // the directory's lock (LOCK)
		linkLog  *os.File                // links.ndjson, opened for append
		log      []*record               // every event version in position order
		byID     map[string][]*record    // versions of an id, [v-1] is version v
		schema   map[string][]*record    // by schema identity, position order
		producer map[string][]*record    // by producer, position order
		byTime   []*record               // every event version by (createdAt, position)
		target   map[string][]*record    // by link target id: the sources, maybe repeated
		links    []linkbook.Entry        // every link, in save order (for incoming links)
		interned map[string]trove.Schema // distinct schema documents, by raw JSON
		files    map[string]trove.EventFile
		regs     []trove.RegisteredSchema // the schema registry, in registration order
		lastPos  uint64
		broken   error // a rollback failed: writes are refused until a reopen
	}
}

// record is one stored event version.
type record struct {
	ev      trove.Event // as stored, Position set; never modified
	payload any         // ev.Payload decoded for matching and sorting
	// added holds the links added later with SaveLink; guarded by Store.mu
	// and replaced, never appended to in place, so readers may keep it.
	added []trove.EventLink
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

// New makes a store on o.Directory; Initialize opens it. An empty
// directory is ErrInvalid.
func New(o Options) (*Store, error) {
	if o.Directory == "" {
		return nil, fmt.Errorf("%w: jsonfile: options: directory is required", trove.ErrInvalid)
	}
	s := &Store{opts: o, now: time.Now, walkAbove: smallCandidates}
	s.mu.state = lifecycle.New("jsonfile", lifecycle.Strict)
	s.resetLocked()
	return s, nil
}

func (s *Store) resetLocked() {
	s.mu.log = nil
	s.mu.byID = map[string][]*record{}
	s.mu.schema = map[string][]*record{}
	s.mu.producer = map[string][]*record{}
	s.mu.byTime = nil
	s.mu.target = map[string][]*record{}
	s.mu.links = nil
	s.mu.interned = map[string]trove.Schema{}
	s.mu.files = map[string]trove.EventFile{}
	s.mu.regs = nil
	s.mu.lastPos = 0
	s.mu.broken = nil
}

// Name returns "storage-json-file".
func (s *Store) Name() string { return Name }

// Capabilities lists events, files and links.
func (s *Store) Capabilities() []trove.Capability {
	return []trove.Capability{trove.CapEvents, trove.CapFiles, trove.CapLinks}
}

// Initialize creates the directory when missing, takes its lock (a second
// store on the same directory, in this process or another, fails with an
// error naming the directory), finishes or discards an interrupted batch,
// and loads the in-memory index.
func (s *Store) Initialize(ctx context.Context, _ *trove.Core) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if todo, err := s.mu.state.Initializing(); !todo || err != nil {
		return err
	}
	dir := s.opts.Directory
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("jsonfile: initialize: %w", err)
	}
	// The lock comes before anything else in dir is touched.
	lock, err := lockDir(ctx, dir)
	if err != nil {
		return err
	}
	for _, d := range []string{filepath.Join(dir, eventsDir), filepath.Join(dir, filesDir)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			lock.Unlock()
			return fmt.Errorf("jsonfile: initialize: %w", err)
		}
	}
	if err := s.loadLocked(ctx); err != nil {
		lock.Unlock()
		s.resetLocked()
		return err
	}
	ll, err := os.OpenFile(filepath.Join(dir, linksFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		lock.Unlock()
		s.resetLocked()
		return fmt.Errorf("jsonfile: initialize: %w", err)
	}
	s.mu.lock, s.mu.linkLog = lock, ll
	s.mu.state.Opened()
	return nil
}

// Shutdown releases the directory's lock. Calls after it return ErrClosed; a
// second Shutdown is a no-op. Everything saved is already durable.
func (s *Store) Shutdown(ctx context.Context) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.mu.state.Close() {
		return nil
	}
	var errs []error
	if s.mu.linkLog != nil {
		errs = append(errs, s.mu.linkLog.Close())
	}
	if s.mu.lock != nil {
		errs = append(errs, s.mu.lock.Unlock())
	}
	s.resetLocked()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("jsonfile: shutdown: %w", err)
	}
	return nil
}

// checkLocked reports ErrClosed after Shutdown and an error before
// Initialize. The caller holds mu.
func (s *Store) checkLocked(op string) error {
	return s.mu.state.Check(op)
}

// internLocked returns the store's copy of a schema document, so each
// distinct document is held once in memory.
func (s *Store) internLocked(sc trove.Schema) trove.Schema {
	key := string(sc.Raw())
	if have, ok := s.mu.interned[key]; ok {
		return have
	}
	s.mu.interned[key] = sc
	return sc
}

// addLocked publishes a stored event version in memory.
func (s *Store) addLocked(e trove.Event, loading bool) {
	e.Schema = s.internLocked(e.Schema)
	payload, _ := trove.DecodePayload(e.Payload)
	r := &record{ev: e, payload: payload}
	s.mu.log = append(s.mu.log, r)
	s.mu.byID[e.ID.ID] = append(s.mu.byID[e.ID.ID], r)
	id := e.Schema.Identity()
	s.mu.schema[id] = append(s.mu.schema[id], r)
	s.mu.producer[e.Producer] = append(s.mu.producer[e.Producer], r)
	for _, l := range e.Links {
		s.mu.links = append(s.mu.links, linkbook.Entry{Source: e.ID, Link: l})
		s.mu.target[l.TargetEvent.ID] = append(s.mu.target[l.TargetEvent.ID], r)
	}
	s.mu.lastPos = e.Position
	// Events mostly arrive in time order: the insertion point is then the
	// end. loadLocked appends and sorts once instead.
	if !loading {
		i, _ := slices.BinarySearchFunc(s.mu.byTime, r, byTimeOrder)
		s.mu.byTime = slices.Insert(s.mu.byTime, i, r)
	} else {
		s.mu.byTime = append(s.mu.byTime, r)
	}
}

// byTimeOrder orders records by createdAt, then position.
func byTimeOrder(a, b *record) int {
	if c := a.ev.CreatedAt.Compare(b.ev.CreatedAt); c != 0 {
		return c
	}
	return cmp.Compare(a.ev.Position, b.ev.Position)
}

// notifyLocked wakes subscribers.
func (s *Store) notifyLocked() { s.mu.state.Notify() }
