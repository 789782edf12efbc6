package engine

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/index"
)

// saveVersions saves versions 1…3 of n ids: version 2 of every third id
// and version 3 of every fifth after all version 1s, so that the versions
// of one id lie in different segments.
func saveVersions(t *testing.T, st *Store, n int) map[string]int {
	t.Helper()
	ctx := context.Background()
	latest := map[string]int{}
	saveBatches(t, st, 0, n, 20)
	for i := range n {
		latest[testEvent(i).ID.ID] = 1
	}
	for _, step := range []struct{ v, every int }{{2, 3}, {3, 15}} {
		var evs []trove.Event
		for i := 0; i < n; i += step.every {
			e := testEvent(i)
			e.ID.Version = step.v
			evs = append(evs, e)
			latest[e.ID.ID] = step.v
		}
		for k := 0; k < len(evs); k += 25 {
			if _, err := st.SaveEvents(ctx, evs[k:min(k+25, len(evs))]); err != nil {
				t.Fatal(err)
			}
		}
	}
	return latest
}

// checkVersions reads every version of every id, the latest by id alone,
// an id never saved, and refuses a version already taken.
func checkVersions(t *testing.T, st *Store, latest map[string]int) {
	t.Helper()
	ctx := context.Background()
	for id, last := range latest {
		for v := 1; v <= last; v++ {
			e, err := st.GetEvent(ctx, trove.EventID{ID: id, Version: v})
			if err != nil || e.ID.ID != id || e.ID.Version != v {
				t.Fatalf("get %s@%d: %+v %v", id, v, e.ID, err)
			}
		}
		if e, err := st.GetEvent(ctx, trove.EventID{ID: id}); err != nil || e.ID.Version != last {
			t.Fatalf("get latest %s: %+v %v, want version %d", id, e.ID, err, last)
		}
		if _, err := st.GetEvent(ctx, trove.EventID{ID: id, Version: last + 1}); !isNotFound(err) {
			t.Fatalf("get %s@%d: %v, want not found", id, last+1, err)
		}
	}
	if _, err := st.GetEvent(ctx, trove.EventID{ID: "ev-999999"}); !isNotFound(err) {
		t.Fatalf("an id never saved: %v", err)
	}
}

func idRunPaths(t *testing.T, dir string) []string {
	t.Helper()
	runs, err := filepath.Glob(filepath.Join(dir, "segments", "ids-*.run"))
	if err != nil {
		t.Fatal(err)
	}
	return runs
}

// TestIDRuns: the id sections of sealed segments are merged into id runs
// in the background; lookups of every version of every id answer the same
// from the runs, the segment indexes and the head, live, after a reopen
// and after the runs are damaged, replaced or left over by a merge cut
// short; Check verifies each run against the segment indexes.
func TestIDRuns(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	o := Options{SegmentSize: 8 << 10, BlockSize: 1 << 10, SearchIndex: "off"}
	st := openStore(t, dir, o)
	latest := saveVersions(t, st, 2000)
	checkVersions(t, st, latest)
	// A new version of an id whose versions are all sealed, and a taken one.
	e := testEvent(1)
	e.ID.Version = 2
	if _, err := st.SaveEvent(ctx, e); err != nil {
		t.Fatalf("save a new version of a sealed id: %v", err)
	}
	latest[e.ID.ID] = 2
	e.ID.Version = 1
	e.Payload = []byte(`{"n":-1}`)
	if _, err := st.SaveEvent(ctx, e); !errors.Is(err, trove.ErrConflict) {
		t.Fatalf("save a taken version of a sealed id: %v, want a conflict", err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	runs := idRunPaths(t, dir)
	if len(runs) == 0 {
		t.Fatal("no id run was merged")
	}
	rep, err := Check(ctx, dir)
	if err != nil || rep.IDRuns != len(runs) {
		t.Fatalf("check: %v, %d runs verified of %v (%+v)", err, rep.IDRuns, runs, rep)
	}
	st = openStore(t, dir, o)
	if n := len(st.ix.IDRuns()); n != len(runs) {
		t.Fatalf("the index reads %d runs, %d on disk", n, len(runs))
	}
	checkVersions(t, st, latest)
	st.Close()

	// A leftover run that ends inside a segment is removed by Open.
	stray := filepath.Join(dir, "segments", idRunName(1, 2))
	write(t, stray, []byte("not a run"))
	st = openStore(t, dir, o)
	checkVersions(t, st, latest)
	st.Close()
	if _, err := os.Stat(stray); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a run that ends inside a segment was kept: %v", err)
	}

	// Damage: Check reports it as repairable damage; Open drops the run,
	// answers the same, and merges it again.
	runs = idRunPaths(t, dir)
	data, err := os.ReadFile(runs[0])
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x40
	write(t, runs[0], data)
	rep, err = Check(ctx, dir)
	if !errors.Is(err, trove.ErrCorrupt) {
		t.Fatalf("check of a damaged run: %v (%+v)", err, rep)
	}
	st = openStore(t, dir, o)
	checkVersions(t, st, latest)
	st.Close()
	if rep, err = Check(ctx, dir); err != nil || rep.IDRuns == 0 {
		t.Fatalf("check after the damaged run was replaced: %v (%+v)", err, rep)
	}

	// A run under the name of another range decodes but covers other
	// positions: Open drops it too.
	st = openStore(t, dir, o)
	end := st.w.evSegs[2].meta.LastPosition
	st.Close()
	runs = idRunPaths(t, dir)
	misnamed := filepath.Join(dir, "segments", idRunName(1, uint32(end)))
	if err := os.Rename(runs[0], misnamed); err != nil {
		t.Fatal(err)
	}
	st = openStore(t, dir, o)
	checkVersions(t, st, latest)
	st.Close()
	if _, err := os.Stat(misnamed); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a misnamed run was kept: %v", err)
	}
	if rep, err = Check(ctx, dir); err != nil || rep.IDRuns == 0 {
		t.Fatalf("check after a misnamed run was replaced: %v (%+v)", err, rep)
	}
}

// checkByID replays the store and finds every event again by its id and
// version, and the latest version by its id alone.
func checkByID(t *testing.T, st *Store) {
	t.Helper()
	ctx := context.Background()
	latest := map[string]uint64{}
	err := st.Replay(ctx, 0, func(e trove.Event) error {
		got, err := st.GetEvent(ctx, e.ID)
		if err != nil || got.Position != e.Position {
			t.Fatalf("get %s at position %d: position %d, %v", e.ID, e.Position, got.Position, err)
		}
		latest[e.ID.ID] = e.Position
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for id, pos := range latest {
		if got, err := st.GetEvent(ctx, trove.EventID{ID: id}); err != nil || got.Position != pos {
			t.Fatalf("get latest %s: position %d, %v, want %d", id, got.Position, err, pos)
		}
	}
}

// TestIDRunCrash stops at each crash point of a merge — before the run is
// written, and once it is published but before the writer swaps it in —
// copies the disk as a crash would leave it, and reopens the copy: every
// acknowledged event is there and found by id and version, new versions
// save, and Check is clean.
func TestIDRunCrash(t *testing.T) {
	for _, point := range []string{"idrun:writing", "idrun:written"} {
		t.Run(point, func(t *testing.T) {
			dir := t.TempDir()
			o := Options{SegmentSize: 8 << 10, BlockSize: 1 << 10, SearchIndex: "off"}
			st := openStore(t, dir, o)
			var crashed string
			var acked uint64
			n := 0
			st.hook = func(p string) {
				// On the writer: nothing changes the disk meanwhile.
				if p == point {
					if n++; n == 2 {
						crashed, acked = copyDir(t, dir), st.w.last
					}
				}
			}
			saveVersions(t, st, 2500)
			st.Close()
			if crashed == "" {
				t.Fatal("no second merge happened")
			}
			st = openStore(t, crashed, o)
			if st.Last() < acked {
				t.Fatalf("%d events survive, %d were acknowledged", st.Last(), acked)
			}
			checkByID(t, st)
			saveVersions(t, st, 300) // versions 4 and more of ids sealed before
			checkByID(t, st)
			st.Close()
			if rep, err := Check(context.Background(), crashed); err != nil {
				t.Fatalf("check: %v (%+v)", err, rep)
			}
		})
	}
}

// TestIDRunNames: only well-formed names are id runs.
func TestIDRunNames(t *testing.T) {
	for name, ok := range map[string]bool{
		idRunName(1, 84):                   true,
		idRunName(4294967295, 4294967295):  true,
		"ids-0000000001-0000000084.run":    true,
		"ids-0000000000-0000000084.run":    false,
		"ids-0000000085-0000000084.run":    false,
		"ids-1-84.run":                     false,
		"ids-0000000001-0000000084.run.x":  false,
		".ids-0000000001-0000000084.run":   false,
		"ids-0000000001_0000000084.run":    false,
		"ids-9999999999-9999999999.run":    false,
		"00000000000000000001.seg":         false,
		"ids-00000000+1-0000000084.run":    false,
		"ids-0000000001-0000000084-01.run": false,
	} {
		if _, _, got := parseIDRunName(name); got != ok {
			t.Errorf("%q: %v, want %v", name, got, ok)
		}
	}
}

// TestIDRunsVersion1: a store whose id runs were written in format
// version 1 (a 16-bit filter, before the header gave its size) passes
// Check, opens, and answers every lookup by id from those runs, reads'
// and saves' alike; a writable store takes new versions and refuses taken
// ones, and keeps a version 1 run until a merge takes it in.
func TestIDRunsVersion1(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	o := Options{SegmentSize: 8 << 10, BlockSize: 1 << 10, SearchIndex: "off"}
	st := openStore(t, dir, o)
	latest := saveVersions(t, st, 2000)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	// Each run of the chain the store reads, written again as version 1
	// from the segment indexes it covers. A read-only store plans no
	// merge, so the runs stay the ones listed.
	readOnly := func() *Store {
		t.Helper()
		st, err := open(ctx, dir, o, true)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	st = readOnly()
	byFirst := map[uint32]*sealed{}
	for _, sg := range st.w.evSegs {
		byFirst[uint32(sg.meta.FirstPosition)] = sg
	}
	v1 := map[string][]byte{}
	for _, r := range st.ix.IDRuns() {
		var srcs []index.IDSourceOf
		for p := r.First(); p <= r.Last(); {
			sg := byFirst[p]
			if sg == nil {
				t.Fatalf("no segment starts at %d", p)
			}
			srcs = append(srcs, index.SegSource(sg.idx.Load()))
			p = uint32(sg.meta.LastPosition) + 1
		}
		var buf bytes.Buffer
		if err := index.MergeIDRunsVersion(&buf, 1, srcs...); err != nil {
			t.Fatal(err)
		}
		v1[filepath.Join(dir, "segments", idRunName(r.First(), r.Last()))] = buf.Bytes()
	}
	st.Close()
	if len(v1) == 0 {
		t.Fatal("no id run was merged")
	}
	for path, data := range v1 {
		write(t, path, data)
	}
	rep, err := Check(ctx, dir)
	if err != nil || rep.IDRuns != len(v1) {
		t.Fatalf("check of version 1 runs: %v, %d of %d verified", err, rep.IDRuns, len(v1))
	}
	// Read only: every run is the version 1 file; reads (through the
	// runs' maps) and a save's lookups (from their files) answer.
	st = readOnly()
	if n := len(st.ix.IDRuns()); n != len(v1) {
		t.Fatalf("the index reads %d runs, %d written", n, len(v1))
	}
	for _, r := range st.ix.IDRuns() {
		if r.Version() != 1 {
			t.Fatalf("run %d-%d read as version %d", r.First(), r.Last(), r.Version())
		}
	}
	checkVersions(t, st, latest)
	for id, last := range latest {
		if ver, err := st.latestVersion(id); err != nil || ver != last {
			t.Fatalf("a save's lookup of %s: version %d %v, want %d", id, ver, err, last)
		}
	}
	st.Close()
	// Writable: new versions and conflicts; a version 1 run still on disk
	// is the file written (a merge may have taken some in).
	st = openStore(t, dir, o)
	checkVersions(t, st, latest)
	e := testEvent(7)
	e.ID.Version = latest[e.ID.ID] + 1
	if _, err := st.SaveEvent(ctx, e); err != nil {
		t.Fatalf("a new version of an id in a version 1 run: %v", err)
	}
	e.ID.Version = 1
	e.Payload = []byte(`{"n":-1}`)
	if _, err := st.SaveEvent(ctx, e); !errors.Is(err, trove.ErrConflict) {
		t.Fatalf("a taken version of an id in a version 1 run: %v, want a conflict", err)
	}
	st.Close()
	for path, data := range v1 {
		got, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s changed: %v", path, err)
		}
	}
}
