package httpapi_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trovedb/trove/internal/console"
	"github.com/trovedb/trove/internal/httpapi"
)

type statsResp struct {
	LastPosition uint64 `json:"lastPosition"`
	Plugins      []struct {
		Name    string             `json:"name"`
		Figures map[string]float64 `json:"figures"`
	} `json:"plugins"`
	StoreBytes  *int64 `json:"storeBytes"`
	Counting    bool   `json:"counting"`
	CountedUpTo uint64 `json:"countedUpTo"`
	IDs         uint64 `json:"ids"`
	Schemas     []struct {
		Name  string `json:"name"`
		Count uint64 `json:"count"`
	} `json:"schemas"`
	Producers []struct {
		Name  string `json:"name"`
		Count uint64 `json:"count"`
	} `json:"producers"`
	OtherCounts map[string]uint64 `json:"otherCounts"`
	Ingest      struct {
		BucketSeconds int      `json:"bucketSeconds"`
		Counts        []uint64 `json:"counts"`
	} `json:"ingest"`
	Check *console.CheckResult `json:"check"`
}

// stats reads GET /api/stats once counting has caught up with want events.
func (e *env) stats(want uint64) statsResp {
	e.t.Helper()
	deadline := time.Now().Add(time.Minute) // bounds a hang only
	for {
		r := e.get("/api/stats")
		mustStatus(e.t, r, http.StatusOK)
		var s statsResp
		r.json(e.t, &s)
		if !s.Counting && s.CountedUpTo >= want {
			return s
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("counting never caught up: %s", r.body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func withProducer(producer, schemaID string, n int) string {
	return fmt.Sprintf(`{"producer":%q,"schema":{"$id":%q,"type":"object"},"payload":{"n":%d}}`, producer, schemaID, n)
}

func TestStats(t *testing.T) {
	for _, b := range []backend{backends[0], backends[1]} { // memory (no figures, no directory), log
		t.Run(b.name, func(t *testing.T) {
			e := newEnv(t, b, httpapi.Options{})
			s := e.stats(0)
			if s.LastPosition != 0 || len(s.Schemas) != 0 || len(s.Ingest.Counts) != 90 || s.Ingest.BucketSeconds != 10 {
				t.Fatalf("empty store: %+v", s)
			}
			// Events before and after counting began are both counted.
			var batch []string
			for i := range 6 {
				batch = append(batch, withProducer([]string{"a", "b", "b"}[i%3], []string{"s1", "s2"}[i%2], i))
			}
			mustStatus(t, e.postJSON("/api/events/batch", "["+strings.Join(batch, ",")+"]"), http.StatusCreated)
			e.create(withProducer("c", "s1", 7))
			s = e.stats(7)
			// A second version counts as an event, not as an id.
			first := e.create(withProducer("c", "s1", 8))
			e.create(fmt.Sprintf(`{"id":{"id":%q,"version":2},"producer":"c","schema":{"$id":"s1","type":"object"},"payload":{"n":9}}`, first.ID.ID))
			s = e.stats(9)
			if s.LastPosition != 9 || s.IDs != 8 {
				t.Errorf("lastPosition %d, ids %d", s.LastPosition, s.IDs)
			}
			if got := fmt.Sprint(s.Producers); got != "[{b 4} {c 3} {a 2}]" {
				t.Errorf("producers %s", got)
			}
			if got := fmt.Sprint(s.Schemas); got != "[{s1 6} {s2 3}]" {
				t.Errorf("schemas %s", got)
			}
			var inWindow uint64
			for _, c := range s.Ingest.Counts {
				inWindow += c
			}
			if inWindow != 9 {
				t.Errorf("ingest window holds %d events, want 9: %v", inWindow, s.Ingest.Counts)
			}
			if b.plugin == "storage-log" {
				if s.StoreBytes == nil || *s.StoreBytes <= 0 {
					t.Errorf("store size %v", s.StoreBytes)
				}
				if len(s.Plugins) != 1 || s.Plugins[0].Figures["events"] != 9 {
					t.Errorf("plugin figures %+v", s.Plugins)
				}
			} else if s.StoreBytes != nil {
				t.Errorf("memory store size %d", *s.StoreBytes)
			}
			if s.Check != nil {
				t.Errorf("check without one: %+v", s.Check)
			}
		})
	}
}

func TestStatsCheckResult(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, backend{"log", "storage-log", func(string) string { return `{"directory":` + jsonString(dir) + `}` }}, httpapi.Options{})
	want := console.CheckResult{At: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), OK: false,
		Summary: "engine: check found 1 problem", Problems: []string{"segment 3: block 2: checksum mismatch"}}
	if err := console.WriteCheckResult(dir, want); err != nil {
		t.Fatal(err)
	}
	s := e.stats(0)
	if s.Check == nil || s.Check.OK || !s.Check.At.Equal(want.At) || s.Check.Summary != want.Summary || len(s.Check.Problems) != 1 {
		t.Fatalf("check %+v", s.Check)
	}
}

func TestCheckResultFile(t *testing.T) {
	dir := t.TempDir()
	if _, ok, err := console.ReadCheckResult(dir); ok || err != nil {
		t.Fatalf("no file: %v %v", ok, err)
	}
	if err := console.WriteCheckResult(dir, console.CheckResult{OK: true, Summary: "fine"}); err != nil {
		t.Fatal(err)
	}
	if r, ok, err := console.ReadCheckResult(dir); !ok || err != nil || r.Summary != "fine" {
		t.Fatalf("read back %+v %v %v", r, ok, err)
	}
	for name, body := range map[string]string{"not JSON": "{", "too large": `{"summary":"` + strings.Repeat("x", 2<<20) + `"}`} {
		if err := os.WriteFile(filepath.Join(dir, console.CheckFile), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := console.ReadCheckResult(dir); ok || err == nil {
			t.Errorf("%s: ok=%v err=%v", name, ok, err)
		}
	}
}

func TestStatsCapsDistinctNames(t *testing.T) {
	e := newEnv(t, backends[0], httpapi.Options{})
	var batch []string
	for i := range 1005 {
		batch = append(batch, withProducer(fmt.Sprintf("p%04d", i), "s", i))
	}
	mustStatus(t, e.postJSON("/api/events/batch", "["+strings.Join(batch, ",")+"]"), http.StatusCreated)
	s := e.stats(1005)
	if len(s.Producers) != 1000 || s.OtherCounts["producers"] != 5 || len(s.Schemas) != 1 || s.Schemas[0].Count != 1005 {
		t.Fatalf("%d producers, others %v, schemas %v", len(s.Producers), s.OtherCounts, s.Schemas)
	}
}

func TestStatsNeedsToken(t *testing.T) {
	e := newEnv(t, backends[0], httpapi.Options{Tokens: []string{"tok"}})
	mustStatus(t, e.get("/api/stats"), http.StatusUnauthorized)
	e.token = "tok"
	mustStatus(t, e.get("/api/stats"), http.StatusOK)
}

func TestConsoleRoutes(t *testing.T) {
	e := newEnv(t, backends[0], httpapi.Options{Tokens: []string{"tok"}})
	for _, c := range []struct {
		method, path string
		status       int
		ctype        string
	}{
		{"GET", "/", 200, "text/html; charset=utf-8"},
		{"HEAD", "/", 200, "text/html; charset=utf-8"},
		{"GET", "/console/console.js", 200, "text/javascript; charset=utf-8"},
		{"GET", "/console/console.css", 200, "text/css; charset=utf-8"},
		{"GET", "/console/index.html", 200, "text/html; charset=utf-8"},
		{"GET", "/console/nope.js", 404, ""},
		{"GET", "/console/", 404, ""},
		{"GET", "/console/../go.mod", 404, ""},
		{"GET", "/console/%2e%2e/console.go", 404, ""},
		{"GET", "/nope", 404, "application/json"}, // still the API's JSON "no route"
		{"POST", "/", 405, "application/json"},
	} {
		r := e.do(c.method, c.path, nil)
		if r.status != c.status && !(c.status == 404 && r.status == 301) {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, r.status, c.status)
			continue
		}
		if c.ctype != "" && r.header.Get("Content-Type") != c.ctype {
			t.Errorf("%s %s: Content-Type %q", c.method, c.path, r.header.Get("Content-Type"))
		}
		if c.status == 200 {
			if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "connect-src 'self'") {
				t.Errorf("%s: CSP %q", c.path, csp)
			}
			if c.method == "GET" && len(r.body) == 0 {
				t.Errorf("%s: empty body", c.path)
			}
		}
	}
}

// Events stored before counting began count in the ingest chart by their
// createdAt, and only when it falls in the window.
func TestStatsHistoryByCreatedAt(t *testing.T) {
	e := newEnv(t, backends[1], httpapi.Options{})
	old := time.Now().Add(-2 * time.Hour).UTC().Format("2006-01-02T15:04:05.000Z")
	e.create(`{"createdAt":"` + old + `","schema":{"$id":"s","type":"object"},"payload":{}}`)
	e.create(withProducer("p", "s", 1))
	s := e.stats(2)
	var inWindow uint64
	for _, c := range s.Ingest.Counts {
		inWindow += c
	}
	if inWindow != 1 || len(s.Schemas) != 1 || s.Schemas[0].Count != 2 {
		t.Fatalf("window %d, schemas %v", inWindow, s.Schemas)
	}
}
