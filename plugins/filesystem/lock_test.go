package filesystem_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trovedb/trove"
)

// lockChildEnv, when set, makes TestLockChild open that directory.
const lockChildEnv = "FILESYSTEM_LOCK_CHILD_DIR"

// TestLockChild runs only as the child of TestSecondProcessLocked: it
// initializes the plugin, prints "open", and keeps it open until stdin
// closes.
func TestLockChild(t *testing.T) {
	dir := os.Getenv(lockChildEnv)
	if dir == "" {
		t.Skip("runs only as the child of TestSecondProcessLocked")
	}
	p := open(t, dir)
	if err := p.Initialize(context.Background(), nil); err != nil {
		fmt.Println("error:", err)
		return
	}
	fmt.Println("open")
	bufio.NewReader(os.Stdin).ReadString('\n')
	p.Shutdown(context.Background())
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
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p := open(t, dir)
	err = p.Initialize(ctx, nil)
	if !errors.Is(err, trove.ErrLocked) {
		p.Shutdown(ctx)
		t.Fatalf("Initialize beside another process: got %v, want ErrLocked", err)
	}
	if msg := err.Error(); !strings.Contains(msg, dir) || !strings.Contains(msg, "process "+strconv.Itoa(child.Process.Pid)) {
		t.Fatalf("%q does not name %s and the child's pid", msg, dir)
	}
	stdin.Close()
	if err := child.Wait(); err != nil {
		t.Fatal(err)
	}
	p = open(t, dir)
	if err := p.Initialize(ctx, nil); err != nil {
		t.Fatalf("after the holder closed: %v", err)
	}
	p.Shutdown(ctx)
}
