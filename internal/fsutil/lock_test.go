package fsutil

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trovedb/trove"
)

// lockChildEnv, when set, makes TestLockChild hold that directory's lock
// until its stdin closes.
const lockChildEnv = "FSUTIL_LOCK_CHILD_DIR"

// TestLockChild runs only as the child of the tests below: it takes the
// directory's lock (exclusive unless FSUTIL_LOCK_CHILD_SHARED is set),
// prints "locked", and holds it until stdin closes.
func TestLockChild(t *testing.T) {
	dir := os.Getenv(lockChildEnv)
	if dir == "" {
		t.Skip("runs only as the child of the lock tests")
	}
	l, err := LockDir(context.Background(), dir, os.Getenv("FSUTIL_LOCK_CHILD_SHARED") == "")
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	fmt.Println("locked")
	bufio.NewReader(os.Stdin).ReadString('\n')
	l.Unlock()
}

// lockingChild starts a child process holding dir's lock and returns it
// with a function that releases the lock and waits for the child.
func lockingChild(t *testing.T, dir string, exclusive bool) (*exec.Cmd, func()) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockChild$")
	cmd.Env = append(os.Environ(), lockChildEnv+"="+dir)
	if !exclusive {
		cmd.Env = append(cmd.Env, "FSUTIL_LOCK_CHILD_SHARED=1")
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "locked" {
		stdin.Close()
		cmd.Wait()
		t.Fatalf("child: %q", line)
	}
	release := func() {
		stdin.Close()
		cmd.Wait()
	}
	t.Cleanup(release)
	return cmd, release
}

func TestLockDirSecondProcess(t *testing.T) {
	dir := t.TempDir()
	child, release := lockingChild(t, dir, true)
	before, err := os.ReadFile(filepath.Join(dir, LockFile))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(before)); got != strconv.Itoa(child.Process.Pid) {
		t.Fatalf("lock file holds %q, want the holder's pid %d", got, child.Process.Pid)
	}
	for _, exclusive := range []bool{true, false} {
		l, err := LockDir(context.Background(), dir, exclusive)
		if err == nil {
			l.Unlock()
			t.Fatalf("exclusive=%v: locked a directory another process holds", exclusive)
		}
		var le *LockedError
		if !errors.Is(err, trove.ErrLocked) || !errors.As(err, &le) {
			t.Fatalf("exclusive=%v: got %v, want a *LockedError matching trove.ErrLocked", exclusive, err)
		}
		if le.PID != child.Process.Pid || le.Dir != dir {
			t.Fatalf("exclusive=%v: error names pid %d dir %s, want %d %s", exclusive, le.PID, le.Dir, child.Process.Pid, dir)
		}
		msg := err.Error()
		if !strings.Contains(msg, dir) || !strings.Contains(msg, strconv.Itoa(child.Process.Pid)) {
			t.Fatalf("message %q names neither the directory nor the pid", msg)
		}
	}
	after, err := os.ReadFile(filepath.Join(dir, LockFile))
	if err != nil || string(after) != string(before) {
		t.Fatalf("failed openers changed the lock file: %q → %q (%v)", before, after, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("the directory holds %d entries, want only the lock file", len(entries))
	}
	release()
	l, err := LockDir(context.Background(), dir, true)
	if err != nil {
		t.Fatalf("after the holder ended: %v", err)
	}
	l.Unlock()
}

func TestLockDirSharedReaders(t *testing.T) {
	dir := t.TempDir()
	_, release := lockingChild(t, dir, false)
	r, err := LockDir(context.Background(), dir, false)
	if err != nil {
		t.Fatalf("a second shared lock: %v", err)
	}
	defer r.Unlock()
	_, err = LockDir(context.Background(), dir, true)
	var le *LockedError
	if !errors.As(err, &le) {
		t.Fatalf("exclusive lock beside shared ones: got %v, want *LockedError", err)
	}
	// Two processes hold it; the kernel names one of them.
	if le.PID <= 0 {
		t.Fatalf("holder pid unknown: %v", err)
	}
	release()
	r.Unlock()
	w, err := LockDir(context.Background(), dir, true)
	if err != nil {
		t.Fatal(err)
	}
	w.Unlock()
}

func TestLockDirSameProcess(t *testing.T) {
	dir := t.TempDir()
	l, err := LockDir(context.Background(), dir, true)
	if err != nil {
		t.Fatal(err)
	}
	_, err = LockDir(context.Background(), dir, true)
	var le *LockedError
	if !errors.As(err, &le) || le.PID != os.Getpid() || !strings.Contains(err.Error(), "this process") {
		t.Fatalf("second lock in one process: got %v", err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatalf("second Unlock: %v", err)
	}
	l, err = LockDir(context.Background(), dir, true)
	if err != nil {
		t.Fatalf("after Unlock: %v", err)
	}
	l.Unlock()
}

func TestLockDirContext(t *testing.T) {
	dir := t.TempDir()
	l, err := LockDir(context.Background(), dir, true)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = LockDir(ctx, dir, true)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled wait: got %v", err)
	}
	// An open ctx with a deadline far beyond LockWait: the wait still ends.
	ctx, cancel = context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := LockDir(ctx, dir, true); !errors.Is(err, trove.ErrLocked) {
		t.Fatalf("got %v, want ErrLocked", err)
	}
}

func TestLockDirMissingDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "absent")
	for _, exclusive := range []bool{true, false} {
		if _, err := LockDir(context.Background(), dir, exclusive); err == nil || errors.Is(err, trove.ErrLocked) {
			t.Fatalf("exclusive=%v: got %v, want a not-exist error", exclusive, err)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("LockDir created the directory: %v", err)
	}
}

func TestTryLockPathAndDowngrade(t *testing.T) {
	dir := t.TempDir()
	db, path := filepath.Join(dir, "x.db"), filepath.Join(dir, "x.db-lock")
	first, err := TryLockPath(db, path)
	if err != nil || first == nil {
		t.Fatalf("alone: %v, %v", first, err)
	}
	if l, err := TryLockPath(db, path); l != nil || err != nil {
		t.Fatalf("beside an exclusive holder: %v, %v; want nil, nil", l, err)
	}
	if _, err := LockPath(context.Background(), db, path, false); !errors.Is(err, trove.ErrLocked) || !strings.Contains(err.Error(), db) {
		t.Fatalf("shared beside exclusive: %v", err)
	}
	if err := first.Downgrade(context.Background()); err != nil {
		t.Fatal(err)
	}
	shared, err := LockPath(context.Background(), db, path, false)
	if err != nil {
		t.Fatalf("shared beside a downgraded lock: %v", err)
	}
	if l, err := TryLockPath(db, path); l != nil || err != nil {
		t.Fatalf("beside shared holders: %v, %v; want nil, nil", l, err)
	}
	first.Unlock()
	shared.Unlock()
	if l, err := TryLockPath(db, path); l == nil || err != nil {
		t.Fatalf("after every holder left: %v, %v", l, err)
	} else {
		l.Unlock()
	}
}
