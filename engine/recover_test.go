package engine

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/trovedb/trove"
)

// TestRecoveryTable damages a crashed store in each way a crash or a bad
// disk can, reopens it and counts the events that survive.
func TestRecoveryTable(t *testing.T) {
	// 50 events in 10 WAL entries of 5; a snapshot covers the first 5
	// entries (a clean close after 25 events); nothing is sealed.
	setup := func(t *testing.T) string {
		dir := t.TempDir()
		o := Options{SegmentSize: 1 << 30}
		st := openStore(t, dir, o)
		saveBatches(t, st, 0, 25, 5)
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		st = openStore(t, dir, o)
		saveBatches(t, st, 25, 25, 5)
		crashed := copyDir(t, dir)
		st.Close()
		return crashed
	}
	// The same 50 events, then a clean close: the snapshot covers every
	// WAL entry, so each one is proven acknowledged.
	closed := func(t *testing.T) string {
		dir := t.TempDir()
		st := openStore(t, dir, Options{SegmentSize: 1 << 30})
		saveBatches(t, st, 0, 50, 5)
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	// 20 events in one batch, then a clean close: one WAL entry.
	oneBatch := func(t *testing.T) string {
		dir := t.TempDir()
		st := openStore(t, dir, Options{SegmentSize: 1 << 30})
		saveBatches(t, st, 0, 20, 20)
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	flipMiddle := func(t *testing.T, dir string) {
		name, last := lastWALFile(t, dir)
		data, _ := os.ReadFile(name)
		data[(int(last)+len(data))/2] ^= 0x01
		write(t, name, data)
	}
	cases := []struct {
		name    string
		setup   func(t *testing.T) string // default: setup
		damage  func(t *testing.T, dir string)
		survive int // -1: Open and Check must report corruption
		// where, for survive -1: the damaged file (relative to the store)
		// and offset (-1 for none) the CorruptionError names
		file   string
		offset func(t *testing.T, dir string) int64
	}{
		{name: "clean crash", damage: func(t *testing.T, dir string) {}, survive: 50},
		{name: "torn header", damage: func(t *testing.T, dir string) {
			name, last := lastWALFile(t, dir)
			truncate(t, name, last+3) // inside the length and frame header
		}, survive: 45},
		{name: "partial entry", damage: func(t *testing.T, dir string) {
			name, _ := lastWALFile(t, dir)
			fi, _ := os.Stat(name)
			truncate(t, name, fi.Size()-10)
		}, survive: 45},
		{name: "bad CRC", damage: func(t *testing.T, dir string) {
			name, _ := lastWALFile(t, dir)
			data, _ := os.ReadFile(name)
			data[len(data)-5] ^= 0xff
			write(t, name, data)
		}, survive: 45},
		{name: "zeroed tail", damage: func(t *testing.T, dir string) {
			name, _ := lastWALFile(t, dir)
			data, _ := os.ReadFile(name)
			write(t, name, append(data, make([]byte, 4096)...))
		}, survive: 50},
		{name: "truncated seal (tmp file left)", damage: func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "segments", ".00000000000000000001.seg.tmp-123"), []byte("TRVSEG partial"))
		}, survive: 50},
		{name: "crash mid-snapshot (tmp file left)", damage: func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, ".index.snap.tmp-99"), []byte("TRVINDEX half"))
		}, survive: 50},
		{name: "damaged snapshot", damage: func(t *testing.T, dir string) {
			name := filepath.Join(dir, "index.snap")
			data, _ := os.ReadFile(name)
			data[len(data)/2] ^= 0xff
			write(t, name, data)
		}, survive: 50},
		{name: "missing snapshot", damage: func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "index.snap"))
		}, survive: 50},
		{name: "damaged acknowledged batch (snapshot proves it)", setup: oneBatch, damage: flipMiddle, survive: -1,
			file: "wal/00000000000000000001", offset: func(*testing.T, string) int64 { return 0 }},
		{name: "damaged last entry after a clean close", setup: closed, damage: flipMiddle, survive: -1,
			file: "wal/00000000000000000001", offset: func(t *testing.T, dir string) int64 {
				_, last := lastWALFile(t, dir)
				return last
			}},
		{name: "torn last entry after a clean close", setup: closed, damage: func(t *testing.T, dir string) {
			name, _ := lastWALFile(t, dir)
			fi, _ := os.Stat(name)
			truncate(t, name, fi.Size()-10)
		}, survive: -1, file: "wal/00000000000000000001", offset: func(t *testing.T, dir string) int64 {
			_, last := lastWALFile(t, dir)
			return last
		}},
		{name: "WAL lost after a clean close", setup: closed, damage: func(t *testing.T, dir string) {
			name, _ := lastWALFile(t, dir)
			os.Remove(name)
		}, survive: -1, file: "wal", offset: func(*testing.T, string) int64 { return -1 }},
		{name: "damaged entry the snapshot does not cover", setup: closed, damage: func(t *testing.T, dir string) {
			st := openStore(t, dir, Options{SegmentSize: 1 << 30})
			saveBatches(t, st, 50, 5, 5)
			crashed := copyDir(t, dir)
			st.Close()
			os.RemoveAll(dir)
			if err := os.Rename(crashed, dir); err != nil {
				t.Fatal(err)
			}
			flipMiddle(t, dir)
		}, survive: 50},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var dir string
			if c.setup != nil {
				dir = c.setup(t)
			} else {
				dir = setup(t)
			}
			c.damage(t, dir)
			if c.survive < 0 {
				offset := c.offset(t, dir)
				before := snapshotFiles(t, dir)
				_, err := Open(dir, Options{SegmentSize: 1 << 30})
				checkCorruption(t, "open", err, filepath.Join(dir, c.file), offset)
				rep, err := Check(context.Background(), dir)
				checkCorruption(t, "check", err, filepath.Join(dir, c.file), offset)
				if len(rep.Problems) == 0 {
					t.Fatalf("check reported no problem: %+v", rep)
				}
				// Neither the failed Open nor Check changed a byte.
				if after := snapshotFiles(t, dir); !maps.Equal(before, after) {
					t.Fatalf("files changed:\nbefore %v\nafter  %v", keys(before), keys(after))
				}
				return
			}
			st := openStore(t, dir, Options{SegmentSize: 1 << 30})
			defer st.Close()
			checkEvents(t, st, c.survive)
			// The store goes on from where it stands.
			if _, err := st.SaveEvent(context.Background(), testEvent(c.survive)); err != nil {
				t.Fatal(err)
			}
			checkEvents(t, st, c.survive+1)
		})
	}
}

// TestRecoverySealCrash stops at each crash point of a seal — snapshot
// written (on the seal's goroutine, the writer going on), segment written,
// WAL files not yet dropped — copies the disk as a crash would leave it and
// reopens the copy: every event acknowledged by then survives, once.
func TestRecoverySealCrash(t *testing.T) {
	for _, point := range []string{"seal:segment-written", "seal:snapshot-written"} {
		t.Run(point, func(t *testing.T) {
			dir := t.TempDir()
			o := Options{SegmentSize: 8 << 10, BlockSize: 1 << 10}
			st := openStore(t, dir, o)
			var once sync.Once
			var crashed string
			var acked uint64
			st.hook = func(p string) {
				if p == point {
					once.Do(func() {
						// The writer may go on (the snapshot is written
						// on the seal's goroutine), but no seal can start
						// a WAL drop: let the last one end, so that the
						// copy holds no WAL files with a gap a crash
						// cannot leave.
						st.walDrops.Wait()
						acked = st.Last()
						crashed = copyDir(t, dir)
					})
				}
			}
			saveBatches(t, st, 0, 200, 5)
			st.Close()
			if crashed == "" {
				t.Fatal("no seal happened")
			}
			st = openStore(t, crashed, o)
			// Events saved while the copy was made may be in it too.
			held := st.Last()
			if held < acked {
				t.Fatalf("the copy holds %d events, %d were acknowledged", held, acked)
			}
			checkEvents(t, st, int(held))
			saveBatches(t, st, int(held), 100, 5)
			checkEvents(t, st, int(held)+100)
			st.Close()
			// And once more, from the snapshot the close wrote.
			st = openStore(t, crashed, o)
			defer st.Close()
			checkEvents(t, st, int(held)+100)
		})
	}
}

// TestSealedCorruption: damage inside a sealed segment is reported with
// its location, never dropped and never a panic.
func TestSealedCorruption(t *testing.T) {
	dir := t.TempDir()
	o := Options{SegmentSize: 8 << 10, BlockSize: 1 << 10}
	st := openStore(t, dir, o)
	saveBatches(t, st, 0, 200, 5)
	st.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "segments", "*.seg"))
	if len(segs) == 0 {
		t.Fatal("no segment")
	}
	data, _ := os.ReadFile(segs[0])
	data[40] ^= 0xff // inside the first block
	write(t, segs[0], data)
	rep, err := Check(context.Background(), dir)
	var ce *trove.CorruptionError
	if !errors.Is(err, trove.ErrCorrupt) || !errors.As(err, &ce) || ce.File == "" {
		t.Fatalf("check: %v (report %+v), want a CorruptionError", err, rep)
	}
	st = openStore(t, dir, o)
	defer st.Close()
	_, err = st.GetEvent(context.Background(), trove.EventID{ID: testEvent(0).ID.ID})
	if !errors.Is(err, trove.ErrCorrupt) {
		t.Fatalf("get from a damaged block: %v, want ErrCorrupt", err)
	}
}

// checkCorruption asserts err is a *trove.CorruptionError locating file at
// offset.
func checkCorruption(t *testing.T, what string, err error, file string, offset int64) {
	t.Helper()
	var ce *trove.CorruptionError
	if !errors.Is(err, trove.ErrCorrupt) || !errors.As(err, &ce) {
		t.Fatalf("%s: %v, want a CorruptionError", what, err)
	}
	if ce.File != file || ce.Offset != offset {
		t.Fatalf("%s: corruption at %s offset %d, want %s offset %d (%v)", what, ce.File, ce.Offset, file, offset, err)
	}
}

// snapshotFiles returns every file under dir with its contents.
func snapshotFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		files[path] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func keys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

func truncate(t *testing.T, name string, size int64) {
	t.Helper()
	if err := os.Truncate(name, size); err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(name, data, 0o640); err != nil {
		t.Fatal(err)
	}
}

// TestCheckReadOnly: Check changes nothing it checks. A crashed store with
// a torn WAL tail, a leftover temporary file and a damaged sealed block is
// checked twice: the same report both times, and every file byte-identical
// before and after.
func TestCheckReadOnly(t *testing.T) {
	dir := t.TempDir()
	o := Options{SegmentSize: 8 << 10, BlockSize: 1 << 10}
	st := openStore(t, dir, o)
	saveBatches(t, st, 0, 200, 5)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	// Without the snapshot nothing proves the last entry was acknowledged:
	// the state a crash during its write leaves.
	crashed := dir
	if err := os.Remove(filepath.Join(crashed, "index.snap")); err != nil {
		t.Fatal(err)
	}
	name, _ := lastWALFile(t, crashed)
	data, _ := os.ReadFile(name)
	data[len(data)-5] ^= 0xff // the last entry: never acknowledged as far as the disk shows
	write(t, name, data)
	write(t, filepath.Join(crashed, "segments", ".00000000000000000099.seg.tmp-1"), []byte("TRVSEG partial"))

	ctx := context.Background()
	before := snapshotFiles(t, crashed)
	rep1, err := Check(ctx, crashed)
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	rep2, err := Check(ctx, crashed)
	if err != nil {
		t.Fatalf("second check: %v", err)
	}
	if !reflect.DeepEqual(rep1, rep2) {
		t.Fatalf("reports differ:\n%+v\n%+v", rep1, rep2)
	}
	if rep1.TornTail == "" || rep1.Events != 195 || rep1.Segments == 0 {
		t.Fatalf("report %+v: want a torn tail, 195 events, segments", rep1)
	}
	if after := snapshotFiles(t, crashed); !maps.Equal(before, after) {
		t.Fatalf("check changed the files:\nbefore %v\nafter  %v", keys(before), keys(after))
	}

	// Damage in a sealed block: the same problems both times, nothing changed.
	segs, _ := filepath.Glob(filepath.Join(crashed, "segments", "*.seg"))
	data, _ = os.ReadFile(segs[0])
	data[40] ^= 0xff
	write(t, segs[0], data)
	before = snapshotFiles(t, crashed)
	rep1, err1 := Check(ctx, crashed)
	rep2, err2 := Check(ctx, crashed)
	if !errors.Is(err1, trove.ErrCorrupt) || !errors.Is(err2, trove.ErrCorrupt) || err1.Error() != err2.Error() {
		t.Fatalf("checks of a damaged block: %v / %v", err1, err2)
	}
	if !reflect.DeepEqual(rep1, rep2) || len(rep1.Problems) == 0 {
		t.Fatalf("reports differ or are empty:\n%+v\n%+v", rep1, rep2)
	}
	if after := snapshotFiles(t, crashed); !maps.Equal(before, after) {
		t.Fatal("check changed the files")
	}
	// Opening must rebuild the index from the damaged segment: it refuses.
	if st, err := Open(crashed, o); !errors.Is(err, trove.ErrCorrupt) {
		if err == nil {
			st.Close()
		}
		t.Fatalf("open with a damaged sealed block and no snapshot: %v, want ErrCorrupt", err)
	}
}
