package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/trovedb/trove"
)

// replayPoll is how often a stream over a storage that can replay but not
// subscribe looks for new events.
const replayPoll = time.Second

// handleStream is GET /api/events/stream: Server-Sent Events. It sends every
// stored event whose position is greater than ?from= (or the Last-Event-ID
// of a reconnecting client), then each new event as it commits, each as
//
//	id: <position>
//	data: <event JSON>
//
// with comment lines as heartbeats. The query filters of GET /api/events
// apply (sort, limit and offset do not: a stream is in position order).
func (s *Server) handleStream(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	if v.Has("version") {
		// GET /api/events/stream?version=N is the event whose id is
		// "stream": the stream takes no version.
		r.SetPathValue("id", "stream")
		s.handleGet(w, r)
		return
	}
	from, cq, err := s.streamRequest(r, v)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	source := s.streamSource()
	if source == nil {
		writeError(w, http.StatusNotImplemented, "Not Implemented", "the event storage cannot stream its log")
		return
	}
	release, ok := s.admitStream(w)
	if !ok {
		return
	}
	defer release()

	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	go func() {
		select {
		case <-s.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	write, err := s.startEventStream(w)
	if err != nil {
		return
	}
	events, done := s.pumpStream(ctx, source, from)
	tick := time.NewTicker(s.opts.Heartbeat)
	defer tick.Stop()
	for {
		select {
		case e := <-events:
			if !s.streamMatch(ctx, cq, e) {
				continue
			}
			data, err := json.Marshal(e)
			if err != nil {
				s.log.ErrorContext(ctx, "httpapi: stream: encode event", "position", e.Position, "err", err)
				return
			}
			if err := write(fmt.Appendf(nil, "id: %d\ndata: %s\n\n", e.Position, data)); err != nil {
				return
			}
		case <-tick.C:
			if err := write([]byte(": heartbeat\n\n")); err != nil {
				return
			}
		case err := <-done:
			if err != nil && err != errStreamPanic && !errors.Is(err, context.Canceled) && ctx.Err() == nil {
				s.log.ErrorContext(ctx, "httpapi: stream ended", "err", err)
			}
			return
		case <-ctx.Done():
			return
		}
	}
}

// streamRequest reads a stream's start (from, or Last-Event-ID, which
// wins) and its filters, compiled, without sort or paging.
func (s *Server) streamRequest(r *http.Request, v url.Values) (uint64, *trove.CompiledQuery, error) {
	var from uint64
	fromText := v.Get("from")
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		fromText = id
	}
	if fromText != "" {
		n, err := parsePosition(fromText)
		if err != nil {
			return 0, nil, err
		}
		from = n
	}
	q, err := queryFromURL(v, "from")
	if err != nil {
		return 0, nil, err
	}
	if err := s.checkSearch(q.Search); err != nil {
		return 0, nil, err
	}
	if _, err := q.Compile(); err != nil {
		return 0, nil, err
	}
	q.Sort, q.Limit, q.Offset = nil, nil, 0
	cq, err := q.Compile()
	return from, cq, err
}

// admitStream takes a stream slot, or answers 503 when all are taken or
// the server is shutting down. release gives the slot back.
func (s *Server) admitStream(w http.ResponseWriter) (release func(), ok bool) {
	select {
	case s.streams <- struct{}{}:
	default:
		writeError(w, http.StatusServiceUnavailable, titleClosed, "too many open streams")
		return nil, false
	}
	select {
	case <-s.stop:
		<-s.streams
		writeError(w, http.StatusServiceUnavailable, titleClosed, "the server is shutting down")
		return nil, false
	default:
	}
	s.metrics.streams.Inc()
	return func() {
		s.metrics.streams.Dec()
		<-s.streams
	}, true
}

// startEventStream sends the stream's headers and its first comment, and
// returns the function that writes and flushes each record, with a write
// deadline so that a client that stopped reading ends the stream.
func (s *Server) startEventStream(w http.ResponseWriter) (func([]byte) error, error) {
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{}) // a stream outlives the server's ReadTimeout
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	write := func(b []byte) error {
		_ = rc.SetWriteDeadline(time.Now().Add(s.opts.StreamWriteTimeout))
		if _, err := w.Write(b); err != nil {
			return err
		}
		return rc.Flush()
	}
	return write, write([]byte(": trove event stream\n\n"))
}

// pumpStream runs the storage's stream from position from on a goroutine
// of its own, handing its events over events; done gets how it ended.
func (s *Server) pumpStream(ctx context.Context, source streamFunc, from uint64) (<-chan trove.Event, <-chan error) {
	events := make(chan trove.Event, 64)
	done := make(chan error, 1)
	go func() {
		// The source runs storage code on its own goroutine, where a panic
		// would end the process: it ends this stream instead.
		defer func() {
			if v := recover(); v != nil {
				s.log.ErrorContext(ctx, "httpapi: panic in the storage's event stream", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				done <- errStreamPanic
			}
		}()
		done <- source(ctx, from, func(e trove.Event) error {
			select {
			case events <- e:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	return events, done
}

// errStreamPanic ends a stream whose source panicked (already logged).
var errStreamPanic = errors.New("httpapi: the event stream's source panicked")

// MaxPosition is the largest log position a stream may start from: the
// largest a signed 64-bit integer holds, as every backend stores positions.
const MaxPosition = math.MaxInt64

// parsePosition reads ?from= or Last-Event-ID: decimal digits only, from 0
// to MaxPosition. Anything else (a sign, spaces inside, a number past the
// range, which would otherwise wrap around to the start of the log) is a
// request error.
func parsePosition(text string) (uint64, error) {
	t := strings.TrimSpace(text)
	bad := badRequest(fmt.Sprintf("from (or Last-Event-ID) must be a log position: an integer from 0 to %d", uint64(MaxPosition)))
	if t == "" {
		return 0, bad
	}
	for _, c := range []byte(t) {
		if c < '0' || c > '9' {
			return 0, bad
		}
	}
	n, err := strconv.ParseUint(t, 10, 64)
	if err != nil || n > MaxPosition {
		return 0, bad
	}
	return n, nil
}

// streamMatch applies the stream's filters to one event; link criteria see
// the links added after the event too.
func (s *Server) streamMatch(ctx context.Context, cq *trove.CompiledQuery, e trove.Event) bool {
	links := e.Links
	if len(cq.LinkCriteria()) > 0 && s.core.Links() != nil {
		if all, err := s.core.GetLinks(ctx, e.ID, trove.LinkOptions{}); err == nil {
			links = all
		}
	}
	return cq.Match(&e, links)
}

type streamFunc func(ctx context.Context, from uint64, fn func(trove.Event) error) error

// streamSource is the storage's Subscribe, or a polling loop over Replay,
// or nil when the storage offers neither.
func (s *Server) streamSource() streamFunc {
	switch st := s.core.Events().(type) {
	case trove.Subscriber:
		return st.Subscribe
	case trove.Replayer:
		return func(ctx context.Context, from uint64, fn func(trove.Event) error) error {
			t := time.NewTicker(replayPoll)
			defer t.Stop()
			for {
				err := st.Replay(ctx, from, func(e trove.Event) error {
					if err := fn(e); err != nil {
						return err
					}
					from = e.Position
					return nil
				})
				if err != nil {
					return err
				}
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-t.C:
				}
			}
		}
	}
	return nil
}
