package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/trovedb/trove/internal/httpapi"
)

// TestInflightEventBytes: event bodies beyond Options.MaxInflightEventBytes
// wait until earlier ones end (the gauges trove_http_event_body_bytes and
// trove_http_event_body_waits say so), a request whose client leaves while
// it waits stores nothing and gives its room back, and every waiting
// request is served in the end.
func TestInflightEventBytes(t *testing.T) {
	e := newEnv(t, backends[0], httpapi.Options{MaxEventBytes: 4096, MaxInflightEventBytes: 4096})
	gauges := func(bytes, waits string) {
		t.Helper()
		for {
			m := string(e.get("/metrics").body)
			if metricValue(m, "trove_http_event_body_bytes") == bytes && metricValue(m, "trove_http_event_body_waits") == waits {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	// A batch of unknown length takes the whole budget while its body is
	// open.
	pr, pw := io.Pipe()
	first := make(chan response, 1)
	go func() {
		first <- e.do("POST", "/api/events/batch", pr, "Content-Type", "application/json")
	}()
	if _, err := pw.Write([]byte("[" + note("held", 1))); err != nil {
		t.Fatal(err)
	}
	gauges("4096", "0")

	// A single event waits behind it...
	second := make(chan response, 1)
	go func() { second <- e.postJSON("/api/events", note("waiting", 2)) }()
	gauges("4096", "1")

	// ...and so does one whose client then gives up, before its body is
	// whole.
	ctx, cancel := context.WithCancel(context.Background())
	cpr, cpw := io.Pipe()
	go cpw.Write([]byte(note("gives up", 3)[:20]))
	req, err := http.NewRequestWithContext(ctx, "POST", e.srv.URL+"/api/events", cpr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	gaveUp := make(chan error, 1)
	go func() {
		res, err := e.srv.Client().Do(req)
		if err == nil {
			res.Body.Close()
		}
		gaveUp <- err
	}()
	gauges("4096", "2")
	cancel()
	cpw.CloseWithError(context.Canceled)
	if err := <-gaveUp; err == nil {
		t.Fatal("a request canceled while waiting was answered")
	}
	select {
	case r := <-second:
		t.Fatalf("an event was served (%d) while the budget was taken", r.status)
	default:
	}

	// The batch ends: everything waiting is served, the one that gave up
	// stores nothing, and the budget is whole again.
	if _, err := pw.Write([]byte("]")); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	mustStatus(t, <-first, 201)
	mustStatus(t, <-second, 201)
	gauges("0", "0")
	for i := range 3 {
		mustStatus(t, e.postJSON("/api/events", note("after", 10+i)), 201)
	}
	if got := eventCount(t, e.core); got != 5 {
		t.Fatalf("%d events stored, want 5 (the one whose client left is not)", got)
	}
}

// metricValue is the value of an unlabelled metric in a Prometheus text
// exposition, "" when absent.
func metricValue(exposition, name string) string {
	sc := bufio.NewScanner(bytes.NewReader([]byte(exposition)))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return v
		}
	}
	return ""
}
