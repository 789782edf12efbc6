package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/internal/fsutil"
	"github.com/trovedb/trove/segment"
)

// seal writes the memtable's records into a segment file, switches readers
// to it, snapshots the index and only then truncates the sealed entries off
// the WAL. A crash at any step leaves a state recovery handles: a
// temporary file (removed), a segment whose entries are still in the WAL
// (Meta.LastWALIndex says they are sealed), an older snapshot (the log
// after it is replayed).
func (s *Store) seal() error {
	m := s.w.mem
	if len(m.records) == 0 {
		return nil
	}
	path := filepath.Join(s.segDir(), fmt.Sprintf("%020d.seg", m.firstWAL))
	meta := segment.Meta{FirstWALIndex: m.firstWAL, LastWALIndex: m.lastWAL}
	err := segment.WriteSegment(path, meta, m.records, segment.SegmentOptions{BlockSize: s.opts.BlockSize, Level: s.opts.CompressionLevel})
	if err != nil {
		return fmt.Errorf("engine: seal: %w", err)
	}
	s.crashPoint("seal:segment-written")
	seg, err := segment.OpenSegment(path)
	if err != nil {
		return fmt.Errorf("engine: seal: %w", err)
	}
	s.stats.fsyncs.Add(2)
	s.stats.bytesWritten.Add(uint64(seg.Size()))
	s.addSegment(path, seg)
	s.w.mem = &memtable{first: s.w.last + 1}
	s.publish()
	// A snapshot costs O(index); take one when the log it saves replaying
	// has grown by a quarter (at least 256k events), or when the last one
	// does not end at a segment boundary (then recovery could not replay
	// whole segments after it once the WAL is truncated).
	if !s.w.snapAtSeal || s.w.last-s.w.snapLast >= max(1<<18, s.w.last/4) {
		if err := s.writeSnapshot(); err != nil {
			return err
		}
		s.w.snapAtSeal = true
	}
	s.crashPoint("seal:snapshot-written")
	if err := s.wal.TruncateFront(m.lastWAL + 1); err != nil {
		return fmt.Errorf("engine: seal: %w", err)
	}
	if s.srch != nil {
		s.srch.notify()
	}
	return nil
}

func (s *Store) addSegment(path string, seg *segment.Segment) {
	s.w.nextSegID++
	s.stats.segments.Add(1)
	sg := newSealed(s.w.nextSegID, path, seg)
	s.w.segs = append(s.w.segs, sg)
	if sg.hasEvents() {
		s.w.evSegs = append(s.w.evSegs, sg)
	}
}

// crashPoint calls the test hook at a named point of a multi-step write,
// where a crash must leave a recoverable state.
func (s *Store) crashPoint(name string) {
	if s.hook != nil {
		s.hook(name)
	}
}

// snapMeta is the engine's part of an index snapshot.
type snapMeta struct {
	WALIndex   uint64                   `json:"walIndex"` // last WAL entry the snapshot includes
	Last       uint64                   `json:"last"`     // last event position
	Schemas    []json.RawMessage        `json:"schemas"`  // the schema dictionary, by number
	Registered []trove.RegisteredSchema `json:"registered"`
}

// writeSnapshot publishes an index snapshot of the writer's state. Only the
// writer (or Close, after it stopped) calls it.
func (s *Store) writeSnapshot() error {
	sm := snapMeta{WALIndex: s.wal.NextIndex() - 1, Last: s.w.last}
	for _, sc := range s.w.schemas {
		sm.Schemas = append(sm.Schemas, sc.Raw())
	}
	s.regMu.RLock()
	sm.Registered = append([]trove.RegisteredSchema(nil), s.registered...)
	s.regMu.RUnlock()
	meta, err := json.Marshal(sm)
	if err != nil {
		return fmt.Errorf("engine: snapshot: %w", err)
	}
	var buf bytes.Buffer
	if err := s.ix.Encode(&buf, meta); err != nil {
		return err
	}
	if err := fsutil.WriteFileBytes(s.snapPath(), buf.Bytes(), 0o640); err != nil {
		return fmt.Errorf("engine: snapshot: %w", err)
	}
	s.stats.fsyncs.Add(2)
	s.stats.bytesWritten.Add(uint64(buf.Len()))
	s.w.snapLast = s.w.last
	s.w.snapAtSeal = false // a seal sets it after a snapshot it takes
	return nil
}

// removeLeftovers deletes temporary files a crash left in dir.
func removeLeftovers(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if len(e.Name()) > 0 && e.Name()[0] == '.' && !e.IsDir() {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}
