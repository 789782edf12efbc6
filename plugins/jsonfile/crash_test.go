package jsonfile_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/plugins/jsonfile"
	"github.com/trovedb/trove/storagetest/crashtest"
)

// TestCrash is the SIGKILL crash test (crashtest): concurrent writers of
// events, batches, links and files killed at random moments; after every
// kill each acknowledged write is there, batches are whole and positions
// dense.
func TestCrash(t *testing.T) {
	crashtest.Run(t, crashtest.Backend{
		Open: func(t testing.TB, dir string) trove.Plugin {
			s, err := jsonfile.New(jsonfile.Options{Directory: dir})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
	})
}

// lockDirEnv, when set, makes TestLockChild try to open that directory.
const lockDirEnv = "JSONFILE_LOCK_CHILD_DIR"

// TestLockChild opens the directory and prints the outcome.
func TestLockChild(t *testing.T) {
	dir := os.Getenv(lockDirEnv)
	if dir == "" {
		t.Skip("runs only as the child of TestSecondProcessGetsLockError")
	}
	s, _ := jsonfile.New(jsonfile.Options{Directory: dir})
	err := s.Initialize(context.Background(), nil)
	switch {
	case errors.Is(err, jsonfile.ErrLocked):
		fmt.Println("locked:", err)
	case err != nil:
		fmt.Println("error:", err)
	default:
		fmt.Println("opened")
		s.Shutdown(context.Background())
	}
}

// TestSecondProcessGetsLockError opens a store, then has another process
// try the same directory: it must get ErrLocked, and open it once the first
// store is shut down.
func TestSecondProcessGetsLockError(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	child := func() string {
		cmd := exec.Command(os.Args[0], "-test.run=^TestLockChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), lockDirEnv+"="+dir)
		out, _ := cmd.Output()
		for _, line := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(line, "locked:") || strings.HasPrefix(line, "error:") || line == "opened" {
				return line
			}
		}
		return "no outcome: " + string(out)
	}
	before := treeState(t, dir)
	if got := child(); !strings.HasPrefix(got, "locked:") || !strings.Contains(got, dir) ||
		!strings.Contains(got, fmt.Sprintf("process %d", os.Getpid())) {
		t.Fatalf("second process while the store is open: %s", got)
	}
	if after := treeState(t, dir); after != before {
		t.Fatalf("the failed open changed the directory:\n%s\nthen\n%s", before, after)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := child(); got != "opened" {
		t.Fatalf("second process after Shutdown: %s", got)
	}
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
