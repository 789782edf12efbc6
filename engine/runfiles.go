package engine

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Id runs (ids-F-L.run) and key runs (keys-F-L.run) are derived files
// beside the segments, each covering positions F…L (ten digits each), used
// as a chain from position 1. This file holds what the two share: their
// names, their listing, the walk of the chain, and the choice of the chain
// at open.

// runFile is a run's file name and the positions it names.
type runFile struct {
	name        string
	first, last uint32
}

// runName is the file name of the run of kind prefix ("ids-", "keys-")
// covering positions first…last.
func runName(prefix string, first, last uint32) string {
	return fmt.Sprintf("%s%010d-%010d.run", prefix, first, last)
}

// parseRunName returns the positions a file name of a run of kind prefix
// covers.
func parseRunName(prefix, name string) (first, last uint32, ok bool) {
	rest, found := strings.CutPrefix(name, prefix)
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

// runFiles lists the files of runs of kind prefix in dir by first
// position, the longest first among those starting at one position.
func runFiles(dir, prefix string) ([]runFile, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files []runFile
	for _, e := range ents {
		if f, l, ok := parseRunName(prefix, e.Name()); ok && !e.IsDir() {
			files = append(files, runFile{e.Name(), f, l})
		}
	}
	slices.SortFunc(files, func(a, b runFile) int {
		if a.first != b.first {
			return cmp.Compare(a.first, b.first)
		}
		return cmp.Compare(b.last, a.last)
	})
	return files, nil
}

// runChain walks the runs among files (runFiles) that a store whose
// segments end at the positions in ends uses: from position 1, at each
// step the longest run that accept takes (it opens or checks the run and
// reports whether it is sound).
func runChain(files []runFile, ends map[uint32]bool, accept func(runFile) bool) {
	var upTo uint32
	for _, f := range files {
		if f.first == upTo+1 && ends[f.last] && accept(f) {
			upTo = f.last
		}
	}
}

// runChoice is the chain of runs recovery uses, and what chooseRuns
// found besides.
type runChoice[R interface{ Close() error }] struct {
	runs   []R
	damage []error  // runs of the chain that did not open
	unused []string // run files not in the chain
}

// chooseRuns opens the chain of runs of kind prefix (what) of a store
// whose sealed segments holding events are segs: open opens a run and
// checks that it is the one its file names. It changes nothing.
func chooseRuns[R interface{ Close() error }](s *Store, segs []*sealed, prefix, what string, open func(path string, f runFile) (R, error)) runChoice[R] {
	var c runChoice[R]
	ends := map[uint32]bool{}
	for _, sg := range segs {
		ends[uint32(sg.meta.LastPosition)] = true
	}
	files, err := runFiles(s.segDir(), prefix)
	if err != nil {
		s.logger.Warn("cannot list the "+what+"s", "err", err)
		return c
	}
	used := map[string]bool{}
	runChain(files, ends, func(f runFile) bool {
		r, err := open(filepath.Join(s.segDir(), f.name), f)
		if err != nil {
			s.logger.Warn("damaged "+what+"; it is built again later", "err", err)
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

// removeUnused removes the run files c did not use (what names their
// kind), unless the store is read-only.
func (s *Store) removeUnused(unused []string, what string) {
	if s.readOnly {
		return
	}
	for _, name := range unused {
		if err := os.Remove(filepath.Join(s.segDir(), name)); err != nil {
			s.logger.Warn("cannot remove an unused "+what, "err", err)
		}
	}
}

// aRun is what an id run and a key run share.
type aRun interface {
	First() uint32
	Last() uint32
	Close() error
}

// dropRuns closes the runs a larger one replaced and removes their files
// (prefix names their kind, what too). No lookup reads them any more: the
// index's Set…Runs, called before, waited for its readers.
func dropRuns[R aRun](s *Store, gone []R, prefix, what string) {
	for _, r := range gone {
		path := filepath.Join(s.segDir(), runName(prefix, r.First(), r.Last()))
		r.Close()
		if err := os.Remove(path); err != nil {
			s.logger.Warn("cannot remove a replaced "+what, "err", err)
		}
	}
}

// closeRuns closes runs.
func closeRuns[R aRun](runs []R) error {
	var errs []error
	for _, r := range runs {
		errs = append(errs, r.Close())
	}
	return errors.Join(errs...)
}

// checkRuns walks the chain of runs of kind prefix that Open would use,
// reading each file, and returns how many verify found equal to the run
// built again from the segment indexes it covers. verify decodes data: an
// error is damage the next writable open repairs (it removes the run and
// builds it again, said by repair), which ends the chain; otherwise it
// builds the run again and reports a difference through problem.
func (s *Store) checkRuns(rep *Report, problem func(error), ends map[uint32]bool, prefix, repair string, verify func(path string, f runFile, data []byte) (equal bool, damage error)) int {
	files, err := runFiles(s.segDir(), prefix)
	if err != nil {
		problem(fmt.Errorf("engine: check runs: %w", err))
		return 0
	}
	n := 0
	runChain(files, ends, func(f runFile) bool {
		path := filepath.Join(s.segDir(), f.name)
		data, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			return false // replaced by a concurrent merge
		}
		if err != nil {
			problem(fmt.Errorf("engine: check: %w", err))
			return false
		}
		equal, damage := verify(path, f, data)
		if damage != nil {
			rep.Repairable = append(rep.Repairable, fmt.Sprintf("%v (the next open removes it and %s)", damage, repair))
			return false
		}
		if equal {
			n++
		}
		return true // Open uses the run from here on, sound or not
	})
	return n
}
