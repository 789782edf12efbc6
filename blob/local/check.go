package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/trovedb/trove"
)

// CheckReport is what Check found.
type CheckReport struct {
	Keys        int // live keys checked, loose and packed
	Packed      int // of which packed
	Packs       int // pack files read
	PackRecords int // records in them that decode (puts and deletes)
	KeyFiles    int // key files of sealed packs compared with their packs
	// TornTail describes the last pack's torn tail, bytes of a write that
	// was never acknowledged, which the next Open truncates ("" when
	// none). It is not a problem.
	TornTail string
	Problems []string // one line per problem; empty when all is well
}

// Check verifies the store in dir without changing anything on disk: every
// record of every pack (frame, CRC, fields, the replay rules), every key
// file against its pack (a missing one is not a problem: the next Open
// writes it), and every live key's bytes against its size and SHA-256,
// loose and packed. It
// takes dir's lock shared, so it fails with an error wrapping
// trove.ErrLocked while a store has dir open. When anything is damaged it
// returns an error wrapping trove.ErrCorrupt (the first problem, a
// *trove.CorruptionError); the report lists all of them. A directory that
// does not exist holds nothing and checks clean.
func Check(ctx context.Context, dir string) (CheckReport, error) {
	s, err := OpenReadOnly(ctx, dir)
	if err != nil {
		if errors.Is(err, trove.ErrCorrupt) {
			return CheckReport{Problems: []string{err.Error()}}, fmt.Errorf("local: check found 1 problem: %w", err)
		}
		return CheckReport{}, err
	}
	defer s.Close()
	rep := CheckReport{Packs: s.scan.packs, PackRecords: s.scan.records, TornTail: s.scan.tornTail}
	var first error
	problem := func(err error) bool {
		rep.Problems = append(rep.Problems, err.Error())
		if first == nil {
			first = err
		}
		return true
	}
	for _, err := range s.scan.problems {
		problem(err)
	}
	if rep.KeyFiles, err = checkKeyFiles(s.packDir(), s.scan, problem); err != nil {
		return rep, err
	}
	rep.Packed = len(s.pack.keys())
	rep.Keys, err = s.verify(ctx, problem)
	if err != nil {
		return rep, err
	}
	if first != nil {
		return rep, fmt.Errorf("local: check found %d problems: %w", len(rep.Problems), first)
	}
	return rep, nil
}

// checkKeyFiles compares the key file of every sealed pack the scan found
// intact with what the scan found, calls problem with each that differs,
// and returns the number compared.
func checkKeyFiles(dir string, scan scanResult, problem func(error) bool) (int, error) {
	damaged := map[string]bool{}
	for _, err := range scan.problems {
		var ce *trove.CorruptionError
		if errors.As(err, &ce) {
			damaged[ce.File] = true
		}
	}
	nums := slices.Sorted(maps.Keys(scan.found))
	checked := 0
	for _, n := range nums {
		if damaged[filepath.Join(dir, packName(n))] {
			continue
		}
		path := filepath.Join(dir, keysName(n))
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return checked, fmt.Errorf("local: check: %w", err)
		}
		checked++
		k, derr := decodeKeys(b, n)
		if derr == nil && !sameKeys(k, scan.found[n]) {
			derr = errFrame("it does not list its pack's records")
		}
		if derr != nil {
			problem(&trove.CorruptionError{File: path, Offset: -1, Reason: "local: key file: " + derr.Error() + " (the next open rewrites it from its pack)"})
		}
	}
	return checked, nil
}
