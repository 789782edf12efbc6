package fsutil

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/trovedb/trove/internal/faultfs"
)

// MkdirAll makes every directory it creates durable: after a power cut
// (internal/faultfs keeps only what was fsynced) the whole path is there,
// where os.MkdirAll's would be gone.
func TestMkdirAllDurable(t *testing.T) {
	ffs := faultfs.MountT(t)
	if err := MkdirAll(filepath.Join(ffs.Dir, "a", "b", "c"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(ffs.Dir, "x", "y"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := MkdirAll(filepath.Join(ffs.Dir, "a", "b"), 0o750); err != nil {
		t.Fatalf("MkdirAll of an existing directory: %v", err)
	}
	cut := t.TempDir()
	if err := ffs.Crash(cut); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(filepath.Join(cut, "a", "b", "c")); err != nil || !st.IsDir() {
		t.Fatalf("after a power cut: %v", err)
	}
	if _, err := os.Stat(filepath.Join(cut, "x")); !os.IsNotExist(err) {
		t.Fatalf("the fault filesystem kept a directory nobody fsynced: %v", err)
	}
	file := filepath.Join(ffs.Dir, "f")
	if err := os.WriteFile(file, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := MkdirAll(file, 0o750); err == nil {
		t.Fatal("MkdirAll over a file succeeded")
	}
	if err := MkdirAll(filepath.Join(file, "sub"), 0o750); err == nil {
		t.Fatal("MkdirAll under a file succeeded")
	}
}
