package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
)

// pebblePeer is github.com/cockroachdb/pebble (v2), the LSM key-value store
// of CockroachDB, used as an event log: one key per event, the event's
// position as an 8-byte big-endian key (so keys sort in position order),
// the event's JSON as the value. Every commit is pebble.Sync (the WAL is
// fsynced before the call returns), the durability storage-log gives. A
// batch is one pebble.Batch committed once; a single save is one Set with
// pebble.Sync, and concurrent Sets are grouped by Pebble's commit pipeline
// (one WAL fsync for the writes queued behind it). A file is one key of its
// own key space. It answers no reads (no id or payload index).
func pebblePeer() Contender {
	return Contender{
		Name: "pebble", Kind: kindPeer, Persistent: true,
		About: "cockroachdb/pebble v2, 64 MiB memtables (as CockroachDB sets them), otherwise default options, one key per event (8-byte big-endian position) with the event's JSON as the value, " +
			"every commit pebble.Sync; a batch is one pebble.Batch, a single save one Set (the commit pipeline groups concurrent ones); a file is one key",
		Available: func() error { return nil },
		Open:      openPebble,
	}
}

// pebbleMemTable is the peer's memtable size: 64 MiB, as CockroachDB
// configures Pebble (Pebble's own default, 4 MiB, flushes and compacts far
// more often under a write-heavy load).
const pebbleMemTable = 64 << 20

// Key spaces of the pebble peer: events by position, files by id.
const (
	pebbleEventKey = 'e'
	pebbleFileKey  = 'f'
)

func openPebble(ctx context.Context, dir string, _ *slog.Logger) (Store, error) {
	db, err := pebble.Open(dir, &pebble.Options{Logger: quietPebbleLogger{}, MemTableSize: pebbleMemTable})
	if err != nil {
		return nil, fmt.Errorf("bench: pebble: %w", err)
	}
	s := &pebbleStore{db: db}
	last, err := s.lastPosition()
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	s.last.Store(last)
	return s, nil
}

type pebbleStore struct {
	db   *pebble.DB
	last atomic.Uint64 // the position of the newest event; the next event takes last+1
}

var _ Store = (*pebbleStore)(nil)

// eventKey is the key of the event at position pos.
func eventKey(buf []byte, pos uint64) []byte {
	buf = append(buf[:0], pebbleEventKey)
	return binary.BigEndian.AppendUint64(buf, pos)
}

// lastPosition reads the position of the newest stored event, 0 when none.
func (s *pebbleStore) lastPosition() (uint64, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{pebbleEventKey}, UpperBound: []byte{pebbleEventKey + 1}})
	if err != nil {
		return 0, fmt.Errorf("bench: pebble: %w", err)
	}
	defer it.Close()
	if !it.Last() {
		return 0, it.Error()
	}
	k := it.Key()
	if len(k) != 9 {
		return 0, errors.New("bench: pebble: malformed event key")
	}
	return binary.BigEndian.Uint64(k[1:]), nil
}

func (s *pebbleStore) SaveBatch(ctx context.Context, b *Batch) error {
	// Positions are taken before the commit, as a log assigns them; a
	// failed commit leaves a gap, which the peer never reuses.
	first := s.last.Add(uint64(len(b.Enc))) - uint64(len(b.Enc)) + 1
	batch := s.db.NewBatch()
	defer batch.Close()
	var key [9]byte
	for i, e := range b.Enc {
		if err := batch.Set(eventKey(key[:0], first+uint64(i)), e, nil); err != nil {
			return fmt.Errorf("bench: pebble: %w", err)
		}
	}
	if err := batch.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("bench: pebble: %w", err)
	}
	return nil
}

func (s *pebbleStore) Save(ctx context.Context, it *Item) error {
	var key [9]byte
	if err := s.db.Set(eventKey(key[:0], s.last.Add(1)), it.Encoded(), pebble.Sync); err != nil {
		return fmt.Errorf("bench: pebble: %w", err)
	}
	return nil
}

// SaveFile stores the file's bytes under its id, fsynced.
func (s *pebbleStore) SaveFile(ctx context.Context, it *Item) error {
	key := append([]byte{pebbleFileKey}, it.Event.Files[0].ID...)
	if err := s.db.Set(key, it.File, pebble.Sync); err != nil {
		return fmt.Errorf("bench: pebble: %w", err)
	}
	return nil
}

func (s *pebbleStore) Close(context.Context) error { return s.db.Close() }

// quietPebbleLogger drops Pebble's informational lines (they would mix
// with the harness's progress output) and keeps errors.
type quietPebbleLogger struct{}

func (quietPebbleLogger) Infof(string, ...any) {}
func (quietPebbleLogger) Errorf(format string, args ...any) {
	slog.Error(fmt.Sprintf("pebble: "+format, args...))
}
func (quietPebbleLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf("pebble: "+format, args...))
}
