package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/internal/httpapi"
)

// sse is an open event stream.
type sse struct {
	t      *testing.T
	res    *http.Response
	r      *bufio.Reader
	cancel context.CancelFunc
}

type sseRecord struct {
	id      uint64
	event   trove.Event
	comment string
}

func (e *env) stream(query string, header ...string) *sse {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/api/events/stream"+query, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	if e.token != "" {
		req.Header.Set("Authorization", "Bearer "+e.token)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		cancel()
		e.t.Fatal(err)
	}
	s := &sse{t: e.t, res: res, r: bufio.NewReader(res.Body), cancel: cancel}
	e.t.Cleanup(s.close)
	return s
}

func (s *sse) close() { s.cancel(); s.res.Body.Close() }

// next reads one record: an event, or a comment.
func (s *sse) next() sseRecord {
	s.t.Helper()
	var rec sseRecord
	var data string
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			s.t.Fatalf("stream: %v", err)
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "":
			if data != "" {
				if err := json.Unmarshal([]byte(data), &rec.event); err != nil {
					s.t.Fatalf("stream data %q: %v", data, err)
				}
				return rec
			}
			if rec.comment != "" {
				return rec
			}
		case strings.HasPrefix(line, ":"):
			rec.comment = strings.TrimSpace(line[1:])
		case strings.HasPrefix(line, "id: "):
			n, err := strconv.ParseUint(line[4:], 10, 64)
			if err != nil {
				s.t.Fatalf("stream id %q", line)
			}
			rec.id = n
		case strings.HasPrefix(line, "data: "):
			if data != "" {
				s.t.Fatalf("event data spans several lines")
			}
			data = line[6:]
		default:
			s.t.Fatalf("stream line %q", line)
		}
	}
}

// nextEvent skips comments.
func (s *sse) nextEvent() sseRecord {
	s.t.Helper()
	for {
		if rec := s.next(); rec.comment == "" {
			if rec.id != rec.event.Position || rec.id == 0 {
				s.t.Fatalf("record id %d, event position %d", rec.id, rec.event.Position)
			}
			return rec
		}
	}
}

func TestStream(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, httpapi.Options{Heartbeat: 20 * time.Millisecond})
		var created []trove.Event
		for i := range 3 {
			created = append(created, e.create(note(fmt.Sprint(i), i)))
		}
		s := e.stream("?from=0")
		if s.res.StatusCode != 200 || s.res.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("stream: %d %q", s.res.StatusCode, s.res.Header.Get("Content-Type"))
		}
		for i := range 3 {
			if rec := s.nextEvent(); rec.event.ID != created[i].ID {
				t.Fatalf("catch-up %d: %v", i, rec.event.ID)
			}
		}
		// Live events from concurrent writers: every one, in position
		// order, no gap, no duplicate.
		const writers, each = 4, 25
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					r := e.postJSON("/api/events", note(fmt.Sprintf("w%d-%d", w, i), i))
					if r.status != 201 {
						t.Errorf("live create: %d %s", r.status, r.body)
					}
				}
			})
		}
		last := created[2].Position
		for range writers * each {
			rec := s.nextEvent()
			if rec.event.Position != last+1 {
				t.Fatalf("after position %d came %d", last, rec.event.Position)
			}
			last = rec.event.Position
		}
		wg.Wait()
		// Heartbeats keep an idle stream open.
		for {
			if rec := s.next(); rec.comment == "heartbeat" {
				break
			}
		}
		s.close()

		// Reconnecting with Last-Event-ID resumes after it (it wins over from).
		s = e.stream("?from=0", "Last-Event-ID", strconv.FormatUint(created[1].Position, 10))
		if rec := s.nextEvent(); rec.event.ID != created[2].ID {
			t.Fatalf("resume: %v", rec.event.ID)
		}
		s.close()
		s = e.stream(fmt.Sprintf("?from=%d", last-1))
		if rec := s.nextEvent(); rec.event.Position != last {
			t.Fatalf("from %d: got %d", last-1, rec.event.Position)
		}
		s.close()

		// Filters apply.
		e.create(`{"schema":{"$id":"other+v1","type":"object"},"payload":{"k":1}}`)
		s = e.stream("?schema=other%2Bv1")
		if rec := s.nextEvent(); rec.event.Schema.Identity() != "other+v1" {
			t.Fatalf("filtered stream sent %v", rec.event.Schema.Identity())
		}
		e.create(note("skip", 0))
		want := e.create(`{"schema":{"$id":"other+v1","type":"object"},"payload":{"k":2}}`)
		if rec := s.nextEvent(); rec.event.ID != want.ID {
			t.Fatalf("filtered live: %v", rec.event.ID)
		}
		s.close()

		for _, q := range []string{"?from=-1", "?from=x", "?sort=nope:asc", "?start=never"} {
			s := e.stream(q)
			if s.res.StatusCode != 400 {
				t.Fatalf("%s: %d", q, s.res.StatusCode)
			}
			s.close()
		}
		waitUp(t, e)
	})
}

func TestStreamLimitAndShutdown(t *testing.T) {
	e := newEnv(t, backends[0], httpapi.Options{MaxStreams: 2})
	a, b := e.stream(""), e.stream("")
	if a.next().comment == "" || b.next().comment == "" {
		t.Fatal("streams should open with a comment")
	}
	c := e.stream("")
	if c.res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("third stream: %d", c.res.StatusCode)
	}
	c.close()
	// StopStreams ends open streams, and refuses new ones.
	e.api.StopStreams()
	for _, s := range []*sse{a, b} {
		if _, err := s.r.ReadString('\n'); err == nil {
			// A heartbeat may arrive first; the stream must end after it.
			for err == nil {
				_, err = s.r.ReadString('\n')
			}
		}
	}
	d := e.stream("")
	if d.res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("stream after stop: %d", d.res.StatusCode)
	}
	waitUp(t, e)
}

func TestStreamWithoutSubscribe(t *testing.T) {
	e := newEnv(t, backend{"replay", "storage-memory-replay-only", func(string) string { return "{}" }}, httpapi.Options{})
	a := e.create(note("a", 1))
	s := e.stream("?from=0")
	if rec := s.nextEvent(); rec.event.ID != a.ID {
		t.Fatalf("catch-up %v", rec.event.ID)
	}
	b := e.create(note("b", 2))
	if rec := s.nextEvent(); rec.event.ID != b.ID {
		t.Fatalf("live %v", rec.event.ID)
	}
	s.close()

	n := newEnv(t, backend{"none", "storage-memory-no-stream", func(string) string { return "{}" }}, httpapi.Options{})
	s = n.stream("")
	if s.res.StatusCode != http.StatusNotImplemented {
		t.Fatalf("stream without Subscribe or Replay: %d", s.res.StatusCode)
	}
}
