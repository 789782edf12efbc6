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

// Key runs (index.KeyRun, index/KEYRUN.md) hold the key filters of
// consecutive segment indexes side by side, so that a lookup of a link
// target or a payload value reads one page of a run to learn which of its
// segments may hold the key, instead of one page of each segment's own
// filter. They live beside the segments as segments/keys-<first>-<last>.run
// (positions, ten digits each).
//
// The writer plans them by segment count: a source (a run, or a segment
// index no run covers) of n segments is in tier 0 below keyMergeFan
// segments, tier 1 below keyMergeFan², and so on. The oldest keyMergeFan
// consecutive sources of one tier are built by a background goroutine
// into one run of all their segments (index.WriteKeyRun, at most
// index.MaxKeyRunSegments of them; published atomically), and the writer
// swaps it in and deletes the runs it replaces. A lookup then reads at
// most about keyMergeFan sources below the runs of
// index.MaxKeyRunSegments segments: 121 segment filters at 10M events
// become 1 run of 64 segments, 7 of 8 and at most 7 segment filters.
//
// Runs are derived data. Open uses the longest chain of runs from
// position 1 whose segments are the sealed segments' own (the same first
// positions, the run ending where a segment ends), and removes every other
// run file (leftovers of a build cut short, runs a larger one replaced,
// damage); what is missing is built again later. Check compares each run
// with the run built from the segment indexes it covers.
const keyMergeFan = 8

// keyMerge is one background build of a key run.
type keyMerge struct {
	keep  []*index.KeyRun // the runs before the merged sources, kept
	after []*index.KeyRun // the runs after them, kept
	gone  []*index.KeyRun // the runs replaced
	segs  []*index.SegIndex
	path  string
	run   *index.KeyRun // the result, nil on error
	err   error
}

func keyRunName(first, last uint32) string { return runName("keys-", first, last) }

// parseKeyRunName returns the positions a key run's file name covers.
func parseKeyRunName(name string) (first, last uint32, ok bool) { return parseRunName("keys-", name) }

// keyRunFits checks that the run read from path covers what its file
// name says, and that its segments are the sealed segments' own: byFirst
// maps the first position of each sealed segment with an index to its
// last.
func keyRunFits(path string, f runFile, r *index.KeyRun, byFirst map[uint32]uint32) error {
	if r.First() != f.first || r.Last() != f.last {
		return &trove.CorruptionError{File: path, Offset: 12, Reason: fmt.Sprintf("engine: key run covers positions %d-%d, its name %d-%d", r.First(), r.Last(), f.first, f.last)}
	}
	for i := range r.Segments() {
		p := r.SegmentFirst(i)
		last, ok := byFirst[p]
		want := r.Last()
		if i+1 < r.Segments() {
			want = r.SegmentFirst(i+1) - 1
		}
		if !ok || last != want {
			return &trove.CorruptionError{File: path, Offset: -1, Reason: fmt.Sprintf("engine: key run's segment %d (positions %d-%d) is not a sealed segment", i, p, want)}
		}
	}
	return nil
}

// chooseKeyRuns opens the chain of key runs of a store whose sealed
// segments holding events are segs. It changes nothing: useKeyRuns does.
func (s *Store) chooseKeyRuns(segs []*sealed) runChoice[*index.KeyRun] {
	byFirst := map[uint32]uint32{}
	for _, sg := range segs {
		byFirst[uint32(sg.meta.FirstPosition)] = uint32(sg.meta.LastPosition)
	}
	return chooseRuns(s, segs, "keys-", "key run", func(path string, f runFile) (*index.KeyRun, error) {
		r, err := s.loadKeyRun(path)
		if err == nil {
			if err = keyRunFits(path, f, r, byFirst); err != nil {
				r.Close()
			}
		}
		return r, err
	})
}

// useKeyRuns makes c's runs the store's and its index's, and removes the
// run files not used (a read-only store removes nothing).
func (s *Store) useKeyRuns(c runChoice[*index.KeyRun]) {
	s.w.keyRuns = c.runs
	s.w.keyRunDamage = append(s.w.keyRunDamage, c.damage...)
	if s.ix != nil {
		s.ix.SetKeyRuns(s.w.keyRuns)
	}
	s.removeUnused(c.unused, "key run")
}

func (s *Store) loadKeyRun(path string) (*index.KeyRun, error) {
	if s.opts.NoMmap {
		return index.ReadKeyRun(path)
	}
	return index.OpenKeyRun(path)
}

// keyTier returns the tier of a source of n segments.
func keyTier(n int) int {
	t := 0
	for lim := keyMergeFan; n >= lim; lim *= keyMergeFan {
		t++
	}
	return t
}

// maybeMergeKeys starts a background build of a key run when one is due
// and none runs (writer).
func (s *Store) maybeMergeKeys() {
	if s.readOnly || s.w.keyMerging || s.w.closing {
		return
	}
	m := s.planKeyMerge()
	if m == nil {
		return
	}
	s.w.keyMerging = true
	s.crashPoint("keyrun:writing")
	go func() {
		err := fsutil.WriteFileAtomic(m.path, 0o640, func(w io.Writer) error { return index.WriteKeyRun(w, m.segs) })
		if err == nil {
			m.run, err = s.loadKeyRun(m.path)
		}
		if err != nil {
			m.err = fmt.Errorf("engine: build a key run: %w", err)
		}
		s.keyMerged <- m
	}()
}

// planKeyMerge returns the build due now, or nil.
func (s *Store) planKeyMerge() *keyMerge {
	type src struct {
		segs []*index.SegIndex
		run  *index.KeyRun
	}
	var srcs []src
	var upTo uint32
	bySeg := map[uint32]*index.SegIndex{}
	for _, sg := range s.w.evSegs {
		if ix := sg.idx.Load(); ix != nil {
			bySeg[ix.First()] = ix
		}
	}
	for _, r := range s.w.keyRuns {
		x := src{run: r}
		for i := range r.Segments() {
			x.segs = append(x.segs, bySeg[r.SegmentFirst(i)])
		}
		srcs = append(srcs, x)
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
		srcs = append(srcs, src{segs: []*index.SegIndex{ix}})
		upTo = ix.Last()
	}
	// The oldest keyMergeFan consecutive sources of one tier are built
	// into one run: since older sources are of higher tiers, that keeps
	// sources few as a binary counter keeps digits few.
	for start := 0; start < len(srcs); {
		tier := keyTier(len(srcs[start].segs))
		end := start
		for end < len(srcs) && keyTier(len(srcs[end].segs)) == tier {
			end++
		}
		if end-start < keyMergeFan {
			start = end
			continue
		}
		merged := srcs[start : start+keyMergeFan]
		m := &keyMerge{}
		for _, x := range merged {
			if slices.Contains(x.segs, nil) {
				return nil // a run's segment index is being rebuilt
			}
			m.segs = append(m.segs, x.segs...)
			if x.run != nil {
				m.gone = append(m.gone, x.run)
			}
		}
		if len(m.segs) > index.MaxKeyRunSegments {
			start = end // runs this large stay as they are
			continue
		}
		runs := s.w.keyRuns
		m.keep = slices.Clone(runs[:min(start, len(runs))])
		m.after = slices.Clone(runs[min(start+len(m.gone), len(runs)):])
		m.path = filepath.Join(s.segDir(), keyRunName(m.segs[0].First(), m.segs[len(m.segs)-1].Last()))
		return m
	}
	return nil
}

// finishKeyMerge swaps a finished build's run in (writer): the index
// reads it from now on, and the runs it replaces are closed and removed.
func (s *Store) finishKeyMerge(m *keyMerge) {
	s.w.keyMerging = false
	if m.err != nil {
		s.logger.Error("key run build failed; lookups read the segment indexes' own filters", "err", m.err)
		return
	}
	s.crashPoint("keyrun:written")
	s.stats.fsyncs.Add(2)
	s.stats.bytesWritten.Add(uint64(m.run.Size()))
	s.w.keyRuns = append(append(m.keep, m.run), m.after...)
	s.ix.SetKeyRuns(s.w.keyRuns)
	dropRuns(s, m.gone, "keys-", "key run")
	s.maybeMergeKeys()
}

// waitKeyMerge waits for a running build and completes it (writer, at
// close).
func (s *Store) waitKeyMerge() {
	if s.w.keyMerging {
		s.finishKeyMerge(<-s.keyMerged)
	}
}

// closeKeyRuns closes the open key runs.
func (s *Store) closeKeyRuns() error {
	err := closeRuns(s.w.keyRuns)
	s.w.keyRuns = nil
	return err
}

// checkKeyRuns compares each key run of the chain Open would use with the
// run built from the segment indexes it covers (their files were compared
// with their segments just before). A run that does not decode, or whose
// segments are not the store's, is repairable (Open removes it and builds
// it again); one that decodes but differs is a problem.
func (s *Store) checkKeyRuns(v *view, rep *Report, problem func(error)) {
	ends := map[uint32]bool{}
	byFirst := map[uint32]uint32{}
	idx := map[uint32]*index.SegIndex{}
	for _, sg := range v.segs {
		if ix := sg.idx.Load(); ix != nil {
			ends[uint32(sg.meta.LastPosition)] = true
			byFirst[uint32(sg.meta.FirstPosition)] = uint32(sg.meta.LastPosition)
			idx[uint32(sg.meta.FirstPosition)] = ix
		}
	}
	rep.KeyRuns = s.checkRuns(rep, problem, ends, "keys-", "builds it again", func(path string, f runFile, data []byte) (bool, error) {
		run, err := index.DecodeKeyRun(path, data)
		if err == nil {
			err = keyRunFits(path, f, run, byFirst)
		}
		if err != nil {
			return false, err
		}
		segs := make([]*index.SegIndex, run.Segments())
		for i := range segs {
			segs[i] = idx[run.SegmentFirst(i)]
		}
		var buf bytes.Buffer
		if err := index.WriteKeyRun(&buf, segs); err != nil {
			problem(fmt.Errorf("engine: check %s: %w", path, err))
			return false, nil
		}
		if !bytes.Equal(buf.Bytes(), data) {
			problem(&trove.CorruptionError{File: path, Offset: -1, Reason: "engine: the key run disagrees with the segment indexes it covers"})
			return false, nil
		}
		return true, nil
	})
}
