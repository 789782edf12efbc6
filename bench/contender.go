package main

import (
	"context"
	"errors"
	"log/slog"
	"os"

	"github.com/trovedb/trove"
)

// errUnsupported is returned by a store for an operation it does not offer
// (a raw log has no get-by-id); the report shows the workload as n/a.
var errUnsupported = errors.New("bench: not supported by this contender")

// Store is one open instance of a contender on a directory. Every save is
// durable when it returns. Save is called from many goroutines at once.
// Saves store events only; the events' files go through SaveFile.
type Store interface {
	// SaveBatch saves the batch's events as one durable batch.
	SaveBatch(ctx context.Context, b *Batch) error
	// Save saves one event durably. it.Encoded() has been called.
	Save(ctx context.Context, it *Item) error
	// SaveFile saves the bytes of the item's file (it.File, described by
	// it.Event.Files[0]) durably, or returns errUnsupported for a store
	// that keeps no files.
	SaveFile(ctx context.Context, it *Item) error
	// Close releases the store; the directory keeps what was saved.
	Close(ctx context.Context) error
}

// Batch is one ingest batch in every form a store takes it, built before
// the clock starts so that only the save call is timed.
type Batch struct {
	Items  []Item
	Events []trove.Event // Items[i].Event
	Enc    [][]byte      // Items[i].Encoded()
	// Body is the request body of an HTTP contender (a JSON array of the
	// events), laid out by its PrepareBatch before the clock starts; nil
	// for every other contender.
	Body []byte
}

// newBatch returns the batch of items, encoding each.
func newBatch(items []Item) *Batch {
	b := &Batch{Items: items, Events: make([]trove.Event, len(items)), Enc: make([][]byte, len(items))}
	for i := range items {
		b.Events[i] = items[i].Event
		b.Enc[i] = items[i].Encoded()
	}
	return b
}

// preparer is implemented by stores that send the events in a form of their
// own (an HTTP request body): the runner calls it before the clock starts,
// PrepareBatch on each ingest batch and PrepareItem on each single-save
// event, so that only the save call is timed, as for every contender.
type preparer interface {
	PrepareBatch(b *Batch)
	PrepareItem(it *Item)
}

// Reader is implemented by stores that answer reads; stores that do not
// (a raw log, the disk) show the read workloads as n/a.
type Reader interface {
	// Get fetches the latest version of the event with this id.
	Get(ctx context.Context, id string) error
	// Query runs q and returns how many events it returned. A query shape
	// the store cannot answer is errUnsupported.
	Query(ctx context.Context, q trove.EventQuery) (int, error)
}

// Contender is one entry of the comparison: a Trove backend driven through
// the public API, or a peer driven directly.
type Contender struct {
	Name  string // shown in the report
	Kind  string // "trove" or "peer"
	About string // one line: what it is and how it is configured
	// Persistent stores keep their data across Close and Open (reopen time
	// and disk bytes are measured only for them).
	Persistent bool
	// Available says why the contender cannot run here (its package is not
	// built in, say), or nil when it can.
	Available func() error
	// Open opens the contender on dir, creating it when empty.
	Open func(ctx context.Context, dir string, log *slog.Logger) (Store, error)
	// Size returns the bytes a closed store opened on dir occupies, for a
	// store that keeps its data elsewhere (a database server); nil: the
	// files under dir.
	Size func(ctx context.Context, dir string) (int64, error)
	// Drop deletes what a closed store opened on dir keeps outside dir;
	// nil: it keeps nothing there.
	Drop func(ctx context.Context, dir string) error
}

// remove deletes the store c opened on dir: the directory and what Drop
// deletes elsewhere, so that a later run on the same path starts empty.
func (c Contender) remove(ctx context.Context, dir string) error {
	err := os.RemoveAll(dir)
	if c.Drop != nil {
		err = errors.Join(err, c.Drop(ctx, dir))
	}
	return err
}

// size returns the bytes the closed store c opened on dir occupies.
func (c Contender) size(ctx context.Context, dir string) (int64, error) {
	if c.Size != nil {
		return c.Size(ctx, dir)
	}
	return dirSize(dir)
}

// Contender kinds.
const (
	kindTrove = "trove"
	kindPeer  = "peer"
	kindHTTP  = "http"
)

// baseline is the contender every ratio in the report is relative to.
const baseline = "storage-log"

// contenders is the table of everything the benchmark compares, in report
// order. Adding a contender is adding an entry here.
func contenders() []Contender {
	return append([]Contender{
		troveContender("storage-log", "the Trove log engine (WAL, group commit, roaring and bleve indexes)", true, dirOptions),
		troveContender("storage-sqlite", "the Trove SQLite plugin", true, sqliteOptions),
		troveContender("storage-json-file", "the Trove JSON-file plugin", true, dirOptions),
		troveContender("storage-memory", "the Trove in-memory plugin (not durable)", false, nil),
		postgresContender(),
		walPeer(),
		pebblePeer(),
		sqlitePeer(),
		postgresPeer(),
		natsPeer(),
		diskPeer(),
	}, httpContenders()...)
}

// findContender returns the contender named name.
func findContender(name string) (Contender, bool) {
	for _, c := range contenders() {
		if c.Name == name {
			return c, true
		}
	}
	return Contender{}, false
}
