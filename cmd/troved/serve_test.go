package main

import (
	"bufio"
	"encoding/json"
	"fmt"
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
