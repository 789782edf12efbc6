package engine

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/trovedb/trove"
)

const crashEnv = "TROVE_ENGINE_CRASH_CHILD"

// crashOptions seal often, so kills land in seals and snapshots too.
func crashOptions() Options {
	return Options{SegmentSize: 32 << 10, BlockSize: 4 << 10}
}

// TestCrashChild is the child of TestCrash: it ingests with concurrent
// writers until killed, printing "ack <id> <position> <payload>" for every
// acknowledged event.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		return // only runs as the child of TestCrash
	}
	st, err := Open(dir, crashOptions())
	if err != nil {
		fmt.Println("open-error", err)
		os.Exit(2)
	}
	fmt.Println("ready")
	var out sync.Mutex
	w := bufio.NewWriterSize(os.Stdout, 1<<16)
	ack := func(e trove.Event) {
		out.Lock()
		fmt.Fprintf(w, "ack %s %d %s\n", e.ID.ID, e.Position, e.Payload)
		w.Flush()
		out.Unlock()
	}
	seed := time.Now().UnixNano()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(seed), uint64(g)))
			for i := 0; ; i++ {
				mk := func(k int) trove.Event {
					return trove.Event{
						ID:       trove.EventID{ID: fmt.Sprintf("c%d-%d-%d-%d", seed, g, i, k)},
						Producer: "crash",
						Schema:   testSchema,
						Payload:  []byte(fmt.Sprintf(`{"g":%d,"i":%d,"k":%d,"r":%d}`, g, i, k, r.IntN(1000))),
					}
				}
				if r.IntN(4) == 0 {
					evs := make([]trove.Event, 1+r.IntN(20))
					for k := range evs {
						evs[k] = mk(k)
					}
					saved, err := st.SaveEvents(context.Background(), evs)
					if err != nil {
						return
					}
					for _, e := range saved {
						ack(e)
					}
				} else {
					e, err := st.SaveEvent(context.Background(), mk(0))
					if err != nil {
						return
					}
					ack(e)
				}
			}
		}()
	}
	wg.Wait()
}

// TestCrash kills an ingesting child process with SIGKILL at random moments,
// 20 times, and after each kill reopens the store and checks that every
// acknowledged event is present and identical and that positions are dense.
func TestCrash(t *testing.T) {
	dir := t.TempDir()
	acked := map[string]ackRec{}
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 20 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v=false")
		cmd.Env = append(os.Environ(), crashEnv+"="+dir)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1024)
		go func() {
			sc := bufio.NewScanner(stdout)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		// Wait for the child to open, then let it ingest a little.
		if l := <-lines; l != "ready" {
			t.Fatalf("round %d: child says %q", round, l)
		}
		timer := time.After(time.Duration(20+r.IntN(200)) * time.Millisecond)
		killed := false
		for !killed {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("round %d: child exited early", round)
				}
				parseAck(t, l, acked)
			case <-timer:
				cmd.Process.Signal(syscall.SIGKILL)
				killed = true
			}
		}
		for l := range lines {
			parseAck(t, l, acked)
		}
		cmd.Wait()
		verifyCrash(t, round, dir, acked)
	}
	t.Logf("%d acknowledged events survived 20 kills", len(acked))
}

type ackRec struct {
	pos     uint64
	payload string
}

func parseAck(t *testing.T, l string, acked map[string]ackRec) {
	f := strings.SplitN(l, " ", 4)
	if len(f) != 4 || f[0] != "ack" {
		return
	}
	pos, err := strconv.ParseUint(f[2], 10, 64)
	if err != nil {
		t.Fatalf("bad ack line %q", l)
	}
	acked[f[1]] = ackRec{pos: pos, payload: f[3]}
}

func verifyCrash(t *testing.T, round int, dir string, acked map[string]ackRec) {
	t.Helper()
	st, err := Open(dir, crashOptions())
	if err != nil {
		t.Fatalf("round %d: reopen: %v", round, err)
	}
	defer st.Close()
	var n uint64
	seen := map[string]bool{}
	err = st.Replay(context.Background(), 0, func(e trove.Event) error {
		n++
		if e.Position != n {
			return fmt.Errorf("position %d where %d was expected", e.Position, n)
		}
		if seen[e.ID.ID] {
			return fmt.Errorf("event %s twice", e.ID.ID)
		}
		seen[e.ID.ID] = true
		if a, ok := acked[e.ID.ID]; ok && (a.pos != e.Position || a.payload != string(e.Payload)) {
			return fmt.Errorf("event %s: position %d payload %s, acknowledged %d %s", e.ID.ID, e.Position, e.Payload, a.pos, a.payload)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("round %d: %v", round, err)
	}
	for id, a := range acked {
		if !seen[id] {
			t.Fatalf("round %d: acknowledged event %s (position %d) lost", round, id, a.pos)
		}
	}
	if _, err := st.Check(context.Background()); err != nil {
		t.Fatalf("round %d: check: %v", round, err)
	}
}
