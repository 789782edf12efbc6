package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/trovedb/trove"
	"golang.org/x/sync/semaphore"
)

// Options configure a Server. Zero fields take the defaults named on each.
type Options struct {
	// Tokens, when not empty, are the bearer tokens accepted on /api/ routes.
	// A blank token is an error of New; one under MinTokenBytes is logged
	// as weak.
	Tokens []string
	// MetricsAuth puts GET /metrics behind the tokens too. Default false:
	// /metrics is open, as /up is.
	MetricsAuth bool
	// MaxEventBytes caps a JSON or NDJSON request body and the non-file
	// fields of a multipart form, in bytes. Default 32 MiB.
	MaxEventBytes int64
	// MaxQueryBytes caps the body of POST /api/events/query, in bytes; a
	// query has no need of an event's room, and its whole body is decoded
	// before its search string is checked. Default 1 MiB (never more than
	// MaxEventBytes).
	MaxQueryBytes int64
	// MaxFileBytes caps a request that carries file bytes (multipart events,
	// POST /api/files), in bytes. Default 1 GiB.
	MaxFileBytes int64
	// DefaultPageSize is the page size of a query without a limit. Default 100.
	DefaultPageSize int
	// MaxPageSize caps a query's limit; a larger limit is lowered to it and
	// nextOffset tells where the rest starts. Default 10,000.
	MaxPageSize int
	// MaxBatchEvents caps the events of one batch request, counted as the
	// array or the NDJSON lines are read: one more is a 400 before it is
	// decoded. Default 100,000.
	MaxBatchEvents int
	// MaxSearchBytes caps a query's search string, in bytes; a longer one
	// is a 400 before it is parsed. Default 16 KiB.
	MaxSearchBytes int
	// MaxSearchClauses caps the clauses of a query's search string; more is
	// a 400 before the query runs. Default 1,024 (Lucene's default
	// maximum clause count).
	MaxSearchClauses int
	// MaxIdentifierBytes caps, in bytes, each identifier a request names:
	// event id, producer, schema $id or reference id and version, link type
	// and target, registered schema id and version, file id. A longer one
	// is a 400 naming the field, before the event's schema is compiled.
	// Default 1,024.
	MaxIdentifierBytes int
	// MaxInflightEventBytes caps the JSON and NDJSON event bodies
	// (POST /api/events, POST /api/events/batch) read and decoded at once,
	// in bytes: a request counts its Content-Length (MaxEventBytes when it
	// has none) and waits, while its client waits, until that much of the
	// budget is free. A decoded batch takes several times its body in
	// memory, so this bounds the memory all such requests take together.
	// Default twice MaxEventBytes (64 MiB); never less than MaxEventBytes
	// would let one request through.
	MaxInflightEventBytes int64
	// MaxStreams caps concurrent event streams; one more gets 503. Default 256.
	MaxStreams int
	// Heartbeat is the interval of the comment lines that keep an idle
	// stream open. Default 15s.
	Heartbeat time.Duration
	// StreamWriteTimeout is how long one write to a stream may take before
	// the client is dropped as too slow. Default 30s.
	StreamWriteTimeout time.Duration
	// UploadReadTimeout is the read deadline of requests that carry file
	// bytes (multipart events, POST /api/files), from the moment their
	// handler starts; it replaces the http.Server's ReadTimeout for them. A
	// client still sending when it passes gets a 400 and the connection is
	// closed. Default 1h.
	UploadReadTimeout time.Duration
	// SchemasChanged, when set, is called after a new schema is registered
	// (to persist the registry when the event storage does not).
	SchemasChanged func(ctx context.Context) error
	// Logger receives request errors. Default slog.Default().
	Logger *slog.Logger
}

// Default limits.
const (
	DefaultMaxEventBytes   = 32 << 20
	DefaultMaxQueryBytes   = 1 << 20
	DefaultMaxFileBytes    = 1 << 30
	DefaultPageSize        = 100
	DefaultMaxPageSize     = 10_000
	DefaultMaxBatchEvents  = 100_000
	DefaultMaxSearchBytes  = 16 << 10
	DefaultMaxSearchClause = 1024
	DefaultMaxIDBytes      = trove.DefaultMaxIdentifierBytes
	DefaultMaxStreams      = 256
	DefaultHeartbeat       = 15 * time.Second
	DefaultStreamWriteTime = 30 * time.Second
	DefaultUploadReadTime  = time.Hour
)

// MinTokenBytes is the length under which a bearer token is logged as weak.
const MinTokenBytes = 16

func (o Options) withDefaults() Options {
	if o.MaxEventBytes <= 0 {
		o.MaxEventBytes = DefaultMaxEventBytes
	}
	if o.MaxQueryBytes <= 0 {
		o.MaxQueryBytes = min(DefaultMaxQueryBytes, o.MaxEventBytes)
	}
	if o.MaxFileBytes <= 0 {
		o.MaxFileBytes = DefaultMaxFileBytes
	}
	if o.DefaultPageSize <= 0 {
		o.DefaultPageSize = DefaultPageSize
	}
	if o.MaxPageSize <= 0 {
		o.MaxPageSize = DefaultMaxPageSize
	}
	if o.DefaultPageSize > o.MaxPageSize {
		o.DefaultPageSize = o.MaxPageSize
	}
	if o.MaxBatchEvents <= 0 {
		o.MaxBatchEvents = DefaultMaxBatchEvents
	}
	if o.MaxInflightEventBytes <= 0 {
		o.MaxInflightEventBytes = 2 * o.MaxEventBytes
	}
	o.MaxInflightEventBytes = max(o.MaxInflightEventBytes, o.MaxEventBytes)
	if o.MaxSearchBytes <= 0 {
		o.MaxSearchBytes = DefaultMaxSearchBytes
	}
	if o.MaxSearchClauses <= 0 {
		o.MaxSearchClauses = DefaultMaxSearchClause
	}
	if o.MaxIdentifierBytes <= 0 {
		o.MaxIdentifierBytes = DefaultMaxIDBytes
	}
	if o.MaxStreams <= 0 {
		o.MaxStreams = DefaultMaxStreams
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = DefaultHeartbeat
	}
	if o.StreamWriteTimeout <= 0 {
		o.StreamWriteTimeout = DefaultStreamWriteTime
	}
	if o.UploadReadTimeout <= 0 {
		o.UploadReadTimeout = DefaultUploadReadTime
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Server is the HTTP API. Build it with New.
type Server struct {
	core    *trove.Core
	opts    Options
	log     *slog.Logger
	mux     *http.ServeMux
	routes  []Route
	tokens  [][32]byte // sha256 of each token
	metrics *metrics
	streams chan struct{}       // semaphore: one slot per open stream
	bodies  *semaphore.Weighted // MaxInflightEventBytes of event bodies
	stop    chan struct{}       // closed by StopStreams
	once    sync.Once
	openapi []byte
	schemas *schemaCache // parsed schema documents of requests
}

// Route is one route of the API, as registered and as described by the
// OpenAPI document.
type Route struct {
	Method  string
	Path    string // ServeMux and OpenAPI syntax: /api/events/{id}
	Summary string
	Auth    bool // behind the bearer tokens when they are configured
	handler http.HandlerFunc
	doc     operationDoc
}

// Pattern is the ServeMux pattern of the route.
func (r Route) Pattern() string { return r.Method + " " + r.Path }

// New builds the API over core. opts is copied; its zero fields get their
// defaults. A blank token (empty or only spaces) is an error: it would
// otherwise match nothing a client can send, or be mistaken for "no auth".
func New(core *trove.Core, opts Options) (*Server, error) {
	o := opts.withDefaults()
	s := &Server{
		core:    core,
		opts:    o,
		log:     o.Logger,
		mux:     http.NewServeMux(),
		streams: make(chan struct{}, o.MaxStreams),
		bodies:  semaphore.NewWeighted(o.MaxInflightEventBytes),
		stop:    make(chan struct{}),
		schemas: newSchemaCache(),
	}
	if err := CheckTokens(o.Tokens); err != nil {
		return nil, err
	}
	for i, t := range o.Tokens {
		if len(t) < MinTokenBytes {
			o.Logger.Warn("httpapi: weak auth token: shorter than the recommended minimum", "token", i+1, "bytes", len(t), "minimum", MinTokenBytes)
		}
		s.tokens = append(s.tokens, sha256.Sum256([]byte(t)))
	}
	s.metrics = newMetrics(core, o.Logger)
	s.routes = s.routeTable()
	for _, rt := range s.routes {
		s.mux.HandleFunc(rt.Pattern(), rt.knownParams())
	}
	doc, err := s.buildOpenAPI()
	if err != nil {
		return nil, err
	}
	s.openapi = doc
	return s, nil
}

// CheckTokens refuses bearer tokens no request could use: a blank token
// (empty or only spaces), which would otherwise read as "no auth", and a
// token with leading or trailing spaces, which the Authorization header
// cannot carry.
func CheckTokens(tokens []string) error {
	for i, t := range tokens {
		if strings.TrimSpace(t) == "" {
			return fmt.Errorf("httpapi: auth token %d is blank: remove it, or set a token of at least %d bytes", i+1, MinTokenBytes)
		}
		if t != strings.TrimSpace(t) {
			return fmt.Errorf("httpapi: auth token %d has leading or trailing spaces, which no request can send", i+1)
		}
	}
	return nil
}

// Routes lists the routes the server answers, in registration order.
func (s *Server) Routes() []Route { return append([]Route(nil), s.routes...) }

// StopStreams ends every open event stream and refuses new ones; register
// it with http.Server.RegisterOnShutdown so that Shutdown does not wait on
// streams that never end by themselves.
func (s *Server) StopStreams() { s.once.Do(func() { close(s.stop) }) }

// AuthEnabled reports whether bearer tokens are configured.
func (s *Server) AuthEnabled() bool { return len(s.tokens) > 0 }

// ServeHTTP routes r, checks auth and records metrics.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	_, pattern := s.mux.Handler(r)
	label := pattern
	if label == "" {
		label = "unmatched"
	}
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		d := time.Since(start)
		s.metrics.observe(label, sw.status(), d)
		if !s.log.Enabled(r.Context(), slog.LevelDebug) {
			return // and its arguments are never boxed
		}
		s.log.DebugContext(r.Context(), "httpapi: request", "method", r.Method, "path", r.URL.Path, "route", label, "status", sw.status(), "duration", d)
	}()
	if pattern == "" {
		// ServeMux answers 404 or 405 (with Allow) in plain text: keep its
		// status and headers, send our JSON error shape instead.
		s.mux.ServeHTTP(&jsonStatusWriter{ResponseWriter: sw, route: r.Method + " " + r.URL.Path}, r)
		return
	}
	if s.needsAuth(r, pattern) && !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="trove"`)
		writeError(sw, http.StatusUnauthorized, "Unauthorized", "a valid bearer token is required")
		return
	}
	defer s.recoverPanic(sw, r, label)
	s.mux.ServeHTTP(sw, r)
}

// needsAuth reports whether the request must carry a token: every /api/
// route, and /metrics when Options.MetricsAuth is set.
func (s *Server) needsAuth(r *http.Request, pattern string) bool {
	return strings.HasPrefix(r.URL.Path, "/api/") || (s.opts.MetricsAuth && pattern == "GET /metrics")
}

// recoverPanic turns a handler's panic into an answer: the right 4xx when
// the panic value is an error the API knows (a body over its limit, a
// request error), else a JSON 500. It is logged once, with its stack. When
// the handler had already started its answer, the connection is cut
// instead (http.ErrAbortHandler), as net/http would. It runs inside the
// metrics of ServeHTTP, so the request is counted under the status sent.
func (s *Server) recoverPanic(sw *statusWriter, r *http.Request, route string) {
	v := recover()
	if v == nil {
		return
	}
	if v == http.ErrAbortHandler {
		panic(v)
	}
	status, body := http.StatusInternalServerError, errorBody{Error: titleInternal}
	if err, ok := v.(error); ok {
		if st, b := s.classify(err); st < 500 {
			status, body = st, b
		}
	}
	s.log.ErrorContext(r.Context(), "httpapi: panic while answering a request", "method", r.Method, "path", r.URL.Path, "route", route,
		"panic", fmt.Sprint(v), "status", status, "stack", string(debug.Stack()))
	if sw.code != 0 {
		panic(http.ErrAbortHandler)
	}
	writeErrorBody(sw, status, body)
}

// authorized checks the bearer token against every configured token, in
// constant time for each.
func (s *Server) authorized(r *http.Request) bool {
	if len(s.tokens) == 0 {
		return true
	}
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	match := 0
	for _, t := range s.tokens {
		match |= subtle.ConstantTimeCompare(sum[:], t[:])
	}
	return match == 1
}

// statusWriter remembers the status written, for metrics. It passes
// Flush and the ResponseController methods through Unwrap.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}

// jsonStatusWriter turns ServeMux's plain-text 404/405 into the API's JSON
// error shape, keeping the status and the Allow header.
type jsonStatusWriter struct {
	http.ResponseWriter
	route string
	wrote bool
}

func (w *jsonStatusWriter) WriteHeader(code int) {
	if w.wrote {
		return
	}
	w.wrote = true
	w.Header().Del("X-Content-Type-Options")
	writeError(w.ResponseWriter, code, http.StatusText(code), "no route for "+w.route)
}

func (w *jsonStatusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusNotFound)
	}
	return len(b), nil
}

// admitBody waits until the in-flight budget of event bodies
// (Options.MaxInflightEventBytes) has room for r's body, its Content-Length
// or, unknown, MaxEventBytes, and returns what gives the room back. It
// fails only when the request ends first (its client left).
func (s *Server) admitBody(r *http.Request) (release func(), err error) {
	n := s.opts.MaxEventBytes
	if r.ContentLength >= 0 && r.ContentLength < n {
		n = max(r.ContentLength, 1)
	}
	if !s.bodies.TryAcquire(n) {
		s.metrics.bodyWaits.Inc()
		err := s.bodies.Acquire(r.Context(), n)
		s.metrics.bodyWaits.Dec()
		if err != nil {
			return nil, err
		}
	}
	s.metrics.bodyBytes.Add(float64(n))
	return func() {
		s.metrics.bodyBytes.Sub(float64(n))
		s.bodies.Release(n)
	}, nil
}
