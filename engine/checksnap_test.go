package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trovedb/trove"
)

// TestCheckDamagedSnapshotRepairable: a damaged index.snap loses nothing
// (the index is rebuilt from the log) but is damage: Check reports it as
// repairable with an error wrapping ErrCorrupt, changes nothing, and the
// next Open repairs it.
func TestCheckDamagedSnapshotRepairable(t *testing.T) {
	for name, damage := range map[string]func([]byte) []byte{
		"flipped byte": func(b []byte) []byte { b[len(b)/2] ^= 0xff; return b },
		"truncated":    func(b []byte) []byte { return b[:len(b)/3] },
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			st := openStore(t, dir, Options{})
			saveBatches(t, st, 0, 40, 10)
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
			snap := filepath.Join(dir, "index.snap")
			raw, err := os.ReadFile(snap)
			if err != nil {
				t.Fatal(err)
			}
			bad := damage(append([]byte(nil), raw...))
			if err := os.WriteFile(snap, bad, 0o644); err != nil {
				t.Fatal(err)
			}
			rep, err := Check(context.Background(), dir)
			if !errors.Is(err, trove.ErrCorrupt) || len(rep.Repairable) != 1 || len(rep.Problems) != 0 ||
				!strings.Contains(rep.Repairable[0], snap) || rep.Events != 40 {
				t.Fatalf("check: %+v, %v", rep, err)
			}
			if b, _ := os.ReadFile(snap); string(b) != string(bad) {
				t.Fatal("Check changed index.snap")
			}
			st = openStore(t, dir, Options{})
			if st.Last() != 40 {
				t.Fatalf("last %d after the rebuild", st.Last())
			}
			saveBatches(t, st, 40, 1, 1) // a write, so Close writes a new snapshot
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
			if rep, err := Check(context.Background(), dir); err != nil || len(rep.Repairable) != 0 {
				t.Fatalf("check after the repair: %+v, %v", rep, err)
			}
		})
	}
}
