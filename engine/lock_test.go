package engine

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trovedb/trove"
)

// lockChildEnv, when set, makes TestLockChild open that directory.
const lockChildEnv = "ENGINE_LOCK_CHILD_DIR"

// TestLockChild runs only as the child of TestSecondProcessLocked: it opens
// the store with the search index on, saves 10 events, prints "open", and
// keeps the store open until stdin closes.
func TestLockChild(t *testing.T) {
	dir := os.Getenv(lockChildEnv)
	if dir == "" {
		t.Skip("runs only as the child of TestSecondProcessLocked")
	}
	st, err := Open(dir, Options{SearchIndex: "on"})
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	saveBatches(t, st, 0, 10, 5)
	fmt.Println("open")
	bufio.NewReader(os.Stdin).ReadString('\n')
	if err := st.Close(); err != nil {
		fmt.Println("close:", err)
	}
}

// treeState lists every file under dir with its size and modification
// time: two equal states mean nothing was written. The search index is
// left out: the holder's bleve merges its files on its own schedule.
func treeState(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if rel == "search.bleve" {
			return fs.SkipDir
		}
		fmt.Fprintf(&b, "%s %d %d\n", rel, info.Size(), info.ModTime().UnixNano())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestSecondProcessLocked(t *testing.T) {
	dir := t.TempDir()
	child := exec.Command(os.Args[0], "-test.run=^TestLockChild$")
	child.Env = append(os.Environ(), lockChildEnv+"="+dir)
	stdin, err := child.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer child.Process.Kill()
	if line, _ := bufio.NewReader(out).ReadString('\n'); strings.TrimSpace(line) != "open" {
		t.Fatalf("child: %q", line)
	}
	before := treeState(t, dir)
	pid := strconv.Itoa(child.Process.Pid)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The search index is on: the directory's lock must fail the open
	// before bleve's own lock is waited for.
	for name, open := range map[string]func() error{
		"Open": func() error {
			st, err := OpenContext(ctx, dir, Options{SearchIndex: "on"})
			if err == nil {
				st.Close()
			}
			return err
		},
		"Check": func() error { _, err := Check(ctx, dir); return err },
	} {
		err := open()
		if !errors.Is(err, trove.ErrLocked) {
			t.Fatalf("%s beside another process: got %v, want ErrLocked", name, err)
		}
		if msg := err.Error(); !strings.Contains(msg, dir) || !strings.Contains(msg, "process "+pid) {
			t.Fatalf("%s: %q does not name %s and process %s", name, msg, dir, pid)
		}
	}
	if after := treeState(t, dir); after != before {
		t.Fatalf("failed opens changed the directory:\n%s\nthen\n%s", before, after)
	}
	stdin.Close()
	if err := child.Wait(); err != nil {
		t.Fatal(err)
	}
	st, err := Open(dir, Options{SearchIndex: "on"})
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
