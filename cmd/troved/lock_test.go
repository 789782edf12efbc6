package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/internal/fsutil/locktest"
	"golang.org/x/sys/unix"
)

// cmdDeadline bounds every child command of these tests: a command still
// running then is a hang, and fails the test.
const cmdDeadline = 30 * time.Second

// runBinary runs the troved binary with stdin and returns its exit code
// and output. It fails the test when the command runs into cmdDeadline.
func runBinary(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdDeadline)
	defer cancel()
	cmd := exec.CommandContext(ctx, troved, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("troved %v hung (killed after %s)\n%s", args, cmdDeadline, errb.String())
	}
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errb.String()
}

// dirState lists the store's files; the daemon's search index, which
// merges its files on its own schedule, is left out.
func dirState(t *testing.T, dir string) string { return locktest.TreeState(t, dir, "search.bleve") }

// TestSecondProcessOnLiveStore runs serve, import, export and check as
// second processes beside a daemon on the same data. storage-log and
// storage-json-file lock their directory: each command fails at once
// naming the directory and the daemon's pid, and changes nothing.
// storage-sqlite serializes under SQLite's locking: every command works
// and nothing is lost.
func TestSecondProcessOnLiveStore(t *testing.T) {
	for _, storage := range persistentStorages {
		t.Run(storage, func(t *testing.T) {
			t.Parallel()
			data := t.TempDir()
			store := []string{"--data", data, "--storage", storage}
			d := startDaemon(t, store...)
			for i := range 5 {
				st, body := d.do("POST", "/api/events", "application/json", strings.NewReader(noteJSON(fmt.Sprint("live ", i))))
				expect(t, st, body, 201)
			}
			more := ndjson(t, testEvents(20))
			pid := strconv.Itoa(d.cmd.Process.Pid)
			commands := [][]string{
				append([]string{"serve", "--addr", "127.0.0.1:0"}, store...),
				append([]string{"import", "-"}, store...),
				append([]string{"export"}, store...),
				append([]string{"check"}, store...),
			}
			if storage == "storage-sqlite" {
				testSQLiteBeside(t, d, store, more)
				return
			}
			before := dirState(t, data)
			for _, args := range commands {
				code, out, errs := runBinary(t, more, args...)
				if code != 1 || !strings.Contains(errs, "locked by process "+pid) || !strings.Contains(errs, data) {
					t.Fatalf("troved %s beside the daemon: exit %d, stderr %q, stdout %q; want exit 1 naming %s and process %s",
						args[0], code, errs, out, data, pid)
				}
			}
			if after := dirState(t, data); after != before {
				t.Fatalf("the refused commands changed the directory:\n%s\nthen\n%s", before, after)
			}
			d.stop()
			// The import was refused whole: the daemon's 5 events, no more.
			code, out, errs := runBinary(t, "", append([]string{"export"}, store...)...)
			if code != 0 || strings.Count(out, "\n") != 5+2 { // the header, 5 events, the end line
				t.Fatalf("export after the daemon stopped: exit %d, %d lines, %s", code, strings.Count(out, "\n"), errs)
			}
			if code, _, errs := runBinary(t, "", append([]string{"check"}, store...)...); code != 0 {
				t.Fatalf("check after the daemon stopped: exit %d %s", code, errs)
			}
		})
	}
}

// testSQLiteBeside runs a second serve, an import, an export and a check
// beside the daemon d on a storage-sqlite database: SQLite serializes the
// writers, and every event either process saved is there for both.
func testSQLiteBeside(t *testing.T, d *daemon, store []string, more string) {
	t.Helper()
	second := startDaemon(t, store...)
	st, body := second.do("POST", "/api/events", "application/json", strings.NewReader(noteJSON("from the second daemon")))
	expect(t, st, body, 201)
	if code, out, errs := runBinary(t, more, append([]string{"import", "-"}, store...)...); code != 0 || !strings.Contains(out, "imported 20 events") {
		t.Fatalf("import beside the daemon: exit %d %q %q", code, out, errs)
	}
	code, out, errs := runBinary(t, "", append([]string{"export"}, store...)...)
	if code != 0 || strings.Count(out, "\n") != 26+2 {
		t.Fatalf("export beside the daemon: exit %d, %d lines, %s", code, strings.Count(out, "\n"), errs)
	}
	if code, out, errs := runBinary(t, "", append([]string{"check"}, store...)...); code != 0 || !strings.Contains(out, ": ok (") {
		t.Fatalf("check beside the daemon: exit %d %q %q", code, out, errs)
	}
	// Both daemons see all 26 events, positions 1…26 without a gap.
	for _, dd := range []*daemon{d, second} {
		st, body := dd.do("GET", "/api/events?limit=100&allVersions=true", "", nil)
		var res struct{ Events []trove.Event }
		if err := json.Unmarshal(body, &res); err != nil || st != 200 || len(res.Events) != 26 {
			t.Fatalf("query: %d %s", st, body)
		}
		seen := map[uint64]bool{}
		for _, e := range res.Events {
			seen[e.Position] = true
		}
		for p := uint64(1); p <= 26; p++ {
			if !seen[p] {
				t.Fatalf("position %d missing: %s", p, body)
			}
		}
	}
	second.stop()
	d.stop()
}

// TestSecondProcessOnLiveFilesDir runs a second daemon, an import and an
// export whose files role (storage-file-system) names the directory a
// running daemon uses: each fails at once naming the directory and the
// daemon's pid, and changes nothing.
func TestSecondProcessOnLiveFilesDir(t *testing.T) {
	dir := t.TempDir()
	files := filepath.Join(dir, "files")
	cfg := filepath.Join(dir, "trove.yaml")
	err := os.WriteFile(cfg, []byte(`
storage:
  events: {plugin: storage-memory}
  files: {plugin: storage-file-system, options: {directory: `+jsonQuote(files)+`}}
  links: useEventStorage
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, "--config", cfg)
	st, body := d.do("POST", "/api/files?id=f1&filename=a.txt", "text/plain", strings.NewReader("file bytes"))
	expect(t, st, body, 201)
	before := dirState(t, files)
	pid := strconv.Itoa(d.cmd.Process.Pid)
	for _, args := range [][]string{
		{"serve", "--addr", "127.0.0.1:0", "--config", cfg},
		{"import", "--config", cfg, "-"},
		{"export", "--config", cfg},
	} {
		code, out, errs := runBinary(t, ndjson(t, testEvents(3)), args...)
		if code != 1 || !strings.Contains(errs, "locked by process "+pid) || !strings.Contains(errs, files) {
			t.Fatalf("troved %s beside the daemon: exit %d, stderr %q, stdout %q", args[0], code, errs, out)
		}
	}
	if after := dirState(t, files); after != before {
		t.Fatalf("the refused serve changed the directory:\n%s\nthen\n%s", before, after)
	}
	d.stop()
	d = startDaemon(t, "--config", cfg)
	st, body = d.do("GET", "/api/files/f1/data", "", nil)
	if st != 200 || string(body) != "file bytes" {
		t.Fatalf("file after restart: %d %q", st, body)
	}
	d.stop()
}

// signalEnds starts troved args, sends sig once ready reports true, and
// requires the command to end (any exit status) before cmdDeadline.
func signalEnds(t *testing.T, sig os.Signal, stdin io.Reader, stdout *os.File, ready func(*exec.Cmd) bool, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdDeadline)
	defer cancel()
	cmd := exec.CommandContext(ctx, troved, args...)
	cmd.Stdin = stdin
	if stdout != nil {
		cmd.Stdout = stdout
	}
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for !ready(cmd) {
		if ctx.Err() != nil {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("troved %v never got ready: %s", args, errb.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if ctx.Err() != nil {
		t.Fatalf("troved %v did not end on %v (killed after %s): %s", args, sig, cmdDeadline, errb.String())
	}
	return errb.String()
}

// TestSignalEndsCommands: a signal ends every command promptly, also while
// it waits for a lock a daemon holds and while import waits on an idle
// stdin.
func TestSignalEndsCommands(t *testing.T) {
	data := t.TempDir()
	store := []string{"--data", data, "--storage", "storage-log"}
	d := startDaemon(t, store...)
	always := func(*exec.Cmd) bool { return true }
	for _, args := range [][]string{
		append([]string{"serve", "--addr", "127.0.0.1:0"}, store...),
		append([]string{"import", "-"}, store...),
		append([]string{"export"}, store...),
		append([]string{"check"}, store...),
	} {
		for _, sig := range []os.Signal{syscall.SIGTERM, os.Interrupt} {
			signalEnds(t, sig, strings.NewReader(""), nil, always, args...)
		}
	}
	d.stop()

	// import holding the store, waiting for lines that never come.
	// An *os.File, handed to the child as is: Wait does not wait on it.
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	defer pr.Close()
	opened := func(cmd *exec.Cmd) bool {
		b, _ := os.ReadFile(filepath.Join(data, "LOCK"))
		return strings.TrimSpace(string(b)) == strconv.Itoa(cmd.Process.Pid)
	}
	errs := signalEnds(t, syscall.SIGTERM, pr, nil, opened, append([]string{"import", "-"}, store...)...)
	if !strings.Contains(errs, "interrupted") {
		t.Fatalf("import on SIGTERM: %q", errs)
	}

	// export writing to a reader that stopped reading: 400 events are
	// more than a pipe holds.
	if code, _, errs := runBinary(t, ndjson(t, testEvents(400)), append([]string{"import", "-"}, store...)...); code != 0 {
		t.Fatal(errs)
	}
	sr, sw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer sr.Close()
	defer sw.Close()
	size, err := unix.FcntlInt(sr.Fd(), unix.F_GETPIPE_SZ, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Ready when the pipe is full: export is blocked in a write.
	full := func(*exec.Cmd) bool {
		n, err := unix.IoctlGetInt(int(sr.Fd()), unix.TIOCINQ)
		return err == nil && n >= size
	}
	signalEnds(t, syscall.SIGTERM, strings.NewReader(""), sw, full, append([]string{"export"}, store...)...)
	// The store was closed cleanly: it opens again.
	if code, _, errs := runBinary(t, "", append([]string{"check"}, store...)...); code != 0 {
		t.Fatalf("check after the interrupted import: %d %s", code, errs)
	}
}

func TestCtxReader(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	ctx, cancel := context.WithCancel(context.Background())
	r := newCtxReader(ctx, pr)
	go func() { pw.Write([]byte("abc")) }()
	buf := make([]byte, 8)
	if n, err := r.Read(buf); err != nil || string(buf[:n]) != "abc" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
	cancel()
	if _, err := r.Read(buf); err != context.Canceled {
		t.Fatalf("read after cancel: %v", err)
	}
	// A read already waiting when ctx ends returns too.
	ctx, cancel = context.WithCancel(context.Background())
	r = newCtxReader(ctx, pr)
	done := make(chan error, 1)
	go func() {
		_, err := r.Read(buf)
		done <- err
	}()
	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("blocked read: %v", err)
	}
}

// TestCheckDamagedSnapshot: a damaged index.snap is damage (exit 1) that
// check calls repairable; the next open rebuilds it, after which check
// passes.
func TestCheckDamagedSnapshot(t *testing.T) {
	data := t.TempDir()
	store := []string{"--data", data, "--storage", "storage-log"}
	if code, _, errs := runBinary(t, ndjson(t, testEvents(30)), append([]string{"import", "-"}, store...)...); code != 0 {
		t.Fatal(errs)
	}
	snap := filepath.Join(data, "index.snap")
	raw, err := os.ReadFile(snap)
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)/2] ^= 0xff
	if err := os.WriteFile(snap, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errs := runBinary(t, "", append([]string{"check"}, store...)...)
	if code != 1 || !strings.Contains(errs, "repairable") || !strings.Contains(errs, snap) {
		t.Fatalf("check of a damaged index.snap: exit %d %q", code, errs)
	}
	if b, _ := os.ReadFile(snap); !bytes.Equal(b, raw) {
		t.Fatal("check changed index.snap")
	}
	// An open repairs it.
	code, out, errs := runBinary(t, "", append([]string{"export"}, store...)...)
	if code != 0 || strings.Count(out, "\n") != 30+2 {
		t.Fatalf("export: %d %s", code, errs)
	}
	if code, _, errs := runBinary(t, "", append([]string{"check"}, store...)...); code != 0 {
		t.Fatalf("check after the repair: %d %s", code, errs)
	}
}

// TestCheckConfigFile: check --config checks the store the file
// configures, not --data's default, and never creates one.
func TestCheckConfigFile(t *testing.T) {
	for _, storage := range persistentStorages {
		t.Run(storage, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			where := filepath.Join(dir, "configured")
			opts := `{directory: ` + jsonQuote(where) + `}`
			if storage == "storage-sqlite" {
				where = filepath.Join(dir, "configured.db")
				opts = `{path: ` + jsonQuote(where) + `}`
			}
			cfg := filepath.Join(dir, "trove.yaml")
			if err := os.WriteFile(cfg, []byte("storage:\n  events: {plugin: "+storage+", options: "+opts+"}\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			cwd := t.TempDir() // where --data's default ./data would be
			run := func(stdin string, args ...string) (int, string, string) {
				t.Helper()
				cmd := exec.Command(troved, args...)
				cmd.Dir = cwd
				cmd.Stdin = strings.NewReader(stdin)
				var out, errb bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &errb
				cmd.Run()
				return cmd.ProcessState.ExitCode(), out.String(), errb.String()
			}
			code, _, errs := run("", "check", "--config", cfg)
			if code != 1 || !strings.Contains(errs, where) {
				t.Fatalf("check of a missing configured store: %d %q", code, errs)
			}
			if _, err := os.Stat(where); err == nil {
				t.Fatal("check created the store")
			}
			if storage != "storage-sqlite" {
				// An empty directory holds no store either, and stays empty.
				if err := os.Mkdir(where, 0o755); err != nil {
					t.Fatal(err)
				}
				code, _, errs := run("", "check", "--config", cfg)
				if code != 1 || !strings.Contains(errs, "no "+storage+" store at "+where+": the directory is empty") {
					t.Fatalf("check of an empty directory: %d %q", code, errs)
				}
				if names, _ := os.ReadDir(where); len(names) != 0 {
					t.Fatalf("check left %d files in an empty directory", len(names))
				}
			}
			if code, _, errs := run(ndjson(t, testEvents(3)), "import", "--config", cfg, "-"); code != 0 {
				t.Fatal(errs)
			}
			code, out, errs := run("", "check", "--config", cfg)
			if code != 0 || !strings.HasPrefix(out, where+": ok (") || !strings.Contains(out, "3 events") {
				t.Fatalf("check --config: %d %q %q", code, out, errs)
			}
		})
	}
}

// TestSignalEndsImportOpeningFIFO: import of a named pipe no writer has
// opened waits in open(2); a signal ends it there too, and it leaves no
// store behind.
func TestSignalEndsImportOpeningFIFO(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "export.ndjson")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	// Ready once a thread of the child waits in the open of the pipe (the
	// kernel's wait for the writer): the signal handler is installed by
	// then, so the child ends through it, not by the signal's default.
	waitsForWriter := func(cmd *exec.Cmd) bool {
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/syscall", cmd.Process.Pid))
		for _, task := range tasks {
			b, err := os.ReadFile(task)
			if err == nil && strings.HasPrefix(string(b), strconv.Itoa(unix.SYS_OPENAT)+" ") {
				wchan, _ := os.ReadFile(filepath.Join(filepath.Dir(task), "wchan"))
				if string(wchan) == "wait_for_partner" || string(wchan) == "fifo_open" {
					return true
				}
			}
		}
		return false
	}
	for _, sig := range []os.Signal{syscall.SIGTERM, os.Interrupt} {
		errs := signalEnds(t, sig, strings.NewReader(""), nil, waitsForWriter,
			"import", "--data", data, "--storage", "storage-log", fifo)
		if !strings.Contains(errs, "interrupted while opening "+fifo) {
			t.Fatalf("import on %v while opening a pipe: %q", sig, errs)
		}
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Fatalf("the interrupted import created the store: %v", err)
	}
}
