package jsonfile_test

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

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/plugins/jsonfile"
)

// crashDirEnv, when set, makes TestCrashChild the ingesting child of
// TestBatchesSurviveSIGKILL, on that directory.
const crashDirEnv = "JSONFILE_CRASH_CHILD_DIR"

const crashBatch = 10

// TestCrashChild saves batches until it is killed, printing "ack N" after
// batch N returned.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("runs only as the child of TestBatchesSurviveSIGKILL")
	}
	s, err := jsonfile.New(jsonfile.Options{Directory: dir})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Initialize(ctx, nil); err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	start, _ := strconv.Atoi(os.Getenv(crashDirEnv + "_START"))
	for n := start; ; n++ {
		batch := make([]trove.Event, crashBatch)
		for i := range batch {
			batch[i] = note(fmt.Sprintf("b%d-%d", n, i), 1, fmt.Sprintf(`{"batch":%d}`, n))
		}
		if _, err := s.SaveEvents(ctx, batch); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Printf("ack %d\n", n)
	}
}

// TestBatchesSurviveSIGKILL kills an ingesting child process at random
// points: after each kill every acknowledged batch is there, and every batch
// is all there or not at all.
func TestBatchesSurviveSIGKILL(t *testing.T) {
	dir := t.TempDir()
	next := 0
	for round := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, fmt.Sprintf("%s_START=%d", crashDirEnv, next))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		acked := -1
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "error") {
				t.Fatalf("child: %s", line)
			}
			if n, ok := strings.CutPrefix(line, "ack "); ok {
				acked, _ = strconv.Atoi(n)
				if acked >= next+5+round*3 {
					break
				}
			}
		}
		cmd.Process.Kill()
		cmd.Wait()
		if acked < 0 {
			t.Fatalf("round %d: the child acknowledged nothing", round)
		}

		s := open(t, dir)
		all, err := s.QueryEvents(context.Background(), trove.EventQuery{})
		if err != nil {
			t.Fatal(err)
		}
		count := map[string]int{}
		for _, e := range all {
			b, _, _ := strings.Cut(strings.TrimPrefix(e.ID.ID, "b"), "-")
			count[b]++
		}
		for n := 0; n <= acked; n++ {
			if c := count[strconv.Itoa(n)]; c != crashBatch {
				t.Fatalf("round %d: acknowledged batch %d has %d of %d events", round, n, c, crashBatch)
			}
		}
		for b, c := range count {
			if c != crashBatch {
				t.Fatalf("round %d: batch %s is partial: %d of %d events", round, b, c, crashBatch)
			}
		}
		for i := 1; i < len(all); i++ {
			if all[i].Position != all[i-1].Position+1 {
				t.Fatalf("round %d: positions jump from %d to %d", round, all[i-1].Position, all[i].Position)
			}
		}
		if err := s.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		next = len(count)
	}
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
	if got := child(); !strings.HasPrefix(got, "locked:") || !strings.Contains(got, dir) {
		t.Fatalf("second process while the store is open: %s", got)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := child(); got != "opened" {
		t.Fatalf("second process after Shutdown: %s", got)
	}
}
