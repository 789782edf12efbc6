package local_test

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/blob/local"
	"github.com/trovedb/trove/internal/fsutil/locktest"
)

// lockChildEnv, when set, makes TestLockChild open that directory.
const lockChildEnv = "LOCAL_LOCK_CHILD_DIR"

// TestLockChild runs only as the child of TestSecondProcessLocked: it opens
// the store and keeps it open.
func TestLockChild(t *testing.T) {
	locktest.Holder(t, lockChildEnv, func(dir string) (io.Closer, error) { return local.Open(dir) })
}

func TestSecondProcessLocked(t *testing.T) {
	dir := t.TempDir()
	h := locktest.Hold(t, lockChildEnv, "TestLockChild", dir)
	// A leftover of a crashed Put: a second Open must not remove it.
	leftover := filepath.Join(dir, "objects", ".staged-leftover")
	if err := os.WriteFile(leftover, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := locktest.TreeState(t, dir)
	_, err := local.Open(dir)
	locktest.WantLocked(t, "Open", err, dir, h.Pid)
	if after := locktest.TreeState(t, dir); after != before {
		t.Fatalf("a failed Open changed the directory:\n%s\nthen\n%s", before, after)
	}
	h.Release()
	s, err := local.Open(dir)
	if err != nil {
		t.Fatalf("open after the holder closed: %v", err)
	}
	defer s.Close()
	if _, err := os.Stat(leftover); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the open that holds the lock keeps the leftover: %v", err)
	}
}

func TestSecondOpenInProcessLocked(t *testing.T) {
	dir := t.TempDir()
	s, err := local.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := local.Open(dir); !errors.Is(err, trove.ErrLocked) {
		t.Fatalf("second Open: got %v, want ErrLocked", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	s, err = local.Open(dir)
	if err != nil {
		t.Fatalf("open after Close: %v", err)
	}
	s.Close()
}
