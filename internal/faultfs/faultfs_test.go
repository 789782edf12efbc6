package faultfs

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/trovedb/trove/internal/fsutil"
)

func write(t *testing.T, f *os.File, s string) {
	t.Helper()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

func crash(t *testing.T, ffs *FS) string {
	t.Helper()
	dst := t.TempDir()
	if err := ffs.Crash(dst); err != nil {
		t.Fatal(err)
	}
	return dst
}

func content(t *testing.T, p string) (string, bool) {
	t.Helper()
	d, err := os.ReadFile(p)
	if os.IsNotExist(err) {
		return "", false
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(d), true
}

func TestCrashKeepsOnlySyncedBytes(t *testing.T) {
	ffs := MountT(t)
	p := filepath.Join(ffs.Dir, "a")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	write(t, f, "synced")
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	write(t, f, " lost")
	// The file's name is not durable yet.
	if _, ok := content(t, filepath.Join(crash(t, ffs), "a")); ok {
		t.Fatal("a file whose directory was never fsynced survived the crash")
	}
	if err := fsutil.SyncDir(ffs.Dir); err != nil {
		t.Fatal(err)
	}
	got, ok := content(t, filepath.Join(crash(t, ffs), "a"))
	if !ok || got != "synced" {
		t.Fatalf("after the crash: %q %v, want the fsynced bytes only", got, ok)
	}
	// A rename is durable only with its directory.
	if err := os.Rename(p, filepath.Join(ffs.Dir, "b")); err != nil {
		t.Fatal(err)
	}
	dst := crash(t, ffs)
	if _, ok := content(t, filepath.Join(dst, "b")); ok {
		t.Fatal("an unsynced rename survived")
	}
	if got, _ := content(t, filepath.Join(dst, "a")); got != "synced" {
		t.Fatalf("the old name holds %q", got)
	}
	// An fsync through another descriptor, after the rename, covers the file.
	g, err := os.Open(filepath.Join(ffs.Dir, "b"))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if err := g.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := fsutil.SyncDir(ffs.Dir); err != nil {
		t.Fatal(err)
	}
	if got, _ := content(t, filepath.Join(crash(t, ffs), "b")); got != "synced lost" {
		t.Fatalf("after fsync via a second descriptor: %q", got)
	}
}

func TestInjectedFaults(t *testing.T) {
	ffs := MountT(t)
	if err := os.Mkdir(filepath.Join(ffs.Dir, "d"), 0o750); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(ffs.Dir, "d", "x"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ffs.Inject(Rule{Op: OpSync, Match: "d/*", Skip: 1, Count: 1})
	write(t, f, "one")
	if err := f.Sync(); err != nil {
		t.Fatalf("the skipped fsync: %v", err)
	}
	write(t, f, "two")
	if err := f.Sync(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("the injected fsync: %v, want EIO", err)
	}
	if ffs.Faults() != 1 {
		t.Fatalf("faults %d", ffs.Faults())
	}
	ffs.Inject(Rule{Op: OpSyncDir, Match: "d"})
	if err := fsutil.SyncDir(filepath.Join(ffs.Dir, "d")); !errors.Is(err, syscall.EIO) {
		t.Fatalf("the injected dir fsync: %v", err)
	}
	ffs.Heal()
	if err := fsutil.SyncDir(filepath.Join(ffs.Dir, "d")); err != nil {
		t.Fatal(err)
	}
	if err := fsutil.SyncDir(ffs.Dir); err != nil {
		t.Fatal(err)
	}
	if got, _ := content(t, filepath.Join(crash(t, ffs), "d", "x")); got != "one" {
		t.Fatalf("after a failed fsync: %q, want only the bytes of the good one", got)
	}
	ffs.Inject(Rule{Op: OpWrite, Match: "d/x", Short: true, Errno: syscall.ENOSPC})
	if _, err := f.WriteString("abcdefgh"); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("the injected write: %v", err)
	}
	ffs.Heal()
	if got, _ := content(t, filepath.Join(ffs.Dir, "d", "x")); got != "onetwoabcd" {
		t.Fatalf("a short failed write left %q, want half its bytes", got)
	}
}

// The way tidwall/wal truncates: a temporary file renamed over the old
// one, then reopened write-only and appended to; fsyncs through that
// descriptor count.
func TestSyncWriteOnlyAfterRename(t *testing.T) {
	ffs := MountT(t)
	d := ffs.Dir
	old, err := os.Create(filepath.Join(d, "7"))
	if err != nil {
		t.Fatal(err)
	}
	write(t, old, "old")
	tmp, err := os.Create(filepath.Join(d, "7.START.TEMP"))
	if err != nil {
		t.Fatal(err)
	}
	write(t, tmp, "new")
	if err := tmp.Sync(); err != nil {
		t.Fatal(err)
	}
	tmp.Close()
	old.Close()
	if err := os.Rename(filepath.Join(d, "7.START.TEMP"), filepath.Join(d, "7")); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(d, "7"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	write(t, f, "+more")
	if err := f.Sync(); err != nil {
		t.Fatalf("fsync of a write-only descriptor: %v", err)
	}
	if err := fsutil.SyncDir(d); err != nil {
		t.Fatal(err)
	}
	if got, _ := content(t, filepath.Join(crash(t, ffs), "7")); got != "new+more" {
		t.Fatalf("after the crash: %q", got)
	}
}
