package backendtest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/trovedb/trove"
)

// CrashBatch is the number of events in each batch of the crash child.
const CrashBatch = 10

// Crash describes a backend's crash test.
type Crash struct {
	// Env is the environment variable that holds the child's directory;
	// set, it makes ChildTest the child. Unique per backend.
	Env string
	// ChildTest is the name of the test function that calls CrashChild.
	ChildTest string
	// Open makes and initializes the store in directory dir.
	Open func(ctx context.Context, dir string) (Store, error)
}

var crashSchema = trove.MustSchema(`{"$id":"crash+v1","type":"object"}`)

// CrashChild saves batches until it is killed, printing "ack N" after batch
// N returned; it is skipped unless c.Env is set.
func CrashChild(t *testing.T, c Crash) {
	dir := os.Getenv(c.Env)
	if dir == "" {
		t.Skip("runs only as the child of a SIGKILL crash test")
	}
	ctx := context.Background()
	s, err := c.Open(ctx, dir)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	start, _ := strconv.Atoi(os.Getenv(c.Env + "_START"))
	for n := start; ; n++ {
		batch := make([]trove.Event, CrashBatch)
		for i := range batch {
			batch[i] = trove.Event{ID: trove.EventID{ID: fmt.Sprintf("b%d-%d", n, i)}, Schema: crashSchema, Payload: json.RawMessage(fmt.Sprintf(`{"batch":%d}`, n))}
		}
		if _, err := s.SaveEvents(ctx, batch); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Printf("ack %d\n", n)
	}
}

// SurviveSIGKILL kills an ingesting child process at random points: after
// each kill every acknowledged batch is there, and every batch is all there
// or not at all.
func SurviveSIGKILL(t *testing.T, c Crash) {
	dir := t.TempDir()
	next := 0
	for round := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^"+c.ChildTest+"$", "-test.count=1")
		cmd.Env = append(os.Environ(), c.Env+"="+dir, fmt.Sprintf("%s_START=%d", c.Env, next))
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

		s, err := c.Open(context.Background(), dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
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
			if c := count[strconv.Itoa(n)]; c != CrashBatch {
				t.Fatalf("round %d: acknowledged batch %d has %d of %d events", round, n, c, CrashBatch)
			}
		}
		for b, c := range count {
			if c != CrashBatch {
				t.Fatalf("round %d: batch %s is partial: %d of %d events", round, b, c, CrashBatch)
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
