package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
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
	cases := []struct {
		name    string
		damage  func(t *testing.T, dir string)
		survive int
	}{
		{"clean crash", func(t *testing.T, dir string) {}, 50},
		{"torn header", func(t *testing.T, dir string) {
			name, last := lastWALFile(t, dir)
			truncate(t, name, last+3) // inside the length and frame header
		}, 45},
		{"partial entry", func(t *testing.T, dir string) {
			name, _ := lastWALFile(t, dir)
			fi, _ := os.Stat(name)
			truncate(t, name, fi.Size()-10)
		}, 45},
		{"bad CRC", func(t *testing.T, dir string) {
			name, _ := lastWALFile(t, dir)
			data, _ := os.ReadFile(name)
			data[len(data)-5] ^= 0xff
			write(t, name, data)
		}, 45},
		{"zeroed tail", func(t *testing.T, dir string) {
			name, _ := lastWALFile(t, dir)
			data, _ := os.ReadFile(name)
			write(t, name, append(data, make([]byte, 4096)...))
		}, 50},
		{"truncated seal (tmp file left)", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "segments", ".00000000000000000001.seg.tmp-123"), []byte("TRVSEG partial"))
		}, 50},
		{"crash mid-snapshot (tmp file left)", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, ".index.snap.tmp-99"), []byte("TRVINDEX half"))
		}, 50},
		{"damaged snapshot", func(t *testing.T, dir string) {
			name := filepath.Join(dir, "index.snap")
			data, _ := os.ReadFile(name)
			data[len(data)/2] ^= 0xff
			write(t, name, data)
		}, 50},
		{"missing snapshot", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "index.snap"))
		}, 50},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := setup(t)
			c.damage(t, dir)
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

// TestRecoverySealCrash stops at each crash point of a seal — segment
// written, snapshot written, WAL not yet truncated — copies the disk as a
// crash would leave it and reopens the copy: every event acknowledged by
// then survives, once.
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
						crashed = copyDir(t, dir)
						acked = st.w.last
					})
				}
			}
			saveBatches(t, st, 0, 200, 5)
			st.Close()
			if crashed == "" {
				t.Fatal("no seal happened")
			}
			st = openStore(t, crashed, o)
			checkEvents(t, st, int(acked))
			saveBatches(t, st, int(acked), 100, 5)
			checkEvents(t, st, int(acked)+100)
			st.Close()
			// And once more, from the snapshot the close wrote.
			st = openStore(t, crashed, o)
			defer st.Close()
			checkEvents(t, st, int(acked)+100)
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
