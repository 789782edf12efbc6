package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/index"
)

// keyEvent is event i of the key run tests: every other one links to the
// event i/3, and its payload's n is unique.
func keyEvent(i int) trove.Event {
	e := testEvent(i)
	if i%2 == 0 {
		e.Links = []trove.EventLink{{Type: "rel", TargetEvent: trove.EventID{ID: testEvent(i / 3).ID.ID}}}
	}
	return e
}

// saveKeyEvents saves keyEvent first…first+n-1 in batches of 20.
func saveKeyEvents(t testing.TB, st *Store, first, n int) {
	t.Helper()
	for i := first; i < first+n; i += 20 {
		var evs []trove.Event
		for k := i; k < min(i+20, first+n); k++ {
			evs = append(evs, keyEvent(k))
		}
		if _, err := st.SaveEvents(context.Background(), evs); err != nil {
			t.Fatal(err)
		}
	}
}

// checkKeyLookups asks for the events linking to targets and for unique
// payload values across the n events saved, and compares with what
// keyEvent says.
func checkKeyLookups(t testing.TB, st *Store, n int) {
	t.Helper()
	ctx := context.Background()
	for _, target := range []int{0, 1, 7, 40, 333, n / 3, n/3 - 1, n / 2, n - 1, n + 5} {
		id := testEvent(target).ID
		got, err := st.QueryEvents(ctx, trove.EventQuery{Links: []trove.LinkCriterion{{TargetEvent: &id}}})
		if err != nil {
			t.Fatal(err)
		}
		var want, have []string
		for i := range n {
			if i%2 == 0 && i/3 == target {
				want = append(want, testEvent(i).ID.ID)
			}
		}
		for _, e := range got {
			have = append(have, e.ID.ID)
		}
		slices.Sort(have)
		if fmt.Sprint(have) != fmt.Sprint(want) {
			t.Fatalf("events linking to %s: %v, want %v", id.ID, have, want)
		}
	}
	for _, k := range []int{0, 1, 63, 64, 500, n / 2, n - 2, n - 1, n, n + 100} {
		got, err := st.QueryEvents(ctx, trove.EventQuery{Payload: map[string]any{"n": float64(k)}})
		if err != nil {
			t.Fatal(err)
		}
		if k < n && (len(got) != 1 || got[0].ID.ID != testEvent(k).ID.ID) || k >= n && len(got) != 0 {
			t.Fatalf("payload n=%d: %d events %v", k, len(got), got)
		}
	}
}

// waitKeyRuns waits until the index of st reads key runs of the sizes
// want (segments a run, in order): the runs a reopen dropped are built
// again one after the other.
func waitKeyRuns(t testing.TB, st *Store, want []int) {
	t.Helper()
	sizes := func() []int {
		var n []int
		for _, r := range st.ix.KeyRuns() {
			n = append(n, r.Segments())
		}
		return n
	}
	for deadline := time.Now().Add(time.Minute); !slices.Equal(sizes(), want); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the index reads key runs of %v segments after a minute, want %v", sizes(), want)
		}
	}
}

// keyRunShape is the key runs, in segments a run, that the builds of a
// store of n sealed segments come to: as many runs of 64 as fit, then of 8.
func keyRunShape(n int) []int {
	var shape []int
	for _, size := range []int{64, 8} {
		for ; n >= size; n -= size {
			shape = append(shape, size)
		}
	}
	return shape
}

func keyRunPaths(t testing.TB, dir string) []string {
	t.Helper()
	runs, err := filepath.Glob(filepath.Join(dir, "segments", "keys-*.run"))
	if err != nil {
		t.Fatal(err)
	}
	return runs
}

// keyRunOptions make segments of a few dozen events each, and payload
// path n (one value an event) a path past the guard, found through the
// segment indexes' hashed postings.
var keyRunOptions = Options{SegmentSize: 2 << 10, BlockSize: 1 << 10, MaxPathValues: 8, SearchIndex: "off"}

// TestKeyRuns: key filters of sealed segments are gathered into key runs
// in the background, of 8 segments and then of 64; link targets and
// unique payload values answer the same from them, live and after a
// reopen, and after runs are damaged, left over or misnamed; Check
// verifies each run against the segment indexes.
func TestKeyRuns(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := openStore(t, dir, keyRunOptions)
	const n = 3000
	saveKeyEvents(t, st, 0, n)
	checkKeyLookups(t, st, n)
	segs := len(st.view.Load().segs)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if segs < index.MaxKeyRunSegments+8 {
		t.Fatalf("only %d segments: too few for runs of %d", segs, index.MaxKeyRunSegments)
	}
	runs := keyRunPaths(t, dir)
	sizes := map[int]int{}
	for _, p := range runs {
		r, err := index.ReadKeyRun(p)
		if err != nil {
			t.Fatal(err)
		}
		sizes[r.Segments()]++
	}
	if sizes[64] == 0 || sizes[8] == 0 || len(sizes) != 2 {
		t.Fatalf("runs of %v segments (count by size) over %d segments, want runs of 64 and of 8", sizes, segs)
	}
	rep, err := Check(ctx, dir)
	if err != nil || rep.KeyRuns != len(runs) {
		t.Fatalf("check: %v, %d runs verified of %v (%+v)", err, rep.KeyRuns, runs, rep)
	}
	st = openStore(t, dir, keyRunOptions)
	if got := len(st.ix.KeyRuns()); got != len(runs) {
		t.Fatalf("the index reads %d key runs, %d on disk", got, len(runs))
	}
	checkKeyLookups(t, st, n)
	saveKeyEvents(t, st, n, 200)
	checkKeyLookups(t, st, n+200)
	st.Close()
	st = openStore(t, dir, keyRunOptions)
	shape := keyRunShape(len(st.view.Load().segs))
	waitKeyRuns(t, st, shape)
	st.Close()
	runs = keyRunPaths(t, dir)

	// Leftovers: a file that is no run and a run ending inside a segment
	// are removed by Open.
	stray := filepath.Join(dir, "segments", keyRunName(1, 2))
	write(t, stray, []byte("not a run"))
	junk := filepath.Join(dir, "segments", keyRunName(1, uint32(st.view.Load().segs[0].meta.LastPosition)))
	write(t, junk, []byte("not a run either"))
	st = openStore(t, dir, keyRunOptions)
	checkKeyLookups(t, st, n+200)
	st.Close()
	for _, p := range []string{stray, junk} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s was kept: %v", p, err)
		}
	}

	// Damage: Check reports it as repairable; Open drops the run, answers
	// the same, and builds it again.
	runs = keyRunPaths(t, dir)
	data, err := os.ReadFile(runs[0])
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x40
	write(t, runs[0], data)
	rep, err = Check(ctx, dir)
	if !errors.Is(err, trove.ErrCorrupt) || len(rep.Repairable) == 0 {
		t.Fatalf("check of a damaged run: %v (%+v)", err, rep)
	}
	st = openStore(t, dir, keyRunOptions)
	checkKeyLookups(t, st, n+200)
	waitKeyRuns(t, st, shape)
	st.Close()
	if rep, err = Check(ctx, dir); err != nil || rep.KeyRuns != len(runs) {
		t.Fatalf("check after the damaged run was replaced: %v (%+v)", err, rep)
	}

	// A run under the name of another range decodes but covers other
	// positions: Open drops it too.
	misnamed := filepath.Join(dir, "segments", keyRunName(1, uint32(st.view.Load().segs[2].meta.LastPosition)))
	if err := os.Rename(runs[0], misnamed); err != nil {
		t.Fatal(err)
	}
	st = openStore(t, dir, keyRunOptions)
	checkKeyLookups(t, st, n+200)
	waitKeyRuns(t, st, shape)
	st.Close()
	if _, err := os.Stat(misnamed); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a misnamed run was kept: %v", err)
	}
	if rep, err = Check(ctx, dir); err != nil || rep.KeyRuns != len(runs) {
		t.Fatalf("check after a misnamed run was replaced: %v (%+v)", err, rep)
	}
}

// TestKeyRunWrongButWellFormed: a run that decodes but holds other
// filters than its segments' (a bit of a row cleared, its checksums made
// right again) is a problem Check reports, naming the file.
func TestKeyRunWrongButWellFormed(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir, keyRunOptions)
	saveKeyEvents(t, st, 0, 1000)
	st.Close()
	runs := keyRunPaths(t, dir)
	if len(runs) == 0 {
		t.Fatal("no key run was built")
	}
	data, err := os.ReadFile(runs[0])
	if err != nil {
		t.Fatal(err)
	}
	n := int(binary.LittleEndian.Uint32(data[20:]))
	rowsAt := 32 + (4*n+7)&^7
	rows := data[rowsAt : len(data)-12]
	i := slices.IndexFunc(rows, func(b byte) bool { return b != 0 })
	rows[i] &= rows[i] - 1 // clear the lowest bit set
	tab := crc32.MakeTable(crc32.Castagnoli)
	tr := data[len(data)-12:]
	binary.LittleEndian.PutUint32(tr[4:], crc32.Checksum(rows, tab))
	binary.LittleEndian.PutUint32(tr[8:], crc32.Checksum(tr[:8], tab))
	write(t, runs[0], data)
	if _, err := index.DecodeKeyRun(runs[0], data); err != nil {
		t.Fatalf("the changed run does not decode: %v", err)
	}
	rep, err := Check(context.Background(), dir)
	var ce *trove.CorruptionError
	if !errors.As(err, &ce) || len(rep.Problems) == 0 {
		t.Fatalf("check: %v (%+v), want the run reported", err, rep)
	}
	found := false
	for _, p := range rep.Problems {
		found = found || strings.Contains(p, filepath.Base(runs[0]))
	}
	if !found {
		t.Fatalf("no problem names %s: %v", runs[0], rep.Problems)
	}
}

// TestKeyRunCrash stops at each crash point of a build — before the run
// is written, and once it is published but before the writer swaps it in
// — copies the disk as a crash would leave it, and reopens the copy:
// every acknowledged event is there, lookups answer, and Check is clean.
func TestKeyRunCrash(t *testing.T) {
	for _, point := range []string{"keyrun:writing", "keyrun:written"} {
		t.Run(point, func(t *testing.T) {
			dir := t.TempDir()
			st := openStore(t, dir, keyRunOptions)
			var crashed string
			var acked uint64
			k := 0
			st.hook = func(p string) {
				// On the writer: nothing changes the disk meanwhile.
				if p == point {
					if k++; k == 2 {
						crashed, acked = copyDir(t, dir), st.w.last
					}
				}
			}
			const n = 1200
			saveKeyEvents(t, st, 0, n)
			st.Close()
			if crashed == "" {
				t.Fatal("no second build happened")
			}
			st = openStore(t, crashed, keyRunOptions)
			if st.Last() < acked {
				t.Fatalf("%d events survive, %d were acknowledged", st.Last(), acked)
			}
			last := int(st.Last())
			checkKeyLookups(t, st, last)
			saveKeyEvents(t, st, last, 300)
			checkKeyLookups(t, st, last+300)
			st.Close()
			if rep, err := Check(context.Background(), crashed); err != nil {
				t.Fatalf("check: %v (%+v)", err, rep)
			}
		})
	}
}

// TestKeyRunNames: only well-formed names are key runs.
func TestKeyRunNames(t *testing.T) {
	for name, ok := range map[string]bool{
		keyRunName(1, 84):                   true,
		keyRunName(4294967295, 4294967295):  true,
		"keys-0000000001-0000000084.run":    true,
		"keys-0000000000-0000000084.run":    false,
		"keys-0000000085-0000000084.run":    false,
		"keys-1-84.run":                     false,
		"keys-0000000001-0000000084.run.x":  false,
		"ids-0000000001-0000000084.run":     false,
		"keys-9999999999-9999999999.run":    false,
		"keys-00000000+1-0000000084.run":    false,
		"keys-0000000001-0000000084-01.run": false,
	} {
		if _, _, got := parseKeyRunName(name); got != ok {
			t.Errorf("%q: %v, want %v", name, got, ok)
		}
	}
}

// TestKeyRunsReadOnly: a read-only open uses the runs on disk and
// changes nothing, damaged runs and leftovers included; Check of such a
// store says the next open repairs it.
func TestKeyRunsReadOnly(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir, keyRunOptions)
	saveKeyEvents(t, st, 0, 1500)
	st.Close()
	runs := keyRunPaths(t, dir)
	if len(runs) < 2 {
		t.Fatalf("%d key runs", len(runs))
	}
	data, err := os.ReadFile(runs[1])
	if err != nil {
		t.Fatal(err)
	}
	data[40] ^= 1
	write(t, runs[1], data)
	stray := filepath.Join(dir, "segments", keyRunName(1, 2))
	write(t, stray, []byte("not a run"))
	runs = keyRunPaths(t, dir)
	st, err = openReadOnly(context.Background(), dir, keyRunOptions)
	if err != nil {
		t.Fatal(err)
	}
	checkKeyLookups(t, st, 1500)
	if got := len(st.ix.KeyRuns()); got != 1 {
		t.Fatalf("read-only: the index reads %d key runs, want the one before the damaged", got)
	}
	st.Close()
	if got := keyRunPaths(t, dir); !slices.Equal(got, runs) {
		t.Fatalf("a read-only open changed the runs: %v, was %v", got, runs)
	}
	rep, err := Check(context.Background(), dir)
	if !errors.Is(err, trove.ErrCorrupt) || !strings.Contains(err.Error(), "next open repairs") || len(rep.Repairable) == 0 {
		t.Fatalf("check of a damaged run: %v (%+v), want damage the next open repairs", err, rep)
	}
	if got := keyRunPaths(t, dir); !slices.Equal(got, runs) {
		t.Fatalf("check changed the runs: %v, was %v", got, runs)
	}
}
