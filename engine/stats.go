package engine

import (
	"sync/atomic"
	"time"
)

// counters are the store's running figures, read by Stats.
type counters struct {
	fsyncs       atomic.Uint64 // fsyncs requested: one per group commit, two per published file
	bytesWritten atomic.Uint64 // WAL bytes appended plus segment and snapshot files published
	readers      atomic.Int64  // read calls in flight
	segments     atomic.Int64  // sealed segment files open
	saving       atomic.Int64  // SaveEvent, SaveEvents and Tx.Commit calls in flight
	saveNanos    atomic.Int64  // their time and SaveFile's, summed over calls, once each returned
	sealWaits    atomic.Uint64 // times the writer waited for a seal (maybeSeal)
	stallMax     atomic.Int64  // the longest stop of the writer for a snapshot or a seal's start or end, in ns
	idxRepairs   atomic.Uint64 // segment indexes found damaged and rebuilt since Open
	idxUnchecked atomic.Int64  // segment indexes checkSegIndexes has yet to check
}

// stalled records a stop of the writer that began at start.
func (s *Store) stalled(start time.Time) {
	d := int64(time.Since(start))
	for {
		cur := s.stats.stallMax.Load()
		if d <= cur || s.stats.stallMax.CompareAndSwap(cur, d) {
			return
		}
	}
}

// saveBegin counts a save call in flight until saveEnd; saveEnd adds its
// time to saveNanos, the search indexer's measure of ingest load.
func (s *Store) saveBegin() time.Time {
	s.stats.saving.Add(1)
	return time.Now()
}

func (s *Store) saveEnd(start time.Time) {
	s.addSaveTime(start)
	s.stats.saving.Add(-1)
}

// addSaveTime adds the time since start to saveNanos.
func (s *Store) addSaveTime(start time.Time) { s.stats.saveNanos.Add(int64(time.Since(start))) }

// Stats returns the store's figures, read at the moment of the call:
//
//	fsyncs         fsyncs since Open: one per group commit (none in SyncNone
//	               mode), two per published segment or snapshot (file, directory)
//	bytes_written  bytes written since Open: WAL entries, segment and snapshot files
//	index_lag      committed events the background search index has not
//	               indexed yet (0 when searchIndex is "off")
//	open_readers   read calls in flight (gets, queries, replays, checks, …)
//	events         the last committed event position (the number of events)
//	segments       sealed segment files
//	wal_bytes      bytes in the WAL's files (the unsealed part of the log)
//	seal_waits     times appends waited for a running seal because the
//	               unsealed part reached twice segmentSize (backpressure)
//	writer_stall_max_seconds
//	               the longest time the writer stopped for a seal's start
//	               (with the index snapshot it may take) or end
//	segment_index_repairs
//	               segment indexes found damaged (or missing) and rebuilt
//	               from their segments since Open, by Open or by the check
//	               that follows it
//	segment_indexes_unchecked
//	               segment indexes whose lookup sections the check that
//	               follows Open has yet to read (0 once it is done)
//	segment_read_bytes
//	               memory the sealed segments hold for reads: the block
//	               table summary and dictionary of each segment a read has
//	               needed since Open (none of a segment no read touched;
//	               the search indexer's reads keep none)
//
// After Close every figure keeps its last value.
func (s *Store) Stats() map[string]float64 {
	v := s.view.Load()
	lag := 0.0
	if s.srch != nil {
		lag = float64(v.last - min(v.last, uint64(s.srch.UpTo())))
	}
	var segRead int64
	for _, sg := range v.segs {
		segRead += sg.seg.ReadMemory()
	}
	return map[string]float64{
		"fsyncs":                    float64(s.stats.fsyncs.Load()),
		"bytes_written":             float64(s.stats.bytesWritten.Load()),
		"index_lag":                 lag,
		"open_readers":              float64(s.stats.readers.Load()),
		"events":                    float64(v.last),
		"segments":                  float64(s.stats.segments.Load()),
		"wal_bytes":                 float64(s.wal.Size()),
		"seal_waits":                float64(s.stats.sealWaits.Load()),
		"writer_stall_max_seconds":  time.Duration(s.stats.stallMax.Load()).Seconds(),
		"segment_index_repairs":     float64(s.stats.idxRepairs.Load()),
		"segment_indexes_unchecked": float64(s.stats.idxUnchecked.Load()),
		"segment_read_bytes":        float64(segRead),
	}
}

// leave ends a call admitted by enter.
func (s *Store) leave(write bool) {
	if !write {
		s.stats.readers.Add(-1)
	}
	s.inflight.Done()
}
