package main

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The README's quick tour, pasted into bash as it stands (with the binary
// these tests built, a free port and a fresh directory): the daemon is
// waited for, every curl answers what the README says, and the last line
// stops the daemon.
func TestReadmeQuickTour(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(readme)
	at := strings.Index(s, "A quick tour, to paste as is:")
	if at < 0 {
		t.Fatal("the README has no quick tour")
	}
	start := strings.Index(s[at:], "```sh\n") + at + len("```sh\n")
	tour := s[start : start+strings.Index(s[start:], "```")]
	if !strings.HasPrefix(tour, "go build -o ./troved ./cmd/troved") {
		t.Fatalf("the tour does not start by building troved:\n%s", tour)
	}
	tour = tour[strings.Index(tour, "\n")+1:] // the binary is built already
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	tour = strings.NewReplacer("./troved --data /tmp/trove-tour", troved+" --data "+t.TempDir()+" --addr "+addr,
		"localhost:3000", addr).Replace(tour)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", tour)
	cmd.WaitDelay = 10 * time.Second // a daemon left running keeps the output open
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the tour failed: %v\n%s", err, out)
	}
	for _, want := range []string{
		`{"id":{"id":"`, // the created event
		`"producer":"curl","schema":{"$id":"note+v1","type":"object","required":["text"]},"payload":{"text":"hello, trove","n":2}`,
		`{"events":[{"id":`, // the two queries find it
		"id: 1\ndata: {",    // the stream
		`msg="troved: stopped"`,
	} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("the tour's output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(string(out), `{"events":[{"id":`); n != 2 {
		t.Fatalf("%d queries found the event, want 2:\n%s", n, out)
	}
}
