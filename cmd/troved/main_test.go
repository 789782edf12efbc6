package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/trovedb/trove"
)

// persistentStorages are the storages the daemon tests run on; adding one
// is one line.
var persistentStorages = []string{"storage-log", "storage-json-file", "storage-sqlite"}

// troved is the binary built once for the tests that run the daemon as a
// child process.
var troved string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "troved-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	troved = filepath.Join(dir, "troved")
	build := exec.Command("go", "build", "-o", troved, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building troved:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// daemon is a troved child process.
type daemon struct {
	t    *testing.T
	cmd  *exec.Cmd
	url  string
	mu   sync.Mutex
	logs bytes.Buffer
	done chan struct{}
	err  error
}

var listenLine = regexp.MustCompile(`msg="troved: listening" addr=(\S+)`)

// startDaemon runs "troved serve args…" on a free loopback port and waits
// until it listens.
func startDaemon(t *testing.T, args ...string) *daemon {
	t.Helper()
	d := &daemon{t: t, done: make(chan struct{})}
	d.cmd = exec.Command(troved, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	stderr, err := d.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			d.mu.Lock()
			d.logs.WriteString(line + "\n")
			d.mu.Unlock()
			if m := listenLine.FindStringSubmatch(line); m != nil {
				addr <- m[1]
			}
		}
		d.err = d.cmd.Wait()
		close(d.done)
	}()
	t.Cleanup(func() {
		select {
		case <-d.done:
		default:
			_ = d.cmd.Process.Kill()
			<-d.done
		}
	})
	select {
	case a := <-addr:
		d.url = "http://" + a
	case <-d.done:
		t.Fatalf("troved exited before listening: %v\n%s", d.err, d.log())
	}
	return d
}

func (d *daemon) log() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.logs.String()
}

// stop sends SIGTERM and waits for a clean exit.
func (d *daemon) stop() {
	d.t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		d.t.Fatal(err)
	}
	<-d.done
	if d.err != nil {
		d.t.Fatalf("troved exit: %v\n%s", d.err, d.log())
	}
}

func (d *daemon) do(method, path, ct string, body io.Reader, header ...string) (int, []byte) {
	d.t.Helper()
	req, err := http.NewRequest(method, d.url+path, body)
	if err != nil {
		d.t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

func expect(t *testing.T, status int, body []byte, want int) {
	t.Helper()
	if status != want {
		t.Fatalf("status %d, want %d: %s", status, want, body)
	}
}

const noteSchema = `{"$id":"note+v1","type":"object","required":["text"],"properties":{"text":{"type":"string"}}}`

func noteJSON(text string) string {
	return `{"schema":` + noteSchema + `,"payload":{"text":` + jsonQuote(text) + `}}`
}

func jsonQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// runCLI runs a subcommand in process.
func runCLI(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), func() {}, args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestVersion(t *testing.T) {
	code, out, _ := runCLI(t, "", "version")
	if code != 0 || !strings.HasPrefix(out, "troved ") {
		t.Fatalf("version: %d %q", code, out)
	}
	b, err := exec.Command(troved, "version").Output()
	if err != nil || !strings.HasPrefix(string(b), "troved ") || !strings.Contains(string(b), "go1.") {
		t.Fatalf("binary version: %v %q", err, b)
	}
	if code, _, _ := runCLI(t, "", "frobnicate"); code != 2 {
		t.Fatalf("unknown command exit %d", code)
	}
	if code, _, errs := runCLI(t, "", "serve", "--storage", "storage-nope"); code != 2 || !strings.Contains(errs, `unknown storage "storage-nope"`) {
		t.Fatalf("unknown storage: exit %d %s", code, errs)
	}
	// A files-only plugin named for events says so.
	if code, _, errs := runCLI(t, "", "serve", "--storage", "storage-s3"); code != 2 || !strings.Contains(errs, "storage-s3 stores files only") || strings.Contains(errs, "known: [") {
		t.Fatalf("files-only storage: exit %d %s", code, errs)
	}
}

// testEvents makes n events: notes, every tenth a second version of the
// one before, some linking to the first.
func testEvents(n int) []trove.Event {
	var out []trove.Event
	schema := trove.MustSchema(noteSchema)
	base := time.Date(2025, 4, 15, 8, 0, 0, 0, time.UTC)
	for i := 0; len(out) < n; i++ {
		e := trove.Event{
			ID:        trove.EventID{ID: fmt.Sprintf("ev-%05d", i), Version: 1},
			CreatedAt: base.Add(time.Duration(i) * time.Second),
			Producer:  []string{"a", "b"}[i%2],
			Schema:    schema,
			Payload:   json.RawMessage(fmt.Sprintf(`{"text":"note %d"}`, i)),
		}
		if i%7 == 3 {
			e.Links = []trove.EventLink{{Type: "follows", TargetEvent: trove.EventID{ID: "ev-00000"}}}
		}
		out = append(out, e)
		if i%10 == 9 && len(out) < n {
			v2 := e
			v2.ID.Version = 2
			v2.Payload = json.RawMessage(fmt.Sprintf(`{"text":"note %d, edited"}`, i))
			out = append(out, v2)
		}
	}
	return out
}

func ndjson(t *testing.T, events []trove.Event) string {
	var b strings.Builder
	for _, e := range events {
		j, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String()
}

func TestImportExport(t *testing.T) {
	for _, storage := range persistentStorages {
		t.Run(storage, func(t *testing.T) {
			t.Parallel()
			data := t.TempDir()
			store := []string{"--data", data, "--storage", storage}
			events := testEvents(2500)
			// A registered schema comes first; the last events refer to it.
			const schemaLine = `{"registeredSchema":{"id":"memo","version":"1","schema":{"type":"object","required":["text"]}}}`
			for i := 2400; i < len(events); i++ {
				if events[i].ID.Version == 1 {
					events[i].Schema = trove.SchemaRef("memo", "1")
				}
			}
			file := filepath.Join(t.TempDir(), "in.ndjson")
			if err := os.WriteFile(file, []byte(schemaLine+"\n"+ndjson(t, events)), 0o644); err != nil {
				t.Fatal(err)
			}
			code, out, errs := runCLI(t, "", append([]string{"import", "--batch", "1000", file}, store...)...)
			if code != 0 || !strings.HasPrefix(out, "imported 2500 events (0 already present)") || !strings.Contains(out, "1 schemas (0 already present)") {
				t.Fatalf("import: %d %q %q", code, out, errs)
			}
			code, exported, errs := runCLI(t, "", append([]string{"export"}, store...)...)
			if code != 0 {
				t.Fatalf("export: %d %s", code, errs)
			}
			lines := strings.Split(strings.TrimSuffix(exported, "\n"), "\n")
			if len(lines) != 3+len(events) {
				t.Fatalf("exported %d lines, want %d", len(lines), 3+len(events))
			}
			if !strings.HasPrefix(lines[0], `{"troveExport":2,`) || !strings.HasPrefix(lines[len(lines)-1], `{"end":{"schemas":1,"events":2500,`) {
				t.Fatalf("header %s, end %s", lines[0], lines[len(lines)-1])
			}
			var sl struct{ RegisteredSchema trove.RegisteredSchema }
			if err := json.Unmarshal([]byte(lines[1]), &sl); err != nil || sl.RegisteredSchema.ID != "memo" || sl.RegisteredSchema.Version != "1" {
				t.Fatalf("second line %s: want the registered schema (%v)", lines[1], err)
			}
			lines = lines[2 : len(lines)-1]
			for i, line := range lines {
				var got trove.Event
				if err := json.Unmarshal([]byte(line), &got); err != nil {
					t.Fatal(err)
				}
				want := events[i]
				if got.Position != 0 || got.ID != want.ID || !got.CreatedAt.Equal(want.CreatedAt) || got.Producer != want.Producer ||
					!trove.JSONEqual(got.Payload, want.Payload) || len(got.Links) != len(want.Links) || !got.Schema.Equal(want.Schema) {
					t.Fatalf("line %d: %s, want %+v", i+1, line, want)
				}
			}

			// --from, and the round trip into a second store.
			code, tail, _ := runCLI(t, "", append([]string{"export", "--from", "2000"}, store...)...)
			if code != 0 || strings.Count(tail, "\n") != 503 || !strings.HasPrefix(tail, `{"troveExport":2,"from":2000,"last":2500}`) {
				t.Fatalf("export --from 2000: %d, %d lines", code, strings.Count(tail, "\n"))
			}
			second := []string{"--data", t.TempDir(), "--storage", storage}
			code, _, errs = runCLI(t, exported, append([]string{"import", "--progress", "always", "-"}, second...)...)
			if code != 0 || !strings.Contains(errs, "importing") {
				t.Fatalf("import from stdin with a progress bar: %d %q", code, errs)
			}
			if _, again, _ := runCLI(t, "", append([]string{"export"}, second...)...); again != exported {
				t.Fatal("export of the re-imported store differs")
			}
			// Importing the same events again is idempotent.
			if code, _, errs := runCLI(t, "", append([]string{"import", file}, store...)...); code != 0 {
				t.Fatalf("re-import: %s", errs)
			}
			if _, again, _ := runCLI(t, "", append([]string{"export"}, store...)...); again != exported {
				t.Fatal("re-import changed the store")
			}

			// A bad line stops the import and names it; earlier batches stay.
			bad := noteJSON("x") + "\n" + noteJSON("y") + "\n{oops\n"
			code, _, errs = runCLI(t, bad, append([]string{"import", "--batch", "1", "-"}, store...)...)
			if code != 1 || !strings.Contains(errs, "line 3") {
				t.Fatalf("bad line: %d %q", code, errs)
			}
			invalid := noteJSON("x") + "\n" + `{"schema":` + noteSchema + `,"payload":{"text":5}}` + "\n"
			code, _, errs = runCLI(t, invalid, append([]string{"import", "-"}, store...)...)
			if code != 1 || !strings.Contains(errs, "line 2") {
				t.Fatalf("invalid event: %d %q", code, errs)
			}
			for _, bad := range []string{
				`{"registeredSchema":{"id":"memo","version":"1","schema":{"type":"object"}}}`, // another document
				`{"registeredSchema":null}`,
				`{"registeredSchema":{"id":"memo"`,
			} {
				code, _, errs = runCLI(t, bad+"\n", append([]string{"import", "-"}, store...)...)
				if code != 1 || !strings.Contains(errs, "line 1") {
					t.Fatalf("schema line %s: %d %q", bad, code, errs)
				}
			}
			if _, after, _ := runCLI(t, "", append([]string{"export", "--from", "2500"}, store...)...); strings.Count(after, "\n") != 5 {
				t.Fatalf("after failed imports: %q", after)
			}
			if code, _, _ := runCLI(t, "", append([]string{"import"}, store...)...); code != 2 {
				t.Fatalf("import without a file: exit %d", code)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	for _, storage := range persistentStorages {
		t.Run(storage, func(t *testing.T) {
			t.Parallel()
			data := t.TempDir()
			store := []string{"--data", data, "--storage", storage}
			// Five batches, and a file whose bytes are easy to find on disk.
			if code, _, errs := runCLI(t, ndjson(t, testEvents(50)), append([]string{"import", "--batch", "10", "-"}, store...)...); code != 0 {
				t.Fatal(errs)
			}
			marker := strings.Repeat("file bytes to damage ", 20)
			saveFile(t, store, marker)
			code, out, errs := runCLI(t, "", append([]string{"check"}, store...)...)
			if code != 0 || !strings.Contains(out, ": ok (") {
				t.Fatalf("check: %d %q %q", code, out, errs)
			}
			b, err := exec.Command(troved, append([]string{"check"}, store...)...).CombinedOutput()
			if err != nil {
				t.Fatalf("binary check: %v %s", err, b)
			}

			// Damage is reported, with exit code 1.
			if storage == "storage-log" {
				damageWAL(t, data)
			} else {
				damageMarker(t, data, marker)
			}
			cmd := exec.Command(troved, append([]string{"check"}, store...)...)
			b, err = cmd.CombinedOutput()
			if err == nil || cmd.ProcessState.ExitCode() != 1 {
				t.Fatalf("check of a damaged store: %v %s", err, b)
			}
		})
	}
	// A storage without a checker says so.
	code, _, errs := runCLI(t, "", "check", "--storage", "storage-memory")
	if code != 1 || !strings.Contains(errs, "no integrity checker") {
		t.Fatalf("memory check: %d %q", code, errs)
	}
}

// saveFile stores a file in the store that the flags name.
func saveFile(t *testing.T, args []string, content string) {
	t.Helper()
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	var sf storeFlags
	sf.register(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	st, err := sf.resolve(fs)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	core, _, err := openStore(ctx, st, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := core.SaveFile(ctx, trove.EventFile{ID: "damage-me"}, strings.NewReader(content)); err != nil {
		t.Fatal(err)
	}
	if err := core.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

// damageWAL flips a byte inside the first of several WAL entries.
func damageWAL(t *testing.T, data string) {
	t.Helper()
	var wal []string
	_ = filepath.Walk(filepath.Join(data, "wal"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && fi.Size() > 1000 {
			wal = append(wal, p)
		}
		return nil
	})
	if len(wal) == 0 {
		t.Fatalf("no WAL file under %s", data)
	}
	raw, err := os.ReadFile(wal[0])
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)/10] ^= 0xff
	if err := os.WriteFile(wal[0], raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

// damageMarker flips a byte of marker wherever the store keeps it.
func damageMarker(t *testing.T, data, marker string) {
	t.Helper()
	found := false
	_ = filepath.Walk(data, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return nil
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		if i := bytes.Index(raw, []byte(marker)); i >= 0 {
			raw[i+len(marker)/2] ^= 0x01
			if err := os.WriteFile(p, raw, fi.Mode()); err != nil {
				t.Fatal(err)
			}
			found = true
		}
		return nil
	})
	if !found {
		t.Fatalf("the file's bytes are nowhere under %s", data)
	}
}
