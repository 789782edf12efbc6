package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// diskPeer is the disk itself: the same encoded bytes appended to a plain
// file with one fdatasync per batch, and, for single saves, each writer
// appending to its own file with one fdatasync per event. Nothing can
// store durably faster than this on the machine.
func diskPeer() Contender {
	return Contender{
		Name: "disk", Kind: kindPeer, Persistent: true,
		About:     "the data directory's disk: append the encoded bytes to a file, fdatasync per batch (per event for single saves, one file per writer; per file for file saves)",
		Available: func() error { return nil },
		Open: func(ctx context.Context, dir string, _ *slog.Logger) (Store, error) {
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return nil, err
			}
			f, err := os.OpenFile(filepath.Join(dir, "log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
			if err != nil {
				return nil, err
			}
			return &diskStore{dir: dir, main: f, free: make(chan *os.File, 1024)}, nil
		},
	}
}

type diskStore struct {
	dir   string
	mu    sync.Mutex // guards main
	main  *os.File
	buf   []byte
	free  chan *os.File // per-writer files for single saves, reused
	n     sync.Mutex    // guards files
	files int
	fmu   sync.Mutex // guards blobs
	blobs *os.File   // the files' bytes, opened on the first SaveFile
}

func (s *diskStore) SaveBatch(ctx context.Context, b *Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf = s.buf[:0]
	for _, e := range b.Enc {
		s.buf = append(s.buf, e...)
		s.buf = append(s.buf, '\n')
	}
	if _, err := s.main.Write(s.buf); err != nil {
		return err
	}
	return fdatasync(s.main)
}

func (s *diskStore) Save(ctx context.Context, it *Item) error {
	var f *os.File
	select {
	case f = <-s.free:
	default:
		s.n.Lock()
		s.files++
		name := filepath.Join(s.dir, fmt.Sprintf("writer-%d", s.files))
		s.n.Unlock()
		var err error
		if f, err = os.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640); err != nil {
			return err
		}
	}
	defer func() { s.free <- f }()
	b := append(append([]byte(nil), it.Encoded()...), '\n')
	if _, err := f.Write(b); err != nil {
		return err
	}
	return fdatasync(f)
}

// SaveFile appends the file's bytes to one file of files with one
// fdatasync: the floor under any durable small-file store.
func (s *diskStore) SaveFile(ctx context.Context, it *Item) error {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	if s.blobs == nil {
		f, err := os.OpenFile(filepath.Join(s.dir, "files"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
		if err != nil {
			return err
		}
		s.blobs = f
	}
	if _, err := s.blobs.Write(it.File); err != nil {
		return err
	}
	return fdatasync(s.blobs)
}

func (s *diskStore) Close(context.Context) error {
	close(s.free)
	for f := range s.free {
		_ = f.Close()
	}
	if s.blobs != nil {
		_ = s.blobs.Close()
	}
	return s.main.Close()
}

// DiskStats are the raw numbers of the data directory's disk.
type DiskStats struct {
	SeqWriteMBps float64 `json:"seqWriteMBps"` // sequential write of 1 MiB blocks then one fsync
	FsyncP50Ms   float64 `json:"fsyncP50Ms"`   // 4 KiB append + fdatasync
	FsyncP99Ms   float64 `json:"fsyncP99Ms"`
	FsyncSamples int     `json:"fsyncSamples"`
	Error        string  `json:"error,omitempty"`
}

// measureDisk measures sequential write + fsync bandwidth (mib MiB written
// then one fsync) and the latency of a small append + fdatasync (samples
// of them) in dir.
func measureDisk(dir string, mib, samples int) DiskStats {
	var st DiskStats
	if err := os.MkdirAll(dir, 0o750); err != nil {
		st.Error = err.Error()
		return st
	}
	defer os.RemoveAll(dir)
	f, err := os.Create(filepath.Join(dir, "seq"))
	if err != nil {
		st.Error = err.Error()
		return st
	}
	block := make([]byte, 1<<20)
	for i := range block {
		block[i] = byte(i * 31)
	}
	t0 := time.Now()
	for i := 0; i < mib; i++ {
		if _, err := f.Write(block); err != nil {
			st.Error = err.Error()
			f.Close()
			return st
		}
	}
	if err := f.Sync(); err != nil {
		st.Error = err.Error()
	}
	st.SeqWriteMBps = float64(mib) * (1 << 20) / 1e6 / time.Since(t0).Seconds()
	f.Close()

	g, err := os.Create(filepath.Join(dir, "fsync"))
	if err != nil {
		st.Error = err.Error()
		return st
	}
	defer g.Close()
	small := block[:4096]
	var lat []time.Duration
	for i := 0; i < samples; i++ {
		t := time.Now()
		if _, err := g.Write(small); err != nil {
			st.Error = err.Error()
			break
		}
		if err := fdatasync(g); err != nil {
			st.Error = err.Error()
			break
		}
		lat = append(lat, time.Since(t))
	}
	p := percentiles(lat)
	st.FsyncP50Ms, st.FsyncP99Ms, st.FsyncSamples = p.P50Ms, p.P99Ms, len(lat)
	return st
}
