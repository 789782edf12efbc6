package engine

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

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

func idRunName(first, last uint32) string { return fmt.Sprintf("ids-%010d-%010d.run", first, last) }

// parseIDRunName returns the positions an id run's file name covers.
func parseIDRunName(name string) (first, last uint32, ok bool) {
	rest, found := strings.CutPrefix(name, "ids-")
	if !found {
		return 0, 0, false
	}
	rest, found = strings.CutSuffix(rest, ".run")
	a, b, cut := strings.Cut(rest, "-")
	if !found || !cut || len(a) != 10 || len(b) != 10 {
		return 0, 0, false
	}
	f, err1 := strconv.ParseUint(a, 10, 32)
	l, err2 := strconv.ParseUint(b, 10, 32)
	if err1 != nil || err2 != nil || f == 0 || l < f {
		return 0, 0, false
	}
	return uint32(f), uint32(l), true
}

// idRunChoice is the chain of id runs recovery uses (see above), and what
// chooseIDRuns found besides.
type idRunChoice struct {
	runs   []*index.IDRun
	damage []error  // runs of the chain that did not open
	unused []string // run files not in the chain
}

// chooseIDRuns opens the chain of id runs of a store whose sealed
// segments holding events are segs. It changes nothing: useIDRuns does.
func (s *Store) chooseIDRuns(segs []*sealed) idRunChoice {
	var c idRunChoice
	ends := map[uint32]bool{}
	for _, sg := range segs {
		ends[uint32(sg.meta.LastPosition)] = true
	}
	files, err := idRunFiles(s.segDir())
	if err != nil {
		s.logger.Warn("cannot list the id runs", "err", err)
		return c
	}
	used := map[string]bool{}
	idRunChain(files, ends, func(f idRunFile) bool {
		path := filepath.Join(s.segDir(), f.name)
		r, err := s.loadIDRun(path)
		if err == nil {
			if err = f.fits(path, r); err != nil {
				r.Close()
			}
		}
		if err != nil {
			s.logger.Warn("damaged id run; it is merged again later", "err", err)
			c.damage = append(c.damage, err)
			return false
		}
		c.runs = append(c.runs, r)
		used[f.name] = true
		return true
	})
	for _, f := range files {
		if !used[f.name] {
			c.unused = append(c.unused, f.name)
		}
	}
	return c
}

// useIDRuns makes c's runs the store's and its index's, once the sealed
// segments are open and before the index is used, and removes the run
// files not used (a read-only store removes nothing).
func (s *Store) useIDRuns(c idRunChoice) {
	s.w.idRuns = c.runs
	s.w.idRunDamage = append(s.w.idRunDamage, c.damage...)
	if s.ix != nil {
		s.ix.SetIDRuns(s.w.idRuns)
	}
	if s.readOnly {
		return
	}
	for _, name := range c.unused {
		if err := os.Remove(filepath.Join(s.segDir(), name)); err != nil {
			s.logger.Warn("cannot remove an unused id run", "err", err)
		}
	}
}

// idRunFile is an id run's file name and the positions it names.
type idRunFile struct {
	name        string
	first, last uint32
}

// fits checks that the run read from f covers the positions f's name
// says.
func (f idRunFile) fits(path string, r *index.IDRun) error {
	if r.First() != f.first || r.Last() != f.last {
		return &trove.CorruptionError{File: path, Offset: 12, Reason: fmt.Sprintf("engine: id run covers positions %d-%d, its name %d-%d", r.First(), r.Last(), f.first, f.last)}
	}
	return nil
}

// idRunFiles lists the id run files in dir by first position, the longest
// first among those starting at one position.
func idRunFiles(dir string) ([]idRunFile, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files []idRunFile
	for _, e := range ents {
		if f, l, ok := parseIDRunName(e.Name()); ok && !e.IsDir() {
			files = append(files, idRunFile{e.Name(), f, l})
		}
	}
	slices.SortFunc(files, func(a, b idRunFile) int {
		if a.first != b.first {
			return cmp.Compare(a.first, b.first)
		}
		return cmp.Compare(b.last, a.last)
	})
	return files, nil
}

// idRunChain walks the runs among files (idRunFiles) that a store whose
// segments end at the positions in ends uses: from position 1, at each
// step the longest run that accept takes (it opens or checks the run and
// reports whether it is sound).
func idRunChain(files []idRunFile, ends map[uint32]bool, accept func(idRunFile) bool) {
	var upTo uint32
	for _, f := range files {
		if f.first == upTo+1 && ends[f.last] && accept(f) {
			upTo = f.last
		}
	}
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
	// No lookup reads the replaced runs any more: SetIDRuns waited for
	// the index's readers.
	for _, r := range m.gone {
		path := filepath.Join(s.segDir(), idRunName(r.First(), r.Last()))
		r.Close()
		if err := os.Remove(path); err != nil {
			s.logger.Warn("cannot remove a replaced id run", "err", err)
		}
	}
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
	var errs []error
	for _, r := range s.w.idRuns {
		errs = append(errs, r.Close())
	}
	s.w.idRuns = nil
	return errors.Join(errs...)
}

// checkIDRuns compares each id run of the chain Open would use with the
// merge of the segment indexes it covers (their files were compared with
// their segments just before). A run that does not decode is repairable
// (Open removes it and merges again); one that decodes but differs is a
// problem. A run a concurrent merge replaced is skipped.
func (s *Store) checkIDRuns(v *view, rep *Report, problem func(error)) {
	files, err := idRunFiles(s.segDir())
	if err != nil {
		problem(fmt.Errorf("engine: check id runs: %w", err))
		return
	}
	ends := map[uint32]bool{}
	byFirst := map[uint32]*sealed{}
	for _, sg := range v.segs {
		if sg.idx.Load() != nil {
			ends[uint32(sg.meta.LastPosition)] = true
			byFirst[uint32(sg.meta.FirstPosition)] = sg
		}
	}
	idRunChain(files, ends, func(f idRunFile) bool {
		path := filepath.Join(s.segDir(), f.name)
		data, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			return false
		}
		if err != nil {
			problem(fmt.Errorf("engine: check: %w", err))
			return false
		}
		run, err := index.DecodeIDRun(path, data)
		if err == nil {
			err = f.fits(path, run)
		}
		if err != nil {
			rep.Repairable = append(rep.Repairable, fmt.Sprintf("%v (the next open removes it and merges the segment indexes again)", err))
			return false
		}
		var srcs []index.IDSourceOf
		for p := f.first; p <= f.last; {
			sg := byFirst[p]
			if sg == nil {
				srcs = nil
				break
			}
			srcs = append(srcs, index.SegSource(sg.idx.Load()))
			p = uint32(sg.meta.LastPosition) + 1
		}
		// Open uses the run from here on, sound or not.
		if srcs == nil {
			return true // a segment index is missing: Open rebuilds it
		}
		var buf bytes.Buffer
		if err := index.MergeIDRunsVersion(&buf, run.Version(), srcs...); err != nil {
			problem(fmt.Errorf("engine: check %s: %w", path, err))
			return true
		}
		if !bytes.Equal(buf.Bytes(), data) {
			problem(&trove.CorruptionError{File: path, Offset: -1, Reason: "engine: the id run disagrees with the segment indexes it merges"})
			return true
		}
		rep.IDRuns++
		return true
	})
}
