package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/tidwall/wal"
	"github.com/trovedb/trove/segment"
)

// walPeer is raw github.com/tidwall/wal appending the same encoded bytes as
// the other contenders store: the floor under the engine's ingest. A batch
// is one WriteBatch with one fsync; a single save (or a file) is one Write
// with one fsync. Segments are the engine WAL's size, so the peer pays the
// same in-memory segment buffer growth the engine does. It answers no
// reads.
func walPeer() Contender {
	return Contender{
		Name: "tidwall/wal", Kind: kindPeer, Persistent: true,
		About:     "raw tidwall/wal, binary format, 4 MiB segments (as the engine's WAL), fsync on every Write/WriteBatch, the JSON of each event as an entry; a file is one entry",
		Available: func() error { return nil },
		Open: func(ctx context.Context, dir string, _ *slog.Logger) (Store, error) {
			l, err := wal.Open(dir, &wal.Options{
				NoSync: false, SegmentSize: segment.DefaultWALSegmentSize, LogFormat: wal.Binary,
				SegmentCacheSize: 2, NoCopy: true, DirPerms: 0o750, FilePerms: 0o640,
			})
			if err != nil {
				return nil, fmt.Errorf("bench: wal: %w", err)
			}
			last, err := l.LastIndex()
			if err != nil {
				_ = l.Close()
				return nil, fmt.Errorf("bench: wal: %w", err)
			}
			s := &walStore{log: l}
			s.mu.next = last + 1
			return s, nil
		},
	}
}

type walStore struct {
	log *wal.Log
	// mu serializes appends: tidwall/wal needs indexes in order, so writers
	// take the next index and write under it.
	mu struct {
		sync.Mutex
		next  uint64 // the next entry's index
		batch wal.Batch
	}
}

func (s *walStore) SaveBatch(ctx context.Context, b *Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.batch.Clear()
	n := s.mu.next
	for _, e := range b.Enc {
		s.mu.batch.Write(n, e)
		n++
	}
	if err := s.log.WriteBatch(&s.mu.batch); err != nil {
		return fmt.Errorf("bench: wal: %w", err)
	}
	s.mu.next = n
	return nil
}

func (s *walStore) Save(ctx context.Context, it *Item) error { return s.write(it.Encoded()) }

// SaveFile appends the file's bytes as one entry, fsynced.
func (s *walStore) SaveFile(ctx context.Context, it *Item) error { return s.write(it.File) }

func (s *walStore) write(b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.log.Write(s.mu.next, b); err != nil {
		return fmt.Errorf("bench: wal: %w", err)
	}
	s.mu.next++
	return nil
}

func (s *walStore) Close(context.Context) error { return s.log.Close() }
