package crashtest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/trovedb/trove"
)

// Backend describes the backend under test.
type Backend struct {
	// Open makes (not initializes) the backend's plugin on dir, the same
	// dir every time. The harness calls Initialize(ctx, nil), and Shutdown
	// in the parent. It runs in the child process too, where t is the
	// child's test.
	Open func(t testing.TB, dir string) trove.Plugin
	// Check, when set, runs after every reopen once the harness's own
	// checks passed: the backend's offline checks of dir and of the open
	// plugin p (checksums, leftovers). An error fails the test.
	Check func(ctx context.Context, dir string, p trove.Plugin) error
	// MaxFileSize caps the size in bytes of the files the writers save
	// (each is 1 to MaxFileSize bytes). Zero means 4096.
	MaxFileSize int
	// Writers is the number of concurrent writers in the child. Zero
	// means DefaultWriters.
	Writers int
}

func (b Backend) writers() int {
	if b.Writers > 0 {
		return b.Writers
	}
	return DefaultWriters
}

func (b Backend) maxFileSize() int {
	if b.MaxFileSize > 0 {
		return b.MaxFileSize
	}
	return 4096
}

// The environment of a child process, and the knobs of a longer run.
const (
	envDir  = "TROVE_CRASHTEST_DIR"  // the store's directory; set only in a child
	envTest = "TROVE_CRASHTEST_TEST" // the name of the test the child runs
	envRun  = "TROVE_CRASHTEST_RUN"  // the child's run number
	envSeed = "TROVE_CRASHTEST_SEED" // the child's seed

	// EnvKills sets the number of kills per backend (default DefaultKills).
	EnvKills = "TROVE_CRASH_KILLS"
	// EnvAcks sets the most acknowledged writes before a kill (default
	// DefaultAcks); each kill comes after 1 to that many.
	EnvAcks = "TROVE_CRASH_ACKS"
	// EnvSeed fixes the seed of the kill points and of the writers'
	// choices (default: the clock; the seed is logged).
	EnvSeed = "TROVE_CRASH_SEED"
)

// hangAfter is how long a child may go without a line before it is taken
// for hung. It is no measure of speed: a healthy child writes a line every
// few milliseconds.
const hangAfter = 2 * time.Minute

// Defaults of a run, as .ci/run uses them.
const (
	DefaultKills = 100
	DefaultAcks  = 25
)

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("crashtest: %s=%q: want a positive integer", name, v)
	}
	return n
}

// Run is the SIGKILL crash test of backend b. Called from a test, it
// starts that same test in a child process that writes with Backend.Writers
// concurrent writers, kills the child with SIGKILL after a random number
// of acknowledged writes (or, now and then, while it is still opening the
// store), reopens the store and checks it (see the package documentation),
// EnvKills times. In the child process, Run is the child and never
// returns.
func Run(t *testing.T, b Backend) {
	if b.Open == nil {
		t.Fatal("crashtest: Backend.Open is nil")
	}
	if dir := os.Getenv(envDir); dir != "" {
		if os.Getenv(envTest) != t.Name() {
			t.Skip("crashtest: another test's child")
		}
		run, _ := strconv.Atoi(os.Getenv(envRun))
		seed, _ := strconv.ParseUint(os.Getenv(envSeed), 10, 64)
		child(t, b, dir, run, seed)
		return
	}
	kills := envInt(t, EnvKills, DefaultKills)
	maxAcks := envInt(t, EnvAcks, DefaultAcks)
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv(EnvSeed); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("crashtest: %s=%q: want an unsigned integer", EnvSeed, v)
		}
		seed = s
	}
	t.Logf("crashtest: %d kills, 1 to %d acknowledged writes each, seed %d (%s=%d repeats the choices)", kills, maxAcks, seed, EnvSeed, seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	st := &state{b: b, dir: t.TempDir(), maxFile: b.maxFileSize(),
		events: map[string]uint64{}, files: map[string]bool{}, links: map[string][]string{}, metas: map[string]trove.EventFile{},
		rng: rand.New(rand.NewPCG(seed, 1))}
	start := time.Now()
	duringOpen := 0
	var inChild, inCheck time.Duration
	for run := range kills {
		acks := 1 + rng.IntN(maxAcks)
		var openKill time.Duration = -1
		if rng.IntN(8) == 0 {
			openKill = time.Duration(rng.IntN(40)) * time.Millisecond
		}
		st.run = run
		t0 := time.Now()
		if st.runChild(t, run, seed, acks, openKill) {
			duringOpen++
		}
		t1 := time.Now()
		st.verify(t, run, run == kills-1)
		inChild += t1.Sub(t0)
		inCheck += time.Since(t1)
	}
	t.Logf("crashtest: %d kills (%d before the store was open) in %v (children %v, checks %v): %d acknowledged events, %d files, %d added links, all intact; %d events stored in all",
		kills, duringOpen, time.Since(start).Round(time.Millisecond), inChild.Round(time.Millisecond), inCheck.Round(time.Millisecond),
		len(st.events), len(st.files), st.linkCount(), st.stored)
}

// state is what the children acknowledged so far, over every run.
type state struct {
	b       Backend
	dir     string
	maxFile int
	events  map[string]uint64          // acknowledged event id → position
	files   map[string]bool            // acknowledged file ids
	run     int                        // the last child's run number
	checked map[string]bool            // files checked in this check
	metas   map[string]trove.EventFile // fileMeta, computed once per file
	rng     *rand.Rand                 // picks the older files whose bytes are read
	links   map[string][]string        // acknowledged added links: source → targets
	stored  int                        // events found at the last check
}

func (s *state) linkCount() int {
	n := 0
	for _, l := range s.links {
		n += len(l)
	}
	return n
}

// childPattern is the -test.run pattern that selects exactly test name.
func childPattern(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}

// runChild runs one child until the kill and records its acks. With
// openKill ≥ 0 the child is killed that long after it started, whatever
// it acknowledged by then; else once it acknowledged acks writes. It
// reports whether the child was killed before the store was open.
func (s *state) runChild(t *testing.T, run int, seed uint64, acks int, openKill time.Duration) bool {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run="+childPattern(t.Name()), "-test.count=1", "-test.timeout=5m")
	cmd.Env = append(os.Environ(),
		envDir+"="+s.dir, envTest+"="+t.Name(), envRun+"="+strconv.Itoa(run), envSeed+"="+strconv.FormatUint(seed, 10),
		EnvKills+"=", EnvAcks+"=", EnvSeed+"=")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan []byte, 256)
	var rd sync.WaitGroup
	rd.Add(1)
	go func() {
		defer rd.Done()
		defer close(lines)
		br := bufio.NewReaderSize(stdout, 1<<16)
		for {
			l, err := br.ReadBytes('\n')
			if len(l) > 0 && l[len(l)-1] == '\n' {
				lines <- l[:len(l)-1]
			}
			if err != nil {
				return
			}
		}
	}()
	kill := func() { _ = cmd.Process.Signal(syscall.SIGKILL) }
	var timer <-chan time.Time
	if openKill >= 0 {
		timer = time.After(openKill)
	}
	// A child that stops acknowledging hangs; it is killed and the test
	// fails rather than waiting for the test binary's timeout.
	hung := time.NewTimer(hangAfter)
	defer hung.Stop()
	ready, killed, got := false, false, 0
	var other []string
	take := func(l []byte) {
		if a, ok := parseAck(l); ok {
			s.record(a)
			got++
			return
		}
		if string(l) == "ready" {
			ready = true
			return
		}
		other = append(other, string(l))
	}
	for !killed {
		select {
		case l, ok := <-lines:
			if !ok {
				_ = cmd.Wait()
				t.Fatalf("run %d: the child ended before it was killed: %s\nstdout: %s\nstderr: %s", run, cmd.ProcessState, strings.Join(other, "\n"), stderr.String())
			}
			take(l)
			hung.Reset(hangAfter)
			if openKill < 0 && got >= acks {
				kill()
				killed = true
			}
		case <-timer:
			kill()
			killed = true
		case <-hung.C:
			kill()
			_ = cmd.Wait()
			t.Fatalf("run %d: the child acknowledged %d writes, then nothing for %v: a hang\nstdout: %s\nstderr: %s", run, got, hangAfter, strings.Join(other, "\n"), stderr.String())
		}
	}
	// Acks written before the kill count: their writes returned.
	for l := range lines {
		take(l)
	}
	rd.Wait()
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("run %d: the child was not killed by SIGKILL: %v\nstdout: %s\nstderr: %s", run, err, strings.Join(other, "\n"), stderr.String())
	}
	for _, l := range other {
		if strings.HasPrefix(l, "error") {
			t.Fatalf("run %d: child: %s\nstderr: %s", run, l, stderr.String())
		}
	}
	return !ready
}

func (s *state) record(a ack) {
	for _, e := range a.Events {
		s.events[e.ID] = e.Position
	}
	if a.File != "" {
		s.files[a.File] = true
	}
	if a.Link != nil {
		s.links[a.Link.Source] = append(s.links[a.Link.Source], a.Link.Target)
	}
}

// verify reopens the store and checks it against the acks.
func (s *state) verify(t *testing.T, run int, last bool) {
	t.Helper()
	ctx := context.Background()
	p := s.b.Open(t, s.dir)
	if err := p.Initialize(ctx, nil); err != nil {
		t.Fatalf("run %d: reopen after the kill: %v", run, err)
	}
	defer func() { _ = p.Shutdown(ctx) }()
	r := rolesOf(p)
	s.checked = map[string]bool{}
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("run %d (after the kill): "+format, append([]any{run}, args...)...)
	}
	if r.events != nil {
		if err := s.verifyEvents(ctx, r, last); err != nil {
			fail("%v", err)
		}
	}
	if r.files != nil {
		for id := range s.files {
			if err := s.verifyFile(ctx, r.files, id, last); err != nil {
				fail("acknowledged file: %v", err)
			}
		}
	}
	if r.links != nil {
		for src, targets := range s.links {
			links, err := r.links.GetLinks(ctx, trove.EventID{ID: src}, trove.LinkOptions{Type: "added"})
			if err != nil {
				fail("links of %s: %v", src, err)
			}
			have := map[string]bool{}
			for _, l := range links {
				have[l.TargetEvent.ID] = true
			}
			for _, target := range targets {
				if !have[target] {
					fail("acknowledged link %s→%s lost (the event has %d added links)", src, target, len(links))
				}
			}
		}
	}
	if s.b.Check != nil {
		if err := s.b.Check(ctx, s.dir, p); err != nil {
			fail("backend check: %v", err)
		}
	}
	if err := p.Shutdown(ctx); err != nil {
		fail("shutdown: %v", err)
	}
}

// verifyEvents checks every stored event: positions dense from 1, each
// event what its writer saved, batches whole, referenced files there; and
// every acknowledged event there at its acknowledged position.
func (s *state) verifyEvents(ctx context.Context, r roles, last bool) error {
	all, err := r.events.QueryEvents(ctx, trove.EventQuery{AllVersions: true})
	if err != nil {
		return fmt.Errorf("query: %w", err)
	}
	s.stored = len(all)
	seen := make(map[string]uint64, len(all))
	batches := map[string][]int{} // batch → indexes found, and its size last
	sizes := map[string]int{}
	for i, e := range all {
		if e.Position != uint64(i+1) {
			return fmt.Errorf("positions not dense: event %d of the log (%s) has position %d", i+1, e.ID, e.Position)
		}
		if _, dup := seen[e.ID.ID]; dup {
			return fmt.Errorf("event %s stored twice", e.ID.ID)
		}
		seen[e.ID.ID] = e.Position
		k, ok := parseID(e.ID.ID)
		if !ok {
			return fmt.Errorf("event %q at position %d: no writer saved such an id", e.ID.ID, e.Position)
		}
		want := k.event(s.maxFile)
		if r.files == nil {
			want.Files = nil
		}
		if err := sameEvent(e, want); err != nil {
			return fmt.Errorf("event %s at position %d: %v", e.ID.ID, e.Position, err)
		}
		if b := k.batch(); b != "" {
			batches[b] = append(batches[b], k.k)
			sizes[b] = k.n
		}
		for _, f := range e.Files {
			if err := s.verifyFile(ctx, r.files, f.ID, last); err != nil {
				return fmt.Errorf("event %s references a file: %v", e.ID.ID, err)
			}
		}
	}
	for b, ks := range batches {
		slices.Sort(ks)
		if len(ks) != sizes[b] || ks[0] != 0 || ks[len(ks)-1] != sizes[b]-1 {
			return fmt.Errorf("batch %s is partial: events %v of %d", b, ks, sizes[b])
		}
	}
	for id, pos := range s.events {
		got, ok := seen[id]
		if !ok {
			return fmt.Errorf("acknowledged event %s (position %d) lost; %d events stored", id, pos, len(all))
		}
		if got != pos {
			return fmt.Errorf("acknowledged event %s at position %d, acknowledged at %d", id, got, pos)
		}
	}
	return nil
}

// readBytes says whether to read file id's bytes back in this check, not
// only its metadata (which holds its size and hash): always for a file the
// last child saved, and for every file at the last check; else for one in
// eight, so every file's bytes are read now and then without rereading all
// of them after every kill.
func (s *state) readBytes(id string, last bool) bool {
	// File ids name their run: "f-r<run>w…" (an event's) or "s-r<run>w…".
	fresh := strings.HasPrefix(id[min(2, len(id)):], fmt.Sprintf("r%dw", s.run))
	return last || fresh || s.rng.IntN(8) == 0
}

// verifyFile checks file id's metadata and, when readBytes says so, its
// bytes. A file is checked once per check.
func (s *state) verifyFile(ctx context.Context, fs trove.FileStorage, id string, last bool) error {
	if s.checked[id] {
		return nil
	}
	s.checked[id] = true
	want, ok := s.metas[id]
	if !ok {
		want = fileMeta(id, s.maxFile)
		s.metas[id] = want
	}
	got, err := fs.GetFile(ctx, id)
	if err != nil {
		return fmt.Errorf("file %s: %w", id, err)
	}
	if got != want {
		return fmt.Errorf("file %s: metadata %+v, want %+v", id, got, want)
	}
	if !s.readBytes(id, last) {
		return nil
	}
	rc, err := fs.GetFileData(ctx, id)
	if err != nil {
		return fmt.Errorf("file %s: data: %w", id, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return fmt.Errorf("file %s: data: %w", id, err)
	}
	if !bytes.Equal(b, fileData(id, s.maxFile)) {
		return fmt.Errorf("file %s: %d bytes differ from the %d saved", id, len(b), want.Size)
	}
	return nil
}
