package postgres_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/trovedb/trove"
	"github.com/trovedb/trove/plugins/postgres"
)

// troved is a running `troved serve --storage storage-postgres` whose
// database comes from the PG* environment.
type troved struct {
	cmd  *exec.Cmd
	base string
	out  *bytes.Buffer
}

var buildTroved = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "troved-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "troved")
	out, err := exec.Command("go", "build", "-o", bin, "../../cmd/troved").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build troved: %v\n%s", err, out)
	}
	return bin, nil
})

// startTroved runs troved on database db (schema trove) on a free port.
func startTroved(t *testing.T, db string) *troved {
	t.Helper()
	bin, err := buildTroved()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "serve", "--addr", addr, "--data", t.TempDir(), "--storage", postgres.Name)
	cmd.Env = append(os.Environ(), "PGHOST=127.0.0.1", "PGPORT="+strconv.Itoa(server.Port), "PGUSER=trove",
		"PGDATABASE="+db, "PGSSLMODE=disable")
	out := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	td := &troved{cmd: cmd, base: "http://" + addr, out: out}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
	})
	for {
		resp, err := http.Get(td.base + "/up")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return td
			}
		}
		if cmd.ProcessState != nil {
			t.Fatalf("troved exited:\n%s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// do sends a request and decodes a JSON answer into v (when not nil); it
// returns the status.
func (td *troved) do(t *testing.T, method, path, contentType string, body []byte, v any) int {
	t.Helper()
	req, err := http.NewRequest(method, td.base+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if v != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	if resp.StatusCode >= 300 {
		t.Logf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return resp.StatusCode
}

const httpSchema = `{"$id":"note+v1","type":"object","properties":{"title":{"type":"string"}}}`

// troved serves storage-postgres over HTTP: create, batch, get, query,
// stream, links and files, with the database from the PG* environment.
func TestTrovedOverHTTP(t *testing.T) {
	db := "http_" + schemaFor(t.TempDir())
	if _, err := server.CreateDatabase(timeout(t, time.Minute), db); err != nil {
		t.Fatal(err)
	}
	td := startTroved(t, db)
	var a trove.Event
	if code := td.do(t, "POST", "/api/events", "application/json",
		[]byte(`{"id":{"id":"a"},"schema":`+httpSchema+`,"payload":{"title":"disk full"}}`), &a); code != http.StatusCreated {
		t.Fatalf("create: %d", code)
	}
	var batch struct{ Events []trove.Event }
	body := `[{"id":{"id":"b"},"schema":` + httpSchema + `,"payload":{"title":"b"},"links":[{"type":"cites","targetEvent":{"id":"a"}}]},
{"id":{"id":"c"},"schema":` + httpSchema + `,"payload":{"title":"c"}}]`
	if code := td.do(t, "POST", "/api/events/batch", "application/json", []byte(body), &batch); code >= 300 {
		t.Fatalf("batch: %d", code)
	}
	if code := td.do(t, "POST", "/api/events/a/links", "application/json", []byte(`{"type":"next","targetEvent":{"id":"c"}}`), nil); code >= 300 {
		t.Fatalf("link: %d", code)
	}
	var got trove.Event
	if code := td.do(t, "GET", "/api/events/b", "", nil, &got); code != http.StatusOK || got.Position != 2 {
		t.Fatalf("get b: %d, position %d", code, got.Position)
	}
	var page struct{ Events []trove.Event }
	if td.do(t, "POST", "/api/events/query", "application/json", []byte(`{"search":"disk"}`), &page); len(page.Events) != 1 || page.Events[0].ID.ID != "a" {
		t.Fatalf("search: %+v", page.Events)
	}
	if td.do(t, "POST", "/api/events/query", "application/json", []byte(`{"links":[{"type":"cites","targetEvent":{"id":"a"}}]}`), &page); len(page.Events) != 1 || page.Events[0].ID.ID != "b" {
		t.Fatalf("links query: %+v", page.Events)
	}
	var linked []trove.Event
	if td.do(t, "GET", "/api/events/a/linked", "", nil, &linked); len(linked) != 1 || linked[0].ID.ID != "c" {
		t.Fatalf("linked: %+v", linked)
	}
	var f trove.EventFile
	if code := td.do(t, "POST", "/api/files?id=doc.txt&filename=doc.txt", "text/plain", []byte("hello, postgres"), &f); code >= 300 || f.Size != 15 {
		t.Fatalf("file: %d %+v", code, f)
	}
	resp, err := http.Get(td.base + "/api/files/doc.txt/data")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(data) != "hello, postgres" {
		t.Fatalf("file data %q", data)
	}
	// The stream: the three events, then one saved while it runs.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", td.base+"/api/events/stream?from=0", nil)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	var ids []string
	for len(ids) < 4 && sc.Scan() {
		if id, ok := strings.CutPrefix(sc.Text(), "id:"); ok {
			ids = append(ids, strings.TrimSpace(id))
			if len(ids) == 3 {
				td.do(t, "POST", "/api/events", "application/json", []byte(`{"id":{"id":"d"},"schema":`+httpSchema+`,"payload":{}}`), nil)
			}
		}
	}
	if strings.Join(ids, ",") != "1,2,3,4" {
		t.Fatalf("stream ids %v", ids)
	}
}

// troved killed with SIGKILL while clients save: after a restart every
// acknowledged event is there and positions are dense.
func TestTrovedSIGKILL(t *testing.T) {
	db := "kill_" + schemaFor(t.TempDir())
	if _, err := server.CreateDatabase(timeout(t, time.Minute), db); err != nil {
		t.Fatal(err)
	}
	td := startTroved(t, db)
	var mu sync.Mutex
	var acked []string
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var kill sync.Once
	client := &http.Client{Timeout: 30 * time.Second}
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("w%d-%d", w, i)
				body := `{"id":{"id":"` + id + `"},"schema":` + httpSchema + `,"payload":{}}`
				path := "/api/events"
				if w%2 == 0 {
					body = `[` + body + `,{"id":{"id":"` + id + `-2"},"schema":` + httpSchema + `,"payload":{}}]`
					path = "/api/events/batch"
				}
				resp, err := client.Post(td.base+path, "application/json", strings.NewReader(body))
				if err != nil {
					return
				}
				resp.Body.Close()
				if resp.StatusCode >= 300 {
					return
				}
				mu.Lock()
				acked = append(acked, id)
				if w%2 == 0 {
					acked = append(acked, id+"-2")
				}
				n := len(acked)
				mu.Unlock()
				if n >= 300 {
					kill.Do(func() {
						if err := td.cmd.Process.Signal(syscall.SIGKILL); err != nil {
							t.Errorf("kill troved: %v", err)
						}
						close(stop)
					})
				}
			}
		}()
	}
	wg.Wait()
	_, _ = td.cmd.Process.Wait()
	// The server finishes what the dead process had already sent (a
	// group's writes and COMMIT in one pipelined batch) before it ends
	// that session: the store is checked once its sessions are gone.
	admin := conn(t)
	for deadline := time.Now().Add(time.Minute); ; {
		var sessions int
		if err := admin.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity WHERE datname = $1`, db).Scan(&sessions); err != nil {
			t.Fatal(err)
		}
		if sessions == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions of the killed troved still open after a minute", sessions)
		}
		time.Sleep(20 * time.Millisecond)
	}
	s := newStore(t, "trove", func(o *postgres.Options) { o.DSN = server.DSN(db) })
	n := checkDense(t, s)
	for _, id := range acked {
		if _, err := s.GetEvent(context.Background(), trove.EventID{ID: id}); err != nil {
			t.Fatalf("acknowledged %s: %v", id, err)
		}
	}
	// troved starts again on the same database and goes on.
	td = startTroved(t, db)
	var e trove.Event
	if code := td.do(t, "POST", "/api/events", "application/json", []byte(`{"id":{"id":"after"},"schema":`+httpSchema+`,"payload":{}}`), &e); code != http.StatusCreated || e.Position != uint64(n+1) {
		t.Fatalf("after restart: %d, position %d after %d", code, e.Position, n)
	}
	t.Logf("%d acknowledged, %d stored", len(acked), n)
}

// troved check --storage storage-postgres checks the schema the PG*
// environment and the default options name: ok on a sound store, exit 1
// naming the damage on a damaged one, an error (not a store created) where
// there is none.
func TestTrovedCheck(t *testing.T) {
	bin, err := buildTroved()
	if err != nil {
		t.Fatal(err)
	}
	db := "check_" + schemaFor(t.TempDir())
	dsn, err := server.CreateDatabase(timeout(t, time.Minute), db)
	if err != nil {
		t.Fatal(err)
	}
	check := func() (int, string) {
		cmd := exec.Command(bin, "check", "--data", t.TempDir(), "--storage", postgres.Name)
		cmd.Env = append(os.Environ(), "PGHOST=127.0.0.1", "PGPORT="+strconv.Itoa(server.Port), "PGUSER=trove",
			"PGDATABASE="+db, "PGSSLMODE=disable")
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode(), string(out)
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0, string(out)
	}
	if code, out := check(); code == 0 || !strings.Contains(out, "no schema trove") {
		t.Fatalf("no store: exit %d\n%s", code, out)
	}
	ctx := timeout(t, time.Minute)
	s, err := postgres.New(postgres.Options{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Initialize(ctx, nil); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := s.SaveEvent(ctx, ev(fmt.Sprintf("e%d", i), 1, `{"a":1}`)); err != nil {
			t.Fatal(err)
		}
	}
	s.Shutdown(ctx)
	if code, out := check(); code != 0 || !strings.Contains(out, "ok (head 5, 5 events, 5 versions") {
		t.Fatalf("sound store: exit %d\n%s", code, out)
	}
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, `DELETE FROM trove.events WHERE position = 3`); err != nil {
		t.Fatal(err)
	}
	if code, out := check(); code != 1 || !strings.Contains(out, "no event at position 3") {
		t.Fatalf("damaged store: exit %d\n%s", code, out)
	}
}
