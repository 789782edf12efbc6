package engine

import (
	"bytes"
	"fmt"
	"io"
	"path/filepath"
	"slices"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/index"
	"github.com/trovedb/trove/internal/fsutil"
)

// Id runs (index.IDRun, index/IDRUN.md) merge the id sections of
// consecutive segment indexes, so that a lookup of an id that is not in
// the head reads a few runs instead of every segment. They live beside the
// segments as segments/ids-<first>-<last>.run (positions, ten digits each).
//
// The writer plans merges by size tier: a source (a run, or a segment index
// no run covers) of n positions is in tier 0 below idTierBase·idMergeFan,
// tier 1 below idTierBase·idMergeFan², and so on. When the newest
// idMergeFan sources or more share a tier, a background goroutine merges
// them into one run (published atomically), and the writer swaps it in and
// deletes the runs it replaces. A lookup then reads at most about
// idMergeFan sources per tier: a handful at any size.
//
// Runs are derived data. Open uses the longest chain of runs from
// position 1 that ends on segment boundaries and removes every other run
// file (leftovers of a merge cut short, or of one that replaced them); a
// damaged run is removed too and merged again later. Check compares each
// run with the merge of the segment indexes it covers, in the run's own
// format version (runs of version 1 are read as they are).
const (
	idMergeFan = 8
	idTierBase = 1 << 16
)

// idMerge is one background merge.
type idMerge struct {
	keep []*index.IDRun // the runs before the merged sources, kept
	gone []*index.IDRun // the merged runs, replaced
	srcs []index.IDSourceOf
	path string
	run  *index.IDRun // the result, nil on error
	err  error
}

func idRunName(first, last uint32) string { return runName("ids-", first, last) }

// parseIDRunName returns the positions an id run's file name covers.
func parseIDRunName(name string) (first, last uint32, ok bool) { return parseRunName("ids-", name) }

// chooseIDRuns opens the chain of id runs of a store whose sealed
// segments holding events are segs. It changes nothing: useIDRuns does.
func (s *Store) chooseIDRuns(segs []*sealed) runChoice[*index.IDRun] {
	return chooseRuns(s, segs, "ids-", "id run", func(path string, f runFile) (*index.IDRun, error) {
		r, err := s.loadIDRun(path)
		if err == nil {
			if err = idRunFits(path, f, r); err != nil {
				r.Close()
			}
		}
		return r, err
	})
}

// useIDRuns makes c's runs the store's and its index's, once the sealed
// segments are open and before the index is used, and removes the run
// files not used (a read-only store removes nothing).
func (s *Store) useIDRuns(c runChoice[*index.IDRun]) {
	s.w.idRuns = c.runs
	s.w.idRunDamage = append(s.w.idRunDamage, c.damage...)
	if s.ix != nil {
		s.ix.SetIDRuns(s.w.idRuns)
	}
	s.removeUnused(c.unused, "id run")
}

// idRunFits checks that the run read from f covers the positions f's
// name says.
func idRunFits(path string, f runFile, r *index.IDRun) error {
	if r.First() != f.first || r.Last() != f.last {
		return &trove.CorruptionError{File: path, Offset: 12, Reason: fmt.Sprintf("engine: id run covers positions %d-%d, its name %d-%d", r.First(), r.Last(), f.first, f.last)}
	}
	return nil
}

func (s *Store) loadIDRun(path string) (*index.IDRun, error) {
	if s.opts.NoMmap {
		return index.ReadIDRun(path)
	}
	return index.OpenIDRun(path)
}

// idTier returns the size tier of a source of n positions.
func idTier(n uint64) int {
	t := 0
	for lim := uint64(idTierBase * idMergeFan); n >= lim; lim *= idMergeFan {
		t++
	}
	return t
}

// maybeMergeIDs starts a background merge when one is due and none runs
// (writer).
func (s *Store) maybeMergeIDs() {
	if s.readOnly || s.w.idMerging || s.w.closing {
		return
	}
	m := s.planIDMerge()
	if m == nil {
		return
	}
	s.w.idMerging = true
	s.crashPoint("idrun:writing")
	go func() {
		err := fsutil.WriteFileAtomic(m.path, 0o640, func(w io.Writer) error { return index.MergeIDRuns(w, m.srcs...) })
		index.DropResident(m.srcs...)
		if err == nil {
			m.run, err = s.loadIDRun(m.path)
		}
		if err != nil {
			m.err = fmt.Errorf("engine: merge id runs: %w", err)
		}
		s.idMerged <- m
	}()
}

// planIDMerge returns the merge due now, or nil.
func (s *Store) planIDMerge() *idMerge {
	type src struct {
		first, last uint32
		run         *index.IDRun
		seg         *index.SegIndex
	}
	var srcs []src
	var upTo uint32
	for _, r := range s.w.idRuns {
		srcs = append(srcs, src{first: r.First(), last: r.Last(), run: r})
		upTo = r.Last()
	}
	for _, sg := range s.w.evSegs {
		if uint32(sg.meta.LastPosition) <= upTo {
			continue
		}
		ix := sg.idx.Load()
		if ix == nil || ix.First() != upTo+1 {
			break // the sources end at a segment without an index
		}
		srcs = append(srcs, src{first: ix.First(), last: ix.Last(), seg: ix})
		upTo = ix.Last()
	}
	if len(srcs) < idMergeFan {
		return nil
	}
	size := func(x src) uint64 { return uint64(x.last-x.first) + 1 }
	tier := idTier(size(srcs[len(srcs)-1]))
	from := len(srcs) - 1
	for from > 0 && idTier(size(srcs[from-1])) == tier {
		from--
	}
	if len(srcs)-from < idMergeFan {
		return nil
	}
	merged := srcs[from:]
	if uint64(merged[len(merged)-1].last-merged[0].first)+1 > index.MaxIDRunEntries {
		return nil // runs this large stay as they are
	}
	m := &idMerge{keep: slices.Clone(s.w.idRuns[:min(from, len(s.w.idRuns))]),
		path: filepath.Join(s.segDir(), idRunName(merged[0].first, merged[len(merged)-1].last))}
	for _, x := range merged {
		if x.run != nil {
			m.gone = append(m.gone, x.run)
			m.srcs = append(m.srcs, index.RunSource(x.run))
		} else {
			m.srcs = append(m.srcs, index.SegSource(x.seg))
		}
	}
	return m
}

// finishIDMerge swaps a finished merge's run in (writer): the index reads
// it from now on, and the runs it replaces are closed and removed.
func (s *Store) finishIDMerge(m *idMerge) {
	s.w.idMerging = false
	if m.err != nil {
		s.logger.Error("id run merge failed; lookups read the segment indexes", "err", m.err)
		return
	}
	s.crashPoint("idrun:written")
	s.stats.fsyncs.Add(2)
	s.stats.bytesWritten.Add(uint64(m.run.Size()))
	s.w.idRuns = append(m.keep, m.run)
	s.ix.SetIDRuns(s.w.idRuns)
	dropRuns(s, m.gone, "ids-", "id run")
	s.maybeMergeIDs()
}

// dropMappedPages releases the pages of the id runs' and the segment
// indexes' memory maps that reads touched since the last seal: the runs'
// filters (lookups read the runs' entries from their files), the columns
// the search indexer reads for sealed events, postings that queries read.
// They stay in the page cache (a read faults them back in without I/O);
// the process's resident memory then holds what one seal interval's reads
// touch, not what every read since the store opened did.
func (s *Store) dropMappedPages() {
	for _, r := range s.w.idRuns {
		index.DropResident(index.RunSource(r))
	}
	for _, r := range s.w.keyRuns {
		r.DropResident()
	}
	for _, sg := range s.w.evSegs {
		if ix := sg.idx.Load(); ix != nil {
			index.DropResident(index.SegSource(ix))
		}
	}
}

// waitIDMerge waits for a running merge and completes it (writer, at
// close).
func (s *Store) waitIDMerge() {
	if s.w.idMerging {
		s.finishIDMerge(<-s.idMerged)
	}
}

// closeIDRuns closes the open id runs.
func (s *Store) closeIDRuns() error {
	err := closeRuns(s.w.idRuns)
	s.w.idRuns = nil
	return err
}

// checkIDRuns compares each id run of the chain Open would use with the
// merge of the segment indexes it covers (their files were compared with
// their segments just before). A run that does not decode is repairable
// (Open removes it and merges again); one that decodes but differs is a
// problem. A run a concurrent merge replaced is skipped.
func (s *Store) checkIDRuns(v *view, rep *Report, problem func(error)) {
	ends := map[uint32]bool{}
	byFirst := map[uint32]*sealed{}
	for _, sg := range v.segs {
		if sg.idx.Load() != nil {
			ends[uint32(sg.meta.LastPosition)] = true
			byFirst[uint32(sg.meta.FirstPosition)] = sg
		}
	}
	rep.IDRuns = s.checkRuns(rep, problem, ends, "ids-", "merges the segment indexes again", func(path string, f runFile, data []byte) (bool, error) {
		run, err := index.DecodeIDRun(path, data)
		if err == nil {
			err = idRunFits(path, f, run)
		}
		if err != nil {
			return false, err
		}
		var srcs []index.IDSourceOf
		for p := f.first; p <= f.last; {
			sg := byFirst[p]
			if sg == nil {
				return false, nil // a segment index is missing: Open rebuilds it
			}
			srcs = append(srcs, index.SegSource(sg.idx.Load()))
			p = uint32(sg.meta.LastPosition) + 1
		}
		var buf bytes.Buffer
		if err := index.MergeIDRunsVersion(&buf, run.Version(), srcs...); err != nil {
			problem(fmt.Errorf("engine: check %s: %w", path, err))
			return false, nil
		}
		if !bytes.Equal(buf.Bytes(), data) {
			problem(&trove.CorruptionError{File: path, Offset: -1, Reason: "engine: the id run disagrees with the segment indexes it merges"})
			return false, nil
		}
		return true, nil
	})
}
