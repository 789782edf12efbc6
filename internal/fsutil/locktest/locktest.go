// Package locktest holds what the two-process lock tests of the
// persistent stores share: a child process (the test binary itself, run as
// one named test) that holds a store open, the check that a refused open
// names the directory and the holder, and a listing of a directory's files
// to prove a refused open wrote nothing.
//
// A package's tests use it as
//
//	func TestLockChild(t *testing.T) {
//		locktest.Holder(t, "PKG_LOCK_CHILD_DIR", func(dir string) (io.Closer, error) { … })
//	}
//
//	func TestSecondProcessLocked(t *testing.T) {
//		h := locktest.Hold(t, "PKG_LOCK_CHILD_DIR", "TestLockChild", dir)
//		locktest.WantLocked(t, "Open", err, dir, h.Pid)
//		h.Release()
//	}
package locktest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/trovedb/trove"
)

// Holder is the child's side, the body of the test Hold names. Unless
// environment variable env is set it skips; with it set it opens the store
// in that directory with open, prints "open", and keeps it open until its
// stdin closes.
func Holder(t *testing.T, env string, open func(dir string) (io.Closer, error)) {
	dir := os.Getenv(env)
	if dir == "" {
		t.Skip("runs only as the child of a two-process lock test")
	}
	c, err := open(dir)
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	fmt.Println("open")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	if err := c.Close(); err != nil {
		fmt.Println("close:", err)
	}
}

// Held is a child process that holds a store open.
type Held struct {
	Pid   int
	t     testing.TB
	cmd   *exec.Cmd
	stdin io.Closer
}

// Hold runs the test binary's test childTest (which calls Holder with env)
// on dir and returns once the child holds the store open.
func Hold(t testing.TB, env, childTest, dir string) *Held {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+childTest+"$")
	cmd.Env = append(os.Environ(), env+"="+dir)
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
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	if line, _ := bufio.NewReader(out).ReadString('\n'); strings.TrimSpace(line) != "open" {
		t.Fatalf("the child holding %s: %q", dir, line)
	}
	return &Held{Pid: cmd.Process.Pid, t: t, cmd: cmd, stdin: stdin}
}

// Release makes the child close the store and waits for it to exit.
func (h *Held) Release() {
	h.t.Helper()
	h.stdin.Close()
	if err := h.cmd.Wait(); err != nil {
		h.t.Fatalf("the child holding the store: %v", err)
	}
}

// WantLocked fails unless err wraps trove.ErrLocked and names dir and the
// holding process.
func WantLocked(t testing.TB, what string, err error, dir string, pid int) {
	t.Helper()
	if !errors.Is(err, trove.ErrLocked) {
		t.Fatalf("%s beside another process: got %v, want ErrLocked", what, err)
	}
	if msg := err.Error(); !strings.Contains(msg, dir) || !strings.Contains(msg, "process "+strconv.Itoa(pid)) {
		t.Fatalf("%s: %q does not name %s and process %d", what, msg, dir, pid)
	}
}

// TreeState lists every file under dir with its size and modification
// time, leaving out the top-level entries named in skip (a search index
// that merges its files on its own schedule): two equal states mean
// nothing was written.
func TreeState(t testing.TB, dir string, skip ...string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if slices.Contains(skip, rel) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %d %d\n", rel, info.Size(), info.ModTime().UnixNano())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}
