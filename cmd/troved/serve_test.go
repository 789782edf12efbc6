package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/trovedb/trove"
)

func TestServeRestart(t *testing.T) {
	for _, storage := range persistentStorages {
		t.Run(storage, func(t *testing.T) {
			t.Parallel()
			data := t.TempDir()
			d := startDaemon(t, "--data", data, "--storage", storage)
			st, body := d.do("POST", "/api/schemas", "application/json", strings.NewReader(`{"id":"user","version":"1","schema":{"type":"object","required":["name"]}}`))
			expect(t, st, body, 201)
			st, body = d.do("POST", "/api/events", "application/json", strings.NewReader(noteJSON("first")))
			expect(t, st, body, 201)
			var first trove.Event
			_ = json.Unmarshal(body, &first)
			st, body = d.do("POST", "/api/events", "application/json", strings.NewReader(`{"schema":{"id":"user","version":"1"},"payload":{"name":"Jane"}}`))
			expect(t, st, body, 201)
			st, body = d.do("POST", "/api/files?id=f1&filename=a.txt", "text/plain", strings.NewReader("file bytes"))
			expect(t, st, body, 201)
			st, body = d.do("POST", "/api/events/"+first.ID.ID+"/links", "application/json", strings.NewReader(`{"type":"self","targetEvent":{"id":"`+first.ID.ID+`"}}`))
			expect(t, st, body, 201)
			d.stop()
			if !strings.Contains(d.log(), "troved: stopped") {
				t.Fatalf("no clean stop:\n%s", d.log())
			}

			d = startDaemon(t, "--data", data, "--storage", storage)
			st, body = d.do("GET", "/api/events/"+first.ID.ID, "", nil)
			expect(t, st, body, 200)
			st, body = d.do("GET", "/api/schemas/user", "", nil)
			expect(t, st, body, 200)
			// The registered schema still validates after the restart.
			st, body = d.do("POST", "/api/events", "application/json", strings.NewReader(`{"schema":{"id":"user","version":"1"},"payload":{}}`))
			expect(t, st, body, 422)
			st, body = d.do("GET", "/api/files/f1/data", "", nil)
			if st != 200 || string(body) != "file bytes" {
				t.Fatalf("file after restart: %d %q", st, body)
			}
			st, body = d.do("GET", "/api/events/"+first.ID.ID+"/links", "", nil)
			if st != 200 || !strings.Contains(string(body), `"self"`) {
				t.Fatalf("links after restart: %d %s", st, body)
			}
			st, body = d.do("GET", "/api/events?limit=10", "", nil)
			var res struct{ Events []trove.Event }
			_ = json.Unmarshal(body, &res)
			if st != 200 || len(res.Events) != 2 {
				t.Fatalf("query after restart: %d %s", st, body)
			}
			d.stop()
		})
	}
}

// TestServeSIGTERMInFlight posts events from several clients, sends SIGTERM
// while they post, and checks after a restart that every event whose 201
// arrived is stored.
func TestServeSIGTERMInFlight(t *testing.T) {
	for _, storage := range persistentStorages {
		t.Run(storage, func(t *testing.T) {
			data := t.TempDir()
			d := startDaemon(t, "--data", data, "--storage", storage)
			// A stream is open during the shutdown too: it must not hold it up.
			streamRes, err := http.Get(d.url + "/api/events/stream")
			if err != nil {
				t.Fatal(err)
			}
			defer streamRes.Body.Close()

			const clients = 8
			var (
				mu    sync.Mutex
				acked []trove.EventID
				wg    sync.WaitGroup
				first = make(chan struct{})
				once  sync.Once
			)
			client := &http.Client{Timeout: time.Minute}
			for c := range clients {
				wg.Go(func() {
					// Each client stops at its first failure (the daemon is
					// gone) or after a bounded number of events.
					for i := range 2000 {
						res, err := client.Post(d.url+"/api/events", "application/json", strings.NewReader(noteJSON(fmt.Sprintf("c%d-%d", c, i))))
						if err != nil {
							return
						}
						var e trove.Event
						dec := json.NewDecoder(res.Body).Decode(&e)
						res.Body.Close()
						if res.StatusCode != 201 {
							return
						}
						if dec != nil {
							t.Errorf("a 201 without its event: %v", dec)
							return
						}
						mu.Lock()
						acked = append(acked, e.ID)
						if len(acked) >= 200 {
							once.Do(func() { close(first) })
						}
						mu.Unlock()
					}
				})
			}
			select {
			case <-first:
			case <-d.done:
				t.Fatalf("daemon died:\n%s", d.log())
			}
			if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			wg.Wait()
			<-d.done
			if d.err != nil {
				t.Fatalf("exit after SIGTERM: %v\n%s", d.err, d.log())
			}
			mu.Lock()
			ids := append([]trove.EventID(nil), acked...)
			mu.Unlock()
			if len(ids) < 200 {
				t.Fatalf("only %d events acknowledged", len(ids))
			}

			d = startDaemon(t, "--data", data, "--storage", storage)
			st, body := d.do("POST", "/api/events/query", "application/json", strings.NewReader(`{"limit":10000,"allVersions":true}`))
			expect(t, st, body, 200)
			var res struct{ Events []trove.Event }
			if err := json.Unmarshal(body, &res); err != nil {
				t.Fatal(err)
			}
			stored := map[trove.EventID]bool{}
			for _, e := range res.Events {
				stored[e.ID] = true
			}
			for _, id := range ids {
				if !stored[id] {
					t.Fatalf("event %v was acknowledged but is not stored (%d acknowledged, %d stored)", id, len(ids), len(stored))
				}
			}
			t.Logf("%s: %d acknowledged, %d stored", storage, len(ids), len(stored))
			d.stop()
		})
	}
}

func TestServeConfigFile(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "trove.yaml")
	err := os.WriteFile(cfg, []byte(`
storage:
  events: {plugin: storage-memory}
  links: useEventStorage
http:
  addr: 127.0.0.1:1   # the --addr flag wins
auth:
  tokens: [s3cret]
limits:
  maxPageSize: 2
  eventBodyBytes: 2048
  heartbeat: 1s
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, "--config", cfg, "--data", filepath.Join(dir, "data"))
	st, body := d.do("GET", "/up", "", nil)
	if st != 200 || string(body) != "OK" {
		t.Fatalf("/up: %d %q", st, body)
	}
	st, body = d.do("POST", "/api/events", "application/json", strings.NewReader(noteJSON("x")))
	expect(t, st, body, 401)
	auth := []string{"Authorization", "Bearer s3cret"}
	for i := range 3 {
		st, body = d.do("POST", "/api/events", "application/json", strings.NewReader(noteJSON(fmt.Sprint(i))), auth...)
		expect(t, st, body, 201)
	}
	st, body = d.do("GET", "/api/events?limit=50", "", nil, auth...)
	var res struct {
		Events     []trove.Event
		NextOffset *int
	}
	_ = json.Unmarshal(body, &res)
	if st != 200 || len(res.Events) != 2 || res.NextOffset == nil || *res.NextOffset != 2 {
		t.Fatalf("page limit from config: %d %s", st, body)
	}
	st, body = d.do("POST", "/api/events", "application/json", strings.NewReader(noteJSON(strings.Repeat("x", 4096))), auth...)
	expect(t, st, body, 413)
	if !strings.Contains(d.log(), "storage=storage-memory") {
		t.Fatalf("config storage not used:\n%s", d.log())
	}
	d.stop()
	if _, err := os.Stat(filepath.Join(dir, "data")); err == nil {
		t.Fatal("storage-memory created a data directory")
	}
}

func TestServeWarnsWithoutAuthOffLoopback(t *testing.T) {
	d := startDaemon(t, "--storage", "storage-memory", "--addr", "0.0.0.0:0")
	sc := bufio.NewScanner(strings.NewReader(d.log()))
	warned := false
	for sc.Scan() {
		warned = warned || strings.Contains(sc.Text(), "level=WARN") && strings.Contains(sc.Text(), "without auth.tokens")
	}
	if !warned {
		t.Fatalf("no warning:\n%s", d.log())
	}
	d.stop()
}

// TestServeRefusesUnsafeConfig: a blank token, auth.metrics without
// tokens and a negative limit stop serve before it opens the store.
func TestServeRefusesUnsafeConfig(t *testing.T) {
	for _, c := range []struct{ name, yaml, want string }{
		{"blank token", "auth:\n  tokens: [\"\"]\n", "auth.tokens"},
		{"spaces token", "auth:\n  tokens: [\"a-long-enough-token-123\", \"  \"]\n", "token 2 is blank"},
		{"metrics without tokens", "auth:\n  metrics: true\n", "auth.metrics"},
		{"negative limit", "limits:\n  maxSearchClauses: -1\n", "limits.maxSearchClauses"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := filepath.Join(dir, "trove.yaml")
			if err := os.WriteFile(cfg, []byte(c.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			data := filepath.Join(dir, "data")
			code, _, stderr := runCLI(t, "", "serve", "--config", cfg, "--data", data, "--addr", "127.0.0.1:0")
			if code != 1 || !strings.Contains(stderr, c.want) {
				t.Fatalf("exit %d, stderr %q; want 1 naming %s", code, stderr, c.want)
			}
			if _, err := os.Stat(data); err == nil {
				t.Fatal("the store was opened")
			}
		})
	}
}

// TestServeLimitsFromConfig: the caps, the upload deadline and
// auth.metrics are read from the config file.
func TestServeLimitsFromConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "trove.yaml")
	err := os.WriteFile(cfg, []byte(`
storage:
  events: {plugin: storage-memory}
auth:
  tokens: [short-token]
  metrics: true
limits:
  maxBatchEvents: 2
  maxSearchBytes: 64
  maxSearchClauses: 2
  maxIdentifierBytes: 8
  queryBodyBytes: 100
  uploadReadTimeout: 200ms
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, "--config", cfg)
	if !strings.Contains(d.log(), "weak auth token") {
		t.Fatalf("no warning for a short token:\n%s", d.log())
	}
	auth := []string{"Authorization", "Bearer short-token"}
	st, body := d.do("GET", "/metrics", "", nil)
	expect(t, st, body, 401)
	st, body = d.do("GET", "/metrics", "", nil, auth...)
	expect(t, st, body, 200)

	bad := func(method, path, ct, body, detail string) {
		t.Helper()
		var r io.Reader
		if body != "" {
			r = strings.NewReader(body)
		}
		st, b := d.do(method, path, ct, r, auth...)
		expect(t, st, b, 400)
		if !strings.Contains(string(b), detail) {
			t.Fatalf("%s %s: %s lacks %q", method, path, b, detail)
		}
	}
	bad("POST", "/api/events/batch", "application/x-ndjson", noteJSON("a")+"\n"+noteJSON("b")+"\n"+noteJSON("c")+"\n", "at most 2 events")
	bad("GET", "/api/events?search=a+b+c", "", "", "at most 2 clauses")
	bad("GET", "/api/events?search="+strings.Repeat("x", 65), "", "", "at most 64 bytes")
	bad("POST", "/api/events", "application/json", `{"schema":{"$id":"s","type":"object"},"payload":{},"producer":"123456789"}`, "at most 8 bytes")

	st, body = d.do("POST", "/api/events/query", "application/json", strings.NewReader(`{"schema":"`+strings.Repeat("s", 100)+`"}`), auth...)
	expect(t, st, body, 413)
	// A stalled upload is cut at uploadReadTimeout, not after an hour.
	pr, pw := io.Pipe()
	defer pw.Close()
	go func() { _, _ = pw.Write([]byte("some bytes, then nothing")) }()
	req, err := http.NewRequest("POST", d.url+"/api/files?id=stalled", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = 1 << 20
	req.Header.Set("Authorization", "Bearer short-token")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 400 || !strings.Contains(string(b), "timeout") {
		t.Fatalf("stalled upload: %d %s", res.StatusCode, b)
	}
	d.stop()
}
