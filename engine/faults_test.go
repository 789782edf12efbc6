package engine

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/internal/faultfs"
)

var longFaults = flag.Bool("faults.long", false, "run many more fault and power-cut scenarios in TestFaults")

// faultScenario is one run of TestFaults: a rule (nil: a power cut only)
// whose Match is relative to the store's directory.
type faultScenario struct {
	name string
	rule *faultfs.Rule
	seed uint64
}

func faultScenarios() []faultScenario {
	var sc []faultScenario
	add := func(name string, r *faultfs.Rule) {
		sc = append(sc, faultScenario{name: name, rule: r, seed: uint64(len(sc))})
	}
	skips := []int{0, 7, 40}
	if *longFaults {
		skips = []int{0, 1, 3, 7, 15, 25, 40, 60, 90, 140}
	}
	for _, skip := range skips {
		add(fmt.Sprintf("wal fsync fails after %d", skip), &faultfs.Rule{Op: faultfs.OpSync, Match: "wal/*", Skip: skip})
		add(fmt.Sprintf("wal write fails after %d", skip), &faultfs.Rule{Op: faultfs.OpWrite, Match: "wal/*", Skip: skip})
		add(fmt.Sprintf("wal short write after %d", skip), &faultfs.Rule{Op: faultfs.OpWrite, Match: "wal/*", Skip: skip, Short: true, Errno: syscall.ENOSPC})
	}
	for _, skip := range []int{0, 1} {
		add(fmt.Sprintf("wal directory fsync fails after %d", skip), &faultfs.Rule{Op: faultfs.OpSyncDir, Match: "wal", Skip: skip})
	}
	// Seals and snapshots run beside the writer: their first operation
	// fails, once or from then on.
	for _, count := range []int{0, 1} {
		how := "always"
		if count == 1 {
			how = "once"
		}
		add("segment fsync fails "+how, &faultfs.Rule{Op: faultfs.OpSync, Match: "segments/*", Count: count})
		add("segment write fails "+how, &faultfs.Rule{Op: faultfs.OpWrite, Match: "segments/*", Count: count, Short: true})
		add("segment directory fsync fails "+how, &faultfs.Rule{Op: faultfs.OpSyncDir, Match: "segments", Count: count})
		add("snapshot fsync fails "+how, &faultfs.Rule{Op: faultfs.OpSync, Match: "*", Count: count})
		add("snapshot write fails "+how, &faultfs.Rule{Op: faultfs.OpWrite, Match: "*", Count: count, Short: true})
		add("store directory fsync fails "+how, &faultfs.Rule{Op: faultfs.OpSyncDir, Match: "", Count: count})
	}
	cuts := 3
	if *longFaults {
		cuts = 20
	}
	for i := range cuts {
		add(fmt.Sprintf("power cut %d", i), nil)
	}
	return sc
}

func faultOptions() Options {
	// NoMmap: a page fault on a file of the mount, served by this very
	// process, could wait on a stopped Go runtime (a garbage collection
	// waiting for the faulting thread) and never be answered.
	// Small WAL files: seals then drop whole files from the WAL.
	return Options{SegmentSize: 8 << 10, BlockSize: 2 << 10, SearchIndex: "off", NoMmap: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), walFileSize: 16 << 10}
}

// TestFaults runs the engine on a FUSE mount (internal/faultfs) that fails
// writes and fsyncs of the WAL (written by tidwall/wal), of segments and of
// the store's other files, then cuts the power: only fsynced bytes and
// directory entries survive. The store opened on what is left holds every
// acknowledged event at the position it was acknowledged with, holds no
// event that was not saved, and passes Check. After a failed WAL write or
// fsync no save is acknowledged. -faults.long runs more scenarios.
func TestFaults(t *testing.T) {
	ffs := faultfs.MountT(t)
	ctx := context.Background()
	for si, sc := range faultScenarios() {
		t.Run(sc.name, func(t *testing.T) {
			ffs.Heal()
			faults0 := ffs.Faults()
			dir := filepath.Join(ffs.Dir, fmt.Sprintf("store%d", si))
			st, err := Open(dir, faultOptions())
			if err != nil {
				t.Fatal(err)
			}
			closed := false
			defer func() {
				ffs.Heal() // so that tidwall closes its file and the mount can go
				if !closed {
					st.Close()
				}
			}()
			if sc.rule != nil {
				r := *sc.rule
				if r.Match == "" {
					r.Match = filepath.Base(dir)
				} else {
					r.Match = filepath.Base(dir) + "/" + r.Match
				}
				ffs.Inject(r)
			}
			r := rand.New(rand.NewPCG(sc.seed, 11))
			acked := map[int]uint64{} // event number → position
			tried := map[string]bool{}
			var failure error
			next := 0
			save := func() {
				n := 1 + r.IntN(5)
				var evs []trove.Event
				for range n {
					evs = append(evs, testEvent(next))
					tried[testEvent(next).ID.ID] = true
					next++
				}
				saved, err := st.SaveEvents(ctx, evs)
				if err != nil {
					if errors.Is(err, trove.ErrInvalid) || errors.Is(err, trove.ErrConflict) {
						t.Fatalf("save: %v", err)
					}
					if failure == nil {
						failure = err
					}
					return
				}
				if failure != nil && walRule(sc.rule) {
					t.Fatalf("a save was acknowledged after the WAL failed with %v", failure)
				}
				for i, e := range saved {
					acked[next-n+i] = e.Position
				}
			}
			for range 100 + r.IntN(30) {
				save()
			}
			// A rule on the seal's or the snapshot's files fires once a
			// seal has run; more saves force one (backpressure waits for a
			// running seal), however slow the machine.
			for extra := 0; sc.rule != nil && ffs.Faults() == faults0 && extra < 400; extra++ {
				save()
			}
			if sc.rule != nil && ffs.Faults() == faults0 {
				t.Fatalf("the rule never fired: the scenario tests nothing (%d events acknowledged, failure %v)", len(acked), failure)
			}
			if walRule(sc.rule) && failure == nil {
				t.Fatalf("%d WAL faults injected, and every save succeeded", ffs.Faults()-faults0)
			}
			if walRule(sc.rule) {
				ffs.Heal() // the disk recovers; the store must not
				for range 3 {
					save() // fails the test if acknowledged
				}
			}
			cut := t.TempDir()
			if err := ffs.Crash(cut); err != nil {
				t.Fatal(err)
			}
			ffs.Heal()
			closed = true
			st.Close() // may report the failure again

			re, err := Open(filepath.Join(cut, filepath.Base(dir)), faultOptions())
			if err != nil {
				t.Fatalf("open after the power cut (failure: %v): %v", failure, err)
			}
			defer re.Close()
			for i, pos := range acked {
				e, err := re.GetEvent(ctx, trove.EventID{ID: testEvent(i).ID.ID})
				if err != nil {
					t.Fatalf("acknowledged event %d (position %d) is gone (failure: %v): %v", i, pos, failure, err)
				}
				if e.Position != pos || string(e.Payload) != string(testEvent(i).Payload) {
					t.Fatalf("acknowledged event %d: position %d payload %s, want %d %s", i, e.Position, e.Payload, pos, testEvent(i).Payload)
				}
			}
			var count uint64
			err = re.Replay(ctx, 0, func(e trove.Event) error {
				count++
				if e.Position != count {
					return fmt.Errorf("position %d after %d: positions are not dense", e.Position, count-1)
				}
				if !tried[e.ID.ID] {
					return fmt.Errorf("event %s at %d was never saved", e.ID.ID, e.Position)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if count < uint64(len(acked)) {
				t.Fatalf("%d events after the cut, %d acknowledged", count, len(acked))
			}
			if rep, err := re.Check(ctx); err != nil {
				t.Fatalf("check after the cut: %v (%v)", err, rep.Problems)
			}
			// The recovered store takes writes.
			if _, err := re.SaveEvent(ctx, testEvent(100000)); err != nil {
				t.Fatalf("save after recovery: %v", err)
			}
		})
	}
}

// walRule reports whether r fails the WAL's own writes or fsyncs, after
// which the engine must refuse every save.
func walRule(r *faultfs.Rule) bool {
	return r != nil && (r.Match == "wal/*" || r.Match == "wal")
}
