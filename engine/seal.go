package engine

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/index"
	"github.com/trovedb/trove/internal/fsutil"
	"github.com/trovedb/trove/segment"
)

// Sealing runs beside the writer, so that appends never wait for zstd:
//
//  1. startSeal (writer, when the unsealed records exceed SegmentSize and
//     no seal is running) hands the memtable's records to a goroutine and
//     starts a new record list; readers keep reading the handed-over
//     events from memory. When one is due it first publishes an index
//     snapshot at this boundary.
//  2. The goroutine writes the segment file (atomic publish) and opens it.
//  3. finishSeal (writer, when the goroutine reports) switches readers to
//     the segment, drops the sealed events from memory and only then
//     has the sealed entries' WAL files removed (dropSealedWAL).
//
// A crash at any step leaves a state recovery handles: a temporary file
// (removed), a segment whose entries are still in the WAL
// (Meta.LastWALIndex says they are sealed), a snapshot older than the log
// (the log after it is replayed). A failed seal gives its records back to
// the memtable; the next seal retries them.

// sealJob is the part of the log one seal writes.
type sealJob struct {
	records           []segment.Record
	bytes             int64
	firstWAL, lastWAL uint64
	events            int // event records among records
	path              string
	snap              *snapshot        // the index snapshot to publish first, nil for none
	snapErr           error            // why publishing snap failed
	seg               *segment.Segment // the opened segment, once written
	idx               *index.SegIndex  // its index, once written (nil when that failed)
	err               error
}

// maybeSeal starts a seal when the unsealed records are due and none runs.
// When appends outrun sealing, so that the unsealed records reach twice
// SegmentSize while a seal still runs, the writer first waits for that seal:
// memory then stays bounded by about three segments whatever the ingest
// rate (backpressure; Stats counts the waits as seal_waits).
func (s *Store) maybeSeal() {
	if s.w.sealing && s.w.mem.bytes >= 2*s.opts.SegmentSize {
		s.stats.sealWaits.Add(1)
		s.waitSeal()
	}
	if s.w.sealing || s.w.mem.bytes < s.opts.SegmentSize || len(s.w.mem.records) == 0 {
		return
	}
	defer s.stalled(time.Now())
	m := s.w.mem
	job := &sealJob{records: m.records, bytes: m.bytes, firstWAL: m.firstWAL, lastWAL: m.lastWAL,
		path: filepath.Join(s.segDir(), fmt.Sprintf("%020d.seg", m.firstWAL))}
	// A snapshot is taken when the log it saves replaying after a crash
	// has grown by half (at least 1M events), or when the last one does
	// not end at a segment boundary (then recovery could not replay whole
	// segments after it once the WAL files go). It is taken here, where
	// the log ends exactly at the boundary: the writer only freezes the
	// index (index.Index.Freeze), and the seal's goroutine encodes and
	// publishes it before the segment, so it is durable before any WAL
	// file of the segment goes. A clean Close always leaves a snapshot of
	// everything.
	if !s.w.snapAtSeal || s.w.last-s.w.snapLast >= max(1<<20, s.w.last/2) {
		if snap, err := s.freezeSnapshot(); err != nil {
			s.logger.Error("snapshot failed", "err", err)
		} else {
			job.snap = snap
		}
	}
	for i := range job.records {
		if job.records[i].Type == recEvent {
			job.events++
		}
	}
	m.records, m.bytes, m.firstWAL, m.lastWAL = nil, 0, 0, 0
	s.w.sealing = true
	opts := segment.SegmentOptions{BlockSize: s.opts.BlockSize, Codec: s.opts.Compression, Level: s.opts.CompressionLevel}
	// The segment index is built on the seal's goroutine from what the
	// writer hands over now: the schema dictionary and the index's columns
	// (append-only prefixes that hold every sealed event).
	schemas := s.w.schemas[:len(s.w.schemas):len(s.w.schemas)]
	var cols index.Columns
	s.ix.Read(func(r index.Reader) { cols = r.Columns() })
	go func() {
		if job.snap != nil {
			job.snapErr = s.publishSnapshot(job.snap)
		}
		s.crashPoint("seal:snapshot-written") // on the seal's goroutine, as the rest
		s.crashPoint("seal:writing")
		meta := segment.Meta{FirstWALIndex: job.firstWAL, LastWALIndex: job.lastWAL}
		if err := segment.WriteSegment(job.path, meta, job.records, opts); err != nil {
			job.err = fmt.Errorf("engine: seal: %w", err)
		} else if job.seg, err = segment.OpenSegmentCached(job.path, s.cache.tables); err != nil {
			job.err = fmt.Errorf("engine: seal: %w", err)
		} else if job.events > 0 {
			s.crashPoint("seal:index-writing")
			scan := func(fn func(segment.Record) error) error {
				for _, r := range job.records {
					if err := fn(r); err != nil {
						return err
					}
				}
				return nil
			}
			// A seal without its index still succeeds: the next Open
			// rebuilds the index from the segment.
			m := job.seg.Meta()
			job.idx, err = writeSegIndex(segIndexPath(job.path), m.FirstPosition, m.LastPosition, scan, schemas, cols.Prev, false, s.opts.NoMmap)
			if err != nil {
				s.logger.Error("cannot write a segment index; the next open rebuilds it", "segment", job.path, "err", err)
			} else {
				// Here, not while the writer hands it over.
				s.ix.PrepareSegment(job.idx)
			}
		}
		s.sealed <- job
	}()
}

// finishSeal completes a seal on the writer: see maybeSeal.
func (s *Store) finishSeal(job *sealJob) {
	defer s.stalled(time.Now())
	s.w.sealing = false
	m := s.w.mem
	if job.snap != nil {
		if job.snapErr != nil {
			s.logger.Error("snapshot failed", "err", job.snapErr)
		} else {
			s.snapshotPublished(job.snap)
			s.w.snapAtSeal = true
		}
	}
	if job.err != nil {
		s.logger.Error("seal failed; the store keeps the log in the WAL", "err", job.err)
		m.records = append(job.records, m.records...)
		m.bytes += job.bytes
		m.firstWAL = job.firstWAL
		if m.lastWAL == 0 {
			m.lastWAL = job.lastWAL
		}
		return
	}
	s.crashPoint("seal:segment-written")
	s.stats.fsyncs.Add(2)
	s.stats.bytesWritten.Add(uint64(job.seg.Size()))
	if job.idx != nil {
		s.stats.fsyncs.Add(2) // its publish
		s.stats.bytesWritten.Add(uint64(job.idx.Size()))
	}
	s.addSegment(job.path, job.seg)
	s.w.segs[len(s.w.segs)-1].idx.Store(job.idx)
	s.setSegIndexes()
	s.maybeMergeIDs()
	s.maybeMergeKeys()
	s.dropMappedPages()
	// The memtable's events start with the sealed ones: drop them.
	s.w.mem = &memtable{
		first:    m.first + uint64(job.events),
		bodies:   slices.Clone(m.bodies[job.events:]),
		times:    slices.Clone(m.times[job.events:]),
		records:  m.records,
		bytes:    m.bytes,
		firstWAL: m.firstWAL,
		lastWAL:  m.lastWAL,
	}
	s.publish()
	s.dropSealedWAL(job.lastWAL + 1)
	if s.srch != nil {
		s.srch.Notify()
	}
}

// dropSealedWAL takes the sealed entries out of the WAL by whole files, on
// a goroutine of its own: the files whose entries all come before next
// are removed and the directory fsynced while the writer goes on (a
// truncation inside a file would rewrite the rest of it, with an fsync,
// while the writer waits). Sealed entries left in the file holding next
// go with a later seal; after a crash recovery skips them.
func (s *Store) dropSealedWAL(next uint64) {
	s.walDrops.Add(1)
	go func() {
		defer s.walDrops.Done()
		if _, err := s.wal.DropBefore(next); err != nil {
			s.logger.Error("cannot drop the sealed part of the WAL", "err", fmt.Errorf("engine: seal: %w", err))
		}
	}()
}

// waitSeal waits for a running seal and completes it.
func (s *Store) waitSeal() {
	if s.w.sealing {
		s.finishSeal(<-s.sealed)
	}
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

// snapshot is an index snapshot ready to encode: the index frozen at a
// moment, with the engine's state then.
type snapshot struct {
	ix   *index.Frozen
	meta []byte
	last uint64 // last event position it covers
	wal  uint64 // last WAL entry it covers
}

// freezeSnapshot freezes the writer's state for a snapshot. Only the
// writer (or Close, after it stopped) calls it.
func (s *Store) freezeSnapshot() (*snapshot, error) {
	sm := snapMeta{WALIndex: s.wal.NextIndex() - 1, Last: s.w.last}
	for _, sc := range s.w.schemas {
		sm.Schemas = append(sm.Schemas, sc.Raw())
	}
	s.regMu.RLock()
	sm.Registered = append([]trove.RegisteredSchema(nil), s.registered...)
	s.regMu.RUnlock()
	meta, err := json.Marshal(sm)
	if err != nil {
		return nil, fmt.Errorf("engine: snapshot: %w", err)
	}
	ix, err := s.ix.Freeze()
	if err != nil {
		return nil, fmt.Errorf("engine: snapshot: %w", err)
	}
	return &snapshot{ix: ix, meta: meta, last: sm.Last, wal: sm.WALIndex}, nil
}

// publishSnapshot writes snap to the snapshot file (atomic publish). It
// may run beside the writer.
func (s *Store) publishSnapshot(snap *snapshot) error {
	// Streamed into the file: a snapshot of millions of events is hundreds
	// of megabytes, not to be held twice.
	err := fsutil.WriteFileAtomic(s.snapPath(), 0o640, func(w io.Writer) error { return snap.ix.Encode(w, snap.meta) })
	if err != nil {
		return fmt.Errorf("engine: snapshot: %w", err)
	}
	s.stats.fsyncs.Add(2)
	if fi, err := os.Stat(s.snapPath()); err == nil {
		s.stats.bytesWritten.Add(uint64(fi.Size()))
	}
	return nil
}

// snapshotPublished records on the writer that snap is the latest
// snapshot.
func (s *Store) snapshotPublished(snap *snapshot) {
	s.w.snapLast, s.w.snapWAL = snap.last, snap.wal
	s.w.snapAtSeal = false // a seal sets it after a snapshot it takes
}

// writeSnapshot publishes an index snapshot of the writer's state. Only the
// writer (or Close, after it stopped) calls it.
func (s *Store) writeSnapshot() error {
	snap, err := s.freezeSnapshot()
	if err == nil {
		err = s.publishSnapshot(snap)
	}
	if err != nil {
		return err
	}
	s.snapshotPublished(snap)
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
