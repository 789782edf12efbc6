package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/internal/httpapi"
)

// The HTTP contenders measure troved's API the way a client sees it: a
// client posting events over loopback TCP to a server in the same process.
// troved's handler (internal/httpapi over a core on storage-log) is
// compared with a bare Go server that only decodes each body into Go
// values and echoes it back, driven by the same client with the same
// bodies: the echo server is what any JSON-over-HTTP server pays, the
// difference is what the API and the store add. A batch is one POST of a
// JSON array to /api/events/batch; a single save is one POST of the event
// to /api/events. The "minimal" contenders send Prefer: return=minimal
// (troved then answers ids and positions, the echo server the ids it was
// sent). The bodies are the events' JSON without their files entries (the
// files' bytes are never uploaded, and an entry naming a file that is not
// stored is refused), built before the clock starts.
func httpContenders() []Contender {
	about := func(server string, minimal bool) string {
		s := server + ": batches POSTed as a JSON array to /api/events/batch, single saves POSTed to /api/events, over loopback HTTP/1.1 " +
			"(keep-alive, one connection per concurrent client); bodies are the events' JSON without their files entries"
		if minimal {
			s += "; Prefer: return=minimal"
		}
		return s
	}
	troved := "troved's handler (internal/httpapi) over a core on storage-log, default options (every save durable)"
	echo := "a bare net/http server that decodes each body into Go values (encoding/json, []map[string]any) and echoes it back; stores nothing"
	return []Contender{
		httpContender("http troved", about(troved, false), false, true, openTroved),
		httpContender("http troved minimal", about(troved, true), true, true, openTroved),
		httpContender("http echo", about(echo, false), false, false, openEcho),
		httpContender("http echo minimal", about(echo, true), true, false, openEcho),
	}
}

// httpServer is an HTTP handler the contender serves and how to release it.
type httpServer struct {
	handler http.Handler
	close   func(context.Context) error
}

func httpContender(name, about string, minimal, persistent bool, open func(ctx context.Context, dir string) (httpServer, error)) Contender {
	return Contender{
		Name: name, Kind: kindHTTP, About: about, Persistent: persistent,
		Available: func() error { return nil },
		Open: func(ctx context.Context, dir string, _ *slog.Logger) (Store, error) {
			srv, err := open(ctx, dir)
			if err != nil {
				return nil, err
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				_ = srv.close(ctx)
				return nil, err
			}
			hs := &http.Server{Handler: srv.handler, ReadHeaderTimeout: time.Minute}
			go func() { _ = hs.Serve(ln) }()
			return &httpStore{
				url: "http://" + ln.Addr().String(), minimal: minimal, srv: srv, hs: hs,
				client: &http.Client{Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: time.Minute}},
			}, nil
		},
	}
}

// openTroved opens a core on storage-log in dir and troved's handler over
// it, with its default options.
func openTroved(ctx context.Context, dir string) (httpServer, error) {
	core, err := trove.Open(ctx, trove.Config{Storage: trove.StorageConfig{
		Events: trove.PluginConfig{Plugin: "storage-log", Options: dirOptions(dir)},
	}})
	if err != nil {
		return httpServer{}, err
	}
	api, err := httpapi.New(core, httpapi.Options{})
	if err != nil {
		_ = core.Shutdown(ctx)
		return httpServer{}, err
	}
	return httpServer{handler: api, close: func(ctx context.Context) error {
		api.StopStreams()
		return core.Shutdown(ctx)
	}}, nil
}

// openEcho returns the decode-and-echo server: a batch is decoded into
// []map[string]any and answered {"events": [...]}, one event into
// map[string]any and answered as it is; with Prefer: return=minimal the
// answer holds each event's id only.
func openEcho(context.Context, string) (httpServer, error) {
	minimal := func(r *http.Request) bool { return r.Header.Get("Prefer") == "return=minimal" }
	answer := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(v)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/events/batch", func(w http.ResponseWriter, r *http.Request) {
		var batch []map[string]any
		if err := json.NewDecoder(r.Body).Decode(&batch); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if minimal(r) {
			ids := make([]map[string]any, len(batch))
			for i, e := range batch {
				ids[i] = map[string]any{"id": e["id"]}
			}
			answer(w, map[string]any{"events": ids})
			return
		}
		answer(w, map[string]any{"events": batch})
	})
	mux.HandleFunc("POST /api/events", func(w http.ResponseWriter, r *http.Request) {
		var e map[string]any
		if err := json.NewDecoder(r.Body).Decode(&e); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if minimal(r) {
			answer(w, map[string]any{"id": e["id"]})
			return
		}
		answer(w, e)
	})
	return httpServer{handler: mux, close: func(context.Context) error { return nil }}, nil
}

// httpStore is the client side: every save is one POST, and succeeds when
// the answer is 201 Created (read to its end, so the connection is
// reused).
type httpStore struct {
	url     string
	minimal bool
	client  *http.Client
	srv     httpServer
	hs      *http.Server
}

var (
	_ Store    = (*httpStore)(nil)
	_ preparer = (*httpStore)(nil)
)

// httpBody returns the JSON an HTTP client posts for the item's event: its
// encoding, without the files entries (see httpContenders).
func httpBody(it *Item) []byte {
	if len(it.Event.Files) == 0 {
		return it.Encoded()
	}
	if it.body == nil {
		e := it.Event
		e.Files = nil
		b, err := json.Marshal(e)
		if err != nil {
			panic(fmt.Sprintf("bench: encoding event %d: %v", it.Index, err))
		}
		it.body = b
	}
	return it.body
}

// PrepareBatch lays out the batch's request body.
func (s *httpStore) PrepareBatch(b *Batch) {
	var buf bytes.Buffer
	buf.WriteByte('[')
	for i := range b.Items {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(httpBody(&b.Items[i]))
	}
	buf.WriteByte(']')
	b.Body = buf.Bytes()
}

// PrepareItem lays out the item's request body.
func (s *httpStore) PrepareItem(it *Item) { httpBody(it) }

func (s *httpStore) SaveBatch(ctx context.Context, b *Batch) error {
	if b.Body == nil {
		s.PrepareBatch(b)
	}
	return s.post(ctx, "/api/events/batch", b.Body)
}

func (s *httpStore) Save(ctx context.Context, it *Item) error {
	return s.post(ctx, "/api/events", httpBody(it))
}

// SaveFile is not measured over HTTP: the bodies carry no files entries.
func (s *httpStore) SaveFile(context.Context, *Item) error { return errUnsupported }

func (s *httpStore) post(ctx context.Context, path string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if s.minimal {
		req.Header.Set("Prefer", "return=minimal")
	}
	res, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		msg, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		return fmt.Errorf("bench: POST %s: %s: %s", path, res.Status, bytes.TrimSpace(msg))
	}
	_, err = io.Copy(io.Discard, res.Body)
	return err
}

func (s *httpStore) Close(ctx context.Context) error {
	s.client.CloseIdleConnections()
	err := s.hs.Shutdown(ctx)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return errors.Join(err, s.srv.close(ctx))
}
