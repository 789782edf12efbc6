package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/blob"
	"github.com/trovedb/trove/blob/local"
	"github.com/trovedb/trove/engine/fulltext"
	"github.com/trovedb/trove/index"
	"github.com/trovedb/trove/internal/fsutil"
	"github.com/trovedb/trove/segment"
)

// Compile-time checks: the interfaces the store implements.
var (
	_ trove.EventStorage  = (*Store)(nil)
	_ trove.LinkStorage   = (*Store)(nil)
	_ trove.Transactional = (*Store)(nil)
	_ trove.BatchSaver    = (*Store)(nil)
	_ trove.Subscriber    = (*Store)(nil)
	_ trove.Replayer      = (*Store)(nil)
	_ trove.SchemaStore   = (*Store)(nil)
)

// Store is the log engine. Every method is safe for concurrent use.
//
// Writes go through one writer goroutine that commits in groups:
//
//   - Concurrent callers (SaveEvent, SaveEvents, Tx.Commit, SaveLink,
//     SaveSchema) queue a request; the writer takes every request waiting
//     (up to Options.MaxGroup), checks each against the committed state
//     plus the requests before it in the group, and appends the accepted
//     ones with one segment.WAL.Append: one write and one fsync. Each
//     request is one WAL entry, so it is atomic.
//   - Positions are assigned by the writer in append order, so position
//     order is commit order.
//   - Nobody is acknowledged, and nothing becomes visible to readers, before
//     the group's bytes are durable (fsynced, in SyncAlways mode).
//   - A failed write or fsync is sticky: every request of that group and
//     every later one fails with that cause (Err says it) until the store is
//     reopened, whose recovery keeps exactly the durable entries.
//
// Readers never take the writer's path: they load the current view (an
// immutable value behind an atomic pointer: sealed segments, the unsealed
// events, the committed position) and hold the index's read lock only
// while combining bitmaps.
type Store struct {
	dir    string
	opts   Options
	logger *slog.Logger

	wal   *segment.WAL
	ix    *index.Index
	cache *blockCache
	view  atomic.Pointer[view]
	srch  *fulltext.Index // nil when the search index is off
	blobs *local.Store
	files trove.FileStorage // over blobs

	reqs      chan *request
	sealed    chan *sealJob        // a background seal reports here
	idMerged  chan *idMerge        // a background merge of id runs reports here
	keyMerged chan *keyMerge       // a background build of a key run reports here
	repaired  chan *segIndexRepair // checkSegIndexes hands rebuilt segment indexes here
	checking  sync.WaitGroup       // checkSegIndexes's goroutine
	writerWG  sync.WaitGroup
	walDrops  sync.WaitGroup // dropSealedWAL's goroutines
	trims     sync.WaitGroup // trimHead's goroutines
	inflight  sync.WaitGroup
	closedCh  chan struct{}

	mu struct {
		sync.RWMutex
		closed bool
		err    error // sticky write failure
	}

	// w is owned by the writer goroutine (and by Open before it starts).
	w writerState

	stats counters

	// readOnly stores (Check) change nothing on disk: their WAL is a
	// private copy in tmpWAL, removed by Close, and they have no writer.
	readOnly bool
	tmpWAL   string

	// lock is the directory's lock, held from before anything in it is
	// opened until Close has closed everything: exclusive for a writable
	// store, shared for a read-only one.
	lock *fsutil.DirLock

	// hook, when set (by tests, before the first write), is called at each
	// crash point of a seal.
	hook func(point string)

	regMu      sync.RWMutex
	registered []trove.RegisteredSchema // guarded by regMu
}

// writerState is what only the writer touches.
type writerState struct {
	last       uint64            // last committed event position
	schemaNums map[string]uint32 // schema document → dictionary number
	schemas    []trove.Schema    // dictionary, by number (append-only)
	mem        *memtable
	segs       []*sealed // every open segment, in log order
	evSegs     []*sealed // those holding events, in position order
	nextSegID  uint64
	snapLast   uint64            // last position of the latest snapshot
	snapWAL    uint64            // last WAL entry the latest snapshot covers (0: none written or loaded)
	snapAtSeal bool              // the latest snapshot was taken at a seal's boundary
	sealing    bool              // a seal runs in the background
	regKeys    map[string]string // id\x00version → document, registered schemas
	tornTail   string            // what recovery cut from the WAL's tail, "" when nothing
	// segIdxDamage lists the segment indexes recovery or checkSegIndexes
	// found damaged (and rebuilt).
	segIdxDamage []error
	// retiredIdx are the damaged segment indexes checkSegIndexes replaced,
	// open until Close (readers may hold them).
	retiredIdx []*index.SegIndex
	snapDamage error // why recovery could not use index.snap; nil when it could or there was none
	// pre holds the id runs and segment indexes recovery opened ahead,
	// until openSegIndexes has used them (then nil).
	pre *preopening
	// idRuns are the id runs in use (idruns.go), in position order;
	// idMerging is set while a merge runs, closing once Close began.
	idRuns      []*index.IDRun
	idMerging   bool
	closing     bool
	idRunDamage []error // the id runs recovery found damaged (and removed)
	// keyRuns are the key runs in use (keyruns.go), in position order;
	// keyMerging is set while one is built.
	keyRuns      []*index.KeyRun
	keyMerging   bool
	keyRunDamage []error // the key runs recovery found damaged (and removed)
}

// view is an immutable picture of the committed log for readers.
type view struct {
	last     uint64 // last committed event position
	segs     []*sealed
	memFirst uint64   // first position held in memBodies
	memBody  [][]byte // event record bodies of the unsealed part
	memTime  []int64
	schemas  []trove.Schema
	changed  chan struct{} // closed when a newer view is published
}

// memtable holds the unsealed part of the log in memory.
type memtable struct {
	first    uint64 // first event position it holds (last+1 when none)
	bodies   [][]byte
	times    []int64
	records  []segment.Record // every record, in log order, for sealing
	bytes    int64
	firstWAL uint64 // first WAL entry, 0 when none
	lastWAL  uint64
}

// Open opens (creating when needed) the store in dir and recovers it: the
// WAL's torn tail is repaired, sealed segments are opened and checked, the
// index snapshot is loaded and only the log after it is replayed.
//
// Before anything else in dir is touched, Open takes an exclusive lock on
// dir/LOCK (see fsutil.LockDir) and holds it until Close. When another
// store, in this process or another, has dir open, Open fails within
// about half a second with an error wrapping trove.ErrLocked that names dir
// and the holding process, and changes nothing.
func Open(dir string, opts Options) (*Store, error) {
	return open(context.Background(), dir, opts, false)
}

// OpenContext is Open whose wait for a held lock and whose replay of the
// log end when ctx does, with an error wrapping ctx's error. Recovery
// changes the store only in crash-safe steps, so an open stopped at any
// point leaves a store the next Open recovers.
func OpenContext(ctx context.Context, dir string, opts Options) (*Store, error) {
	return open(ctx, dir, opts, false)
}

// openReadOnly opens the store in dir without changing anything on disk:
// the WAL is recovered in a private copy, nothing is written, and only
// reads and Check work (writes fail as on a closed store). It takes a
// shared lock: it fails with trove.ErrLocked while a writable store has
// dir open, and keeps writers out while it is open.
func openReadOnly(ctx context.Context, dir string, opts Options) (*Store, error) {
	opts.SearchIndex = "off"
	return open(ctx, dir, opts, true)
}

func open(ctx context.Context, dir string, opts Options, readOnly bool) (st *Store, err error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if !readOnly {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("engine: open: %w", err)
		}
	}
	// The lock comes first: the search index's own lock (bleve's) would
	// wait forever for another process, and recovery repairs files.
	lock, err := fsutil.LockDir(ctx, dir, !readOnly)
	if err != nil {
		return nil, fmt.Errorf("engine: open: %w", err)
	}
	defer func() {
		if err != nil {
			lock.Unlock()
		}
	}()
	s := &Store{
		dir:       dir,
		opts:      o,
		logger:    o.Logger.With("store", dir),
		reqs:      make(chan *request, 1024),
		sealed:    make(chan *sealJob, 1),
		idMerged:  make(chan *idMerge, 1),
		keyMerged: make(chan *keyMerge, 1),
		repaired:  make(chan *segIndexRepair),
		closedCh:  make(chan struct{}),
		readOnly:  readOnly,
		lock:      lock,
	}
	s.cache = newBlockCache(o.CacheSize)
	// The file store indexes its packs from their key files and its last
	// pack (blob/local), beside the log's recovery, which does not touch
	// them. An open canceled before it starts leaves the files alone.
	type opened struct {
		blobs *local.Store
		err   error
	}
	blobsOpened := make(chan opened, 1)
	if !readOnly {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("engine: open: %w", err)
		}
		go func() {
			b, err := local.OpenContext(ctx, filepath.Join(dir, "files"))
			blobsOpened <- opened{b, err}
		}()
	}
	if err := s.recover(ctx); err != nil {
		if !readOnly {
			if b := <-blobsOpened; b.err == nil {
				b.blobs.Close()
			}
		}
		return nil, err
	}
	s.openSegIndexes()
	if readOnly {
		s.publish()
		return s, nil
	}
	b := <-blobsOpened
	blobs, err := b.blobs, b.err
	if err != nil {
		s.wal.Close()
		s.closeSegIndexes()
		s.closeIDRuns()
		s.closeKeyRuns()
		for _, sg := range s.w.segs {
			sg.seg.Close()
		}
		return nil, fmt.Errorf("engine: open files: %w", err)
	}
	s.blobs = blobs
	s.files = blob.NewFileStorage(blobs)
	if o.SearchIndex == "on" {
		s.srch = newSearcher(s)
	}
	s.publish()
	s.maybeMergeIDs()
	s.maybeMergeKeys()
	s.checkSegIndexes()
	s.writerWG.Add(1)
	go s.writer()
	if s.srch != nil {
		s.srch.Start()
	}
	return s, nil
}

func (s *Store) segDir() string   { return filepath.Join(s.dir, "segments") }
func (s *Store) walDir() string   { return filepath.Join(s.dir, "wal") }
func (s *Store) snapPath() string { return filepath.Join(s.dir, "index.snap") }

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

// Err returns the sticky write failure, or nil.
func (s *Store) Err() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.mu.err
}

// Close waits for requests in flight, stops the writer, writes an index
// snapshot unless the latest one covers every write (so the next Open
// replays nothing), and closes the files. Calls
// after Close return ErrClosed. It is safe to call twice.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		return nil
	}
	s.mu.closed = true
	failed := s.mu.err != nil
	s.mu.Unlock()
	close(s.closedCh)
	s.inflight.Wait()
	close(s.reqs)
	s.writerWG.Wait()
	s.checking.Wait()
	s.walDrops.Wait()
	s.trims.Wait()
	if s.srch != nil {
		s.srch.Close()
	}
	var errs []error
	// A store that took no write since its snapshot (read-only use) keeps
	// it: the next Open replays nothing either way.
	if !failed && !s.readOnly && (s.w.snapWAL == 0 || s.wal.NextIndex()-1 != s.w.snapWAL) {
		if err := s.writeSnapshot(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := s.wal.Close(); err != nil && !failed {
		errs = append(errs, err)
	}
	if err := s.closeSegIndexes(); err != nil {
		errs = append(errs, err)
	}
	if err := s.closeIDRuns(); err != nil {
		errs = append(errs, err)
	}
	if err := s.closeKeyRuns(); err != nil {
		errs = append(errs, err)
	}
	for _, sg := range s.w.segs {
		if err := sg.seg.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if s.blobs != nil {
		if err := s.blobs.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if s.tmpWAL != "" {
		if err := os.RemoveAll(s.tmpWAL); err != nil {
			errs = append(errs, err)
		}
	}
	// Last: the index's memory is released, and no reader is left.
	s.ix.Close()
	if err := s.lock.Unlock(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// enter admits a call: it fails once the store is closed or has failed.
// The caller must call s.leave(write) when it no longer needs the store.
func (s *Store) enter(what string, write bool) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.mu.closed {
		return fmt.Errorf("engine: %s: %w", what, trove.ErrClosed)
	}
	if write && s.readOnly {
		return fmt.Errorf("engine: %s refused: the store is open read-only: %w", what, trove.ErrClosed)
	}
	if write && s.mu.err != nil {
		return fmt.Errorf("engine: %s refused: the store failed earlier: %w", what, s.mu.err)
	}
	s.inflight.Add(1)
	if !write {
		s.stats.readers.Add(1)
	}
	return nil
}

// publish makes the writer's state visible to readers.
func (s *Store) publish() {
	m := s.w.mem
	v := &view{
		last:     s.w.last,
		segs:     s.w.evSegs[:len(s.w.evSegs):len(s.w.evSegs)],
		memFirst: m.first,
		memBody:  m.bodies[:len(m.bodies):len(m.bodies)],
		memTime:  m.times[:len(m.times):len(m.times)],
		schemas:  s.w.schemas[:len(s.w.schemas):len(s.w.schemas)],
		changed:  make(chan struct{}),
	}
	if old := s.view.Swap(v); old != nil {
		close(old.changed)
	}
	// The index may now read ids at these positions (see ids.go).
	s.ix.Readable(uint32(v.last))
}

// Last returns the last committed position.
func (s *Store) Last() uint64 { return s.view.Load().last }

func closedErr(what string) error { return fmt.Errorf("engine: %s: %w", what, trove.ErrClosed) }
