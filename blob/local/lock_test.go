package local_test

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/blob/local"
)

// lockChildEnv, when set, makes TestLockChild open that directory.
const lockChildEnv = "LOCAL_LOCK_CHILD_DIR"

// TestLockChild runs only as the child of TestSecondProcessLocked: it opens
// the store, prints "open", and keeps it open until stdin closes.
func TestLockChild(t *testing.T) {
	dir := os.Getenv(lockChildEnv)
	if dir == "" {
		t.Skip("runs only as the child of TestSecondProcessLocked")
	}
	s, err := local.Open(dir)
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	fmt.Println("open")
	bufio.NewReader(os.Stdin).ReadString('\n')
	s.Close()
}

// treeState lists every file under dir with its size and modification
// time: two equal states mean nothing was written.
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
	// A leftover of a crashed Put: a second Open must not remove it.
	leftover := filepath.Join(dir, "objects", ".staged-leftover")
	if err := os.WriteFile(leftover, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := treeState(t, dir)
	_, err = local.Open(dir)
	if !errors.Is(err, trove.ErrLocked) {
		t.Fatalf("Open beside another process: got %v, want ErrLocked", err)
	}
	if msg := err.Error(); !strings.Contains(msg, dir) || !strings.Contains(msg, "process "+strconv.Itoa(child.Process.Pid)) {
		t.Fatalf("%q does not name %s and the child's pid", msg, dir)
	}
	if after := treeState(t, dir); after != before {
		t.Fatalf("a failed Open changed the directory:\n%s\nthen\n%s", before, after)
	}
	stdin.Close()
	if err := child.Wait(); err != nil {
		t.Fatal(err)
	}
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
