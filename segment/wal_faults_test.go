package segment

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/tidwall/wal"
	"github.com/trovedb/trove/internal/faultfs"
)

// The parts of the tidwall/wal contract only a filesystem below tidwall can
// see: when it writes and fsyncs, and what a failed write leaves. A FUSE
// mount (internal/faultfs) records every operation.
func TestTidwallContractSync(t *testing.T) {
	ffs := faultfs.MountT(t)
	dir := filepath.Join(ffs.Dir, "wal")
	if err := os.Mkdir(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	l, err := openTidwall(dir, 2<<10)
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			l.Close()
		}
	}()
	fillTidwall(t, l, 1, 2, 1)
	ops := func(evs []faultfs.Event) string {
		var b []string
		for _, e := range evs {
			s := e.Op + " " + strings.TrimPrefix(e.Path, "wal/")
			if e.To != "" {
				s += " → " + strings.TrimPrefix(e.To, "wal/")
			}
			b = append(b, s)
		}
		return strings.Join(b, "; ")
	}
	syncs := func(evs []faultfs.Event) (n int) {
		for _, e := range evs {
			if strings.HasPrefix(e.Op, "fsync") {
				n++
			}
		}
		return n
	}

	// No cut: writes only, no fsync.
	ffs.Record()
	if err := l.Write(3, []byte("small")); err != nil {
		t.Fatal(err)
	}
	if evs := ffs.Events(); syncs(evs) != 0 || len(evs) == 0 {
		broke(t, "sync", "a NoSync WriteBatch without a cut did %q, want writes and no fsync", ops(evs))
	}

	// Cuts: each full file is fsynced before the next one is created; the
	// tail is never fsynced and no directory is.
	ffs.Record()
	var b wal.Batch
	for i := uint64(4); i <= 30; i++ {
		b.Write(i, bytes.Repeat([]byte{byte(i)}, 300))
	}
	if err := l.WriteBatch(&b); err != nil {
		t.Fatal(err)
	}
	evs := ffs.Events()
	files, _ := listWALFiles(dir)
	if len(files) < 3 {
		t.Fatalf("fixture: %d files", len(files))
	}
	synced := map[string]bool{}
	for _, e := range evs {
		switch e.Op {
		case "fsync":
			synced[e.Path] = true
		case "fsync dir":
			broke(t, "sync", "tidwall fsynced a directory: %q", ops(evs))
		case "create":
			for _, f := range files {
				if "wal/"+f.name < e.Path && !synced["wal/"+f.name] {
					broke(t, "sync", "a cut created %s before %s was fsynced: %q", e.Path, f.name, ops(evs))
				}
			}
		}
	}
	if tail := "wal/" + files[len(files)-1].name; synced[tail] {
		broke(t, "sync", "a NoSync WriteBatch fsynced the tail %s: %q", tail, ops(evs))
	}

	// TruncateFront: the START file is fsynced before it is renamed; no
	// directory is fsynced.
	ffs.Record()
	if err := l.TruncateFront(5); err != nil {
		t.Fatal(err)
	}
	evs = ffs.Events()
	start := "wal/" + walFileName(5) + tidwallStart
	iSync, iRename := -1, -1
	for i, e := range evs {
		if e.Op == "fsync" && e.Path == start+tidwallTemp && iSync < 0 {
			iSync = i
		}
		if e.Op == "rename" && e.Path == start+tidwallTemp && e.To == start {
			iRename = i
		}
		if e.Op == "fsync dir" {
			broke(t, "sync", "TruncateFront fsynced a directory: %q", ops(evs))
		}
	}
	if iSync < 0 || iRename < iSync {
		broke(t, "sync", "TruncateFront did %q: want %s fsynced, then renamed to %s", ops(evs), start+tidwallTemp, start)
	}

	// Close fsyncs the tail.
	files, _ = listWALFiles(dir)
	ffs.Record()
	closed = true
	closeTidwall(t, l)
	evs = ffs.Events()
	if !slices.ContainsFunc(evs, func(e faultfs.Event) bool {
		return e.Op == "fsync" && e.Path == "wal/"+files[len(files)-1].name
	}) {
		broke(t, "sync", "Close did %q, want an fsync of the tail", ops(evs))
	}
}

// tidwall keeps the entries of a failed WriteBatch in memory: the log must
// not be written again after a failure.
func TestTidwallContractWriteFailure(t *testing.T) {
	ffs := faultfs.MountT(t)
	dir := filepath.Join(ffs.Dir, "wal")
	if err := os.Mkdir(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	l, err := openTidwall(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Write(1, []byte("first")); err != nil {
		t.Fatal(err)
	}
	ffs.Inject(faultfs.Rule{Op: faultfs.OpWrite, Match: "wal/*", Count: 1})
	if err := l.Write(2, []byte("failed")); err == nil {
		t.Fatal("a write through an injected EIO succeeded")
	}
	if last, _ := l.LastIndex(); last != 1 {
		broke(t, "write failure", "LastIndex %d after a failed write, want 1", last)
	}
	if err := l.Write(2, []byte("second")); err != nil {
		t.Fatalf("Write after the failure: %v", err)
	}
	if got, _ := l.Read(2); bytes.Equal(got, []byte("second")) {
		broke(t, "write failure", "after a failed write tidwall reads back the next entry correctly: it may now be safe to write after a failure (update tidwall.go)")
	}
}

// Faults and power cuts under a WAL: after each, OpenWAL on what the disk
// holds opens, holds every acknowledged entry and nothing but entries that
// were written whole.
func TestWALFaults(t *testing.T) {
	type scenario struct {
		name string
		rule *faultfs.Rule // nil: a power cut only
	}
	var cases []scenario
	for _, skip := range []int{0, 3, 11, 25} {
		cases = append(cases,
			scenario{fmt.Sprintf("fsync fails after %d", skip), &faultfs.Rule{Op: faultfs.OpSync, Match: "wal/*", Skip: skip}},
			scenario{fmt.Sprintf("write fails after %d", skip), &faultfs.Rule{Op: faultfs.OpWrite, Match: "wal/*", Skip: skip}},
			scenario{fmt.Sprintf("short write after %d", skip), &faultfs.Rule{Op: faultfs.OpWrite, Match: "wal/*", Skip: skip, Short: true, Errno: syscall.ENOSPC}},
		)
	}
	for _, skip := range []int{0, 2, 5} {
		cases = append(cases, scenario{fmt.Sprintf("directory fsync fails after %d", skip), &faultfs.Rule{Op: faultfs.OpSyncDir, Match: "wal", Skip: skip}})
	}
	for i := range 4 {
		cases = append(cases, scenario{fmt.Sprintf("power cut %d", i), nil})
	}
	ffs := faultfs.MountT(t)
	for ci, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ffs.Heal()
			faults0 := ffs.Faults()
			dir := filepath.Join(ffs.Dir, fmt.Sprintf("wal%d", ci))
			opts := WALOptions{SegmentSize: 3 << 10}
			w, _, err := OpenWAL(dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				// tidwall's Close returns on a failing fsync without
				// closing its file: heal first, so that the mount can go.
				ffs.Heal()
				w.Close()
			}()
			if tc.rule != nil {
				r := *tc.rule
				r.Match = strings.Replace(r.Match, "wal", filepath.Base(dir), 1)
				ffs.Inject(r)
			}
			r := rand.New(rand.NewPCG(uint64(ci), 3))
			acked := map[uint64][]Record{}
			tried := map[uint64][]Record{}
			var lastAcked uint64
			var failure error
			pos := uint64(1)
			calls := 40 + r.IntN(20)
			for call := 0; call < calls; call++ {
				if call%9 == 8 && failure == nil {
					// Drop what an engine would have sealed; sometimes
					// exactly at the tail file's first entry.
					to := w.FirstIndex() + uint64(r.IntN(3))
					if files, _ := listWALFiles(dir); r.IntN(2) == 0 && len(files) > 0 {
						to = files[len(files)-1].index
					}
					to = min(to, w.NextIndex())
					if err := w.TruncateFront(to); err != nil {
						failure = err
						continue
					}
					for i := range acked {
						if i < to {
							delete(acked, i)
						}
					}
					continue
				}
				var bs [][]Record
				for range 1 + r.IntN(3) {
					n := 1 + r.IntN(6)
					bs = append(bs, batch(pos, n))
					pos += uint64(n)
				}
				next := w.NextIndex()
				first, err := w.Append(bs)
				if failure != nil {
					if err == nil {
						t.Fatalf("Append acknowledged after the failure %v", failure)
					}
					continue
				}
				for i, b := range bs {
					tried[next+uint64(i)] = b
				}
				if err != nil {
					failure = err
					continue
				}
				for i, b := range bs {
					acked[first+uint64(i)] = b
					lastAcked = first + uint64(i)
				}
			}
			if tc.rule != nil && ffs.Faults() == faults0 {
				t.Fatalf("the rule never fired: the scenario tests nothing")
			}
			if tc.rule != nil && failure == nil {
				t.Fatalf("%d faults injected but no Append failed", ffs.Faults()-faults0)
			}
			if failure != nil {
				ffs.Heal() // the disk recovers; the WAL must not
				for range 3 {
					if _, err := w.Append([][]Record{batch(pos, 1)}); err == nil {
						t.Fatalf("Append acknowledged after the failure %v", failure)
					}
				}
			}
			cut := t.TempDir()
			if err := ffs.Crash(cut); err != nil {
				t.Fatal(err)
			}
			w2, rec, err := OpenWAL(filepath.Join(cut, filepath.Base(dir)), opts)
			if err != nil {
				t.Fatalf("OpenWAL after the cut (failure %v): %v", failure, err)
			}
			defer w2.Close()
			if w2.LastIndex() < lastAcked {
				t.Fatalf("the log ends at %d, but %d was acknowledged (failure %v, recovery %+v)", w2.LastIndex(), lastAcked, failure, rec)
			}
			for i, want := range acked {
				got, err := w2.Read(i)
				if err != nil {
					t.Fatalf("acknowledged entry %d: %v (recovery %+v)", i, err, rec)
				}
				equalRecords(t, got, want)
			}
			for i := max(w2.FirstIndex(), lastAcked+1); w2.FirstIndex() != 0 && i <= w2.LastIndex(); i++ {
				got, err := w2.Read(i)
				if err != nil {
					t.Fatalf("entry %d past the acknowledged ones: %v", i, err)
				}
				want, ok := tried[i]
				if !ok {
					t.Fatalf("entry %d was never written", i)
				}
				equalRecords(t, got, want)
			}
		})
	}
}

// Recovery's own writes (cutting a torn tail, syncing it) can fail too:
// OpenWAL then fails, and the next open, after a power cut or not, repairs
// the same tail and holds every acknowledged entry.
func TestWALRecoveryFaults(t *testing.T) {
	ffs := faultfs.MountT(t)
	dir := filepath.Join(ffs.Dir, "wal")
	opts := WALOptions{SegmentSize: 4 << 10}
	w := openWAL(t, dir, opts)
	var want [][]Record
	for i := 0; i < 12; i++ {
		b := batch(uint64(i*3+1), 3)
		if _, err := w.Append([][]Record{b}); err != nil {
			t.Fatal(err)
		}
		want = append(want, b)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// A torn last Append, durable as such.
	files, _ := listWALFiles(dir)
	tail := filepath.Join(dir, files[len(files)-1].name)
	torn := appendTidwallEntry(nil, appendFrame(nil, uint64(len(want)+1), flagBegin|flagCommit, batch(999, 2)))
	f, err := os.OpenFile(tail, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(torn[:len(torn)/2]); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	// check opens dir; cut says whether the torn entry must still be there
	// to be cut (on the mount, the failed open may have cut it already).
	check := func(t *testing.T, dir string, cut bool) {
		t.Helper()
		w, rec, err := OpenWAL(dir, opts)
		if err != nil {
			t.Fatalf("OpenWAL: %v", err)
		}
		defer w.Close()
		if (cut && rec.TruncatedEntries != 1) || rec.TruncatedEntries > 1 || w.LastIndex() != uint64(len(want)) {
			t.Fatalf("recovery %+v, last %d; want the torn entry cut and %d entries", rec, w.LastIndex(), len(want))
		}
		for i, b := range want {
			got, err := w.Read(uint64(i + 1))
			if err != nil {
				t.Fatal(err)
			}
			equalRecords(t, got, b)
		}
	}
	for _, r := range []faultfs.Rule{
		{Op: faultfs.OpSync, Match: "wal/*"},
		{Op: faultfs.OpSyncDir, Match: "wal"},
	} {
		ffs.Inject(r)
		if w, _, err := OpenWAL(dir, opts); err == nil {
			w.Close()
			t.Fatalf("OpenWAL succeeded although its repair's %s failed", r.Op)
		}
		cut := t.TempDir()
		if err := ffs.Crash(cut); err != nil {
			t.Fatal(err)
		}
		ffs.Heal()
		if r.Op == faultfs.OpSync {
			check(t, filepath.Join(cut, "wal"), true)
		}
	}
	check(t, dir, false)
}
