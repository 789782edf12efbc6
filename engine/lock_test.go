package engine

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/internal/fsutil/locktest"
)

// lockChildEnv, when set, makes TestLockChild open that directory.
const lockChildEnv = "ENGINE_LOCK_CHILD_DIR"

// TestLockChild runs only as the child of TestSecondProcessLocked: it opens
// the store with the search index on, saves 10 events, and keeps it open.
func TestLockChild(t *testing.T) {
	locktest.Holder(t, lockChildEnv, func(dir string) (io.Closer, error) {
		st, err := Open(dir, Options{SearchIndex: "on"})
		if err == nil {
			saveBatches(t, st, 0, 10, 5)
		}
		return st, err
	})
}

// treeState lists the store's files; the search index is left out: the
// holder's bleve merges its files on its own schedule.
func treeState(t *testing.T, dir string) string { return locktest.TreeState(t, dir, "search.bleve") }

func TestSecondProcessLocked(t *testing.T) {
	dir := t.TempDir()
	h := locktest.Hold(t, lockChildEnv, "TestLockChild", dir)
	before := treeState(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The search index is on: the directory's lock must fail the open
	// before bleve's own lock is waited for.
	st, err := OpenContext(ctx, dir, Options{SearchIndex: "on"})
	if err == nil {
		st.Close()
	}
	locktest.WantLocked(t, "Open", err, dir, h.Pid)
	_, err = Check(ctx, dir)
	locktest.WantLocked(t, "Check", err, dir, h.Pid)
	if after := treeState(t, dir); after != before {
		t.Fatalf("failed opens changed the directory:\n%s\nthen\n%s", before, after)
	}
	h.Release()
	st, err = Open(dir, Options{SearchIndex: "on"})
	if err != nil {
		t.Fatalf("open after the holder closed: %v", err)
	}
	defer st.Close()
	if got := st.Last(); got != 10 {
		t.Fatalf("last position %d, want the child's 10 events", got)
	}
}

func TestSecondOpenInProcessLocked(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir, Options{SearchIndex: "on"})
	saveBatches(t, st, 0, 3, 3)
	before := treeState(t, dir)
	if _, err := Open(dir, Options{SearchIndex: "on"}); !errors.Is(err, trove.ErrLocked) {
		t.Fatalf("second Open: got %v, want ErrLocked", err)
	}
	if _, err := Check(context.Background(), dir); !errors.Is(err, trove.ErrLocked) {
		t.Fatalf("Check of an open store: got %v, want ErrLocked", err)
	}
	if after := treeState(t, dir); after != before {
		t.Fatalf("failed opens changed the directory:\n%s\nthen\n%s", before, after)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	// Check holds a shared lock: writers wait for it, other checks do not.
	rd, err := openReadOnly(context.Background(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Check(context.Background(), dir); err != nil {
		t.Fatalf("Check beside a read-only store: %v", err)
	}
	if _, err := Open(dir, Options{}); !errors.Is(err, trove.ErrLocked) {
		t.Fatalf("Open beside a read-only store: got %v, want ErrLocked", err)
	}
	rd.Close()
	st = openStore(t, dir, Options{})
	if st.Last() != 3 {
		t.Fatalf("last %d, want 3", st.Last())
	}
	st.Close()
}

func TestOpenLockCanceled(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir, Options{})
	defer st.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := OpenContext(ctx, dir, Options{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

// TestOpenCanceledDuringRecovery: a ctx that ends stops recovery (Open and
// Check), which releases the lock and leaves the store as it was.
func TestOpenCanceledDuringRecovery(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir, Options{})
	saveBatches(t, st, 0, 20, 5)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "index.snap")) // recovery replays the whole log
	// The canceled opens take the free lock (and write their pid into
	// LOCK); nothing else may change.
	withoutLock := func() string {
		var keep []string
		for _, l := range strings.Split(treeState(t, dir), "\n") {
			if !strings.HasPrefix(l, "LOCK ") {
				keep = append(keep, l)
			}
		}
		return strings.Join(keep, "\n")
	}
	before := withoutLock()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := OpenContext(ctx, dir, Options{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Open: got %v, want context.Canceled", err)
	}
	if _, err := Check(ctx, dir); !errors.Is(err, context.Canceled) {
		t.Fatalf("Check: got %v, want context.Canceled", err)
	}
	if after := withoutLock(); after != before {
		t.Fatalf("canceled opens changed the directory:\n%s\nthen\n%s", before, after)
	}
	st = openStore(t, dir, Options{})
	defer st.Close()
	if st.Last() != 20 {
		t.Fatalf("last %d, want 20", st.Last())
	}
}
