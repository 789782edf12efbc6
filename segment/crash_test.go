package segment

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

const crashChildEnv = "SEGMENT_CRASH_CHILD_DIR"

// crashEntry is the deterministic content of WAL entry i in the crash test.
func crashEntry(i uint64) []Record { return batch(i*1000, 1+int(i%97)) }

// crashChild appends until it is killed, printing the last acknowledged
// index after every successful Append.
func crashChild(dir string) {
	w, _, err := OpenWAL(dir, WALOptions{SegmentSize: 64 << 10})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	out := bufio.NewWriter(os.Stdout)
	for {
		next := w.NextIndex()
		n := 1 + int(next%3)
		bs := make([][]Record, n)
		for i := range bs {
			bs[i] = crashEntry(next + uint64(i))
		}
		if _, err := w.Append(bs); err != nil {
			fmt.Fprintln(out, "append:", err)
			out.Flush()
			os.Exit(2)
		}
		fmt.Fprintf(out, "ack %d\n", next+uint64(n)-1)
		out.Flush()
		if next%40 == 0 && next > 100 {
			if err := w.TruncateFront(next - 60); err != nil {
				fmt.Fprintln(out, "truncate:", err)
				out.Flush()
				os.Exit(2)
			}
		}
	}
}

// A child process appends with fsync and is SIGKILLed at random moments;
// after each kill every acknowledged entry must be present and intact, and
// every entry present must be one the child wrote, without gaps.
func TestWALCrash(t *testing.T) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
		return
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(7, 11))
	var acked uint64
	repaired := 0
	for round := 0; round < 20; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestWALCrash$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		// Kill after a random delay once the child has acknowledged once.
		var timer *time.Timer
		for line := range lines {
			if !strings.HasPrefix(line, "ack ") {
				t.Fatalf("round %d: child: %s", round, line)
			}
			n, _ := strconv.ParseUint(line[4:], 10, 64)
			if n <= acked {
				t.Fatalf("round %d: child acknowledged %d after %d", round, n, acked)
			}
			acked = n
			if timer == nil {
				timer = time.AfterFunc(time.Duration(5+rng.IntN(60))*time.Millisecond, func() { cmd.Process.Kill() })
			}
		}
		cmd.Wait()

		w, rec, err := OpenWAL(dir, WALOptions{SegmentSize: 64 << 10})
		if err != nil {
			t.Fatalf("round %d: reopen: %v", round, err)
		}
		if w.LastIndex() < acked {
			t.Fatalf("round %d: last entry %d, but %d was acknowledged (recovery %+v)", round, w.LastIndex(), acked, rec)
		}
		for i := w.FirstIndex(); i <= w.LastIndex(); i++ {
			got, err := w.Read(i)
			if err != nil {
				t.Fatalf("round %d: entry %d: %v", round, i, err)
			}
			equalRecords(t, got, crashEntry(i))
		}
		if w.FirstIndex() == 0 || w.FirstIndex() > acked {
			t.Fatalf("round %d: first entry %d for %d acknowledged", round, w.FirstIndex(), acked)
		}
		if rec.Reason != "" {
			repaired++
		}
		acked = w.LastIndex() // unacknowledged survivors are kept: the child continues after them
		w.Close()
	}
	t.Logf("20 kills, %d torn tails repaired, %d entries", repaired, acked)
}
