package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/trovedb/trove"
)

// Error titles, as the original Trove sends them.
const (
	titleBadRequest = "Invalid Request Format"
	titleInvalid    = "Invalid Event Payload"
	titleConflict   = "Conflict"
	titleNotFound   = "Not Found"
	titleTooLarge   = "Payload Too Large"
	titleInternal   = "Internal Server Error"
	titleClosed     = "Service Unavailable"
)

// errorBody is every error response.
type errorBody struct {
	Error   string `json:"error"`
	Details string `json:"details,omitempty"`
	// Index is the failing event of a batch.
	Index *int `json:"index,omitempty"`
}

// requestError is a request-shape error: 400 with the given details.
type requestError struct{ details string }

func (e *requestError) Error() string { return "httpapi: " + e.details }

func badRequest(details string) error { return &requestError{details: details} }

// refError is an event whose schema reference names no registered schema.
type refError struct{ id, version string }

func (e *refError) Error() string {
	return "schema reference " + e.id + " version " + e.version + " is not registered"
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, titleInternal, "")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, status int, title, details string) {
	writeErrorBody(w, status, errorBody{Error: title, Details: details})
}

func writeErrorBody(w http.ResponseWriter, status int, body errorBody) {
	b, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// fail answers err with its status: see the package doc for the mapping.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, body := s.classify(err)
	if status == http.StatusInternalServerError {
		s.log.ErrorContext(r.Context(), "httpapi: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	} else {
		// The client reads the details; the log keeps the whole chain.
		s.log.DebugContext(r.Context(), "httpapi: request refused", "method", r.Method, "path", r.URL.Path, "status", status, "err", chain(err))
	}
	writeErrorBody(w, status, body)
}

// chain is err's text followed by the text of each error it wraps that
// the text does not already hold: an error may tell the client less than
// its causes (blob's file conflict), and the log keeps them all.
func chain(err error) string {
	s := err.Error()
	for e := errors.Unwrap(err); e != nil; e = errors.Unwrap(e) {
		if t := e.Error(); !strings.Contains(s, t) {
			s += " (" + t + ")"
		}
	}
	return s
}

func (s *Server) classify(err error) (int, errorBody) {
	var (
		mbe   *http.MaxBytesError
		req   *requestError
		ve    *trove.ValidationError
		ref   *refError
		fe    *trove.FileEntryError
		batch *trove.BatchError
		body  errorBody
	)
	if errors.As(err, &batch) {
		i := batch.Index
		body.Index = &i
	}
	switch {
	case errors.As(err, &mbe):
		body.Error, body.Details = titleTooLarge, "request body over "+strconv.FormatInt(mbe.Limit, 10)+" bytes"
		return http.StatusRequestEntityTooLarge, body
	case errors.As(err, &req):
		body.Error, body.Details = titleBadRequest, withIndex(body.Index, req.details)
		return http.StatusBadRequest, body
	case errors.As(err, &ve):
		body.Error, body.Details = titleInvalid, withIndex(body.Index, "Event validation failed: "+causes(ve))
		return http.StatusUnprocessableEntity, body
	case errors.As(err, &fe):
		body.Error, body.Details = titleInvalid, withIndex(body.Index, "Event validation failed: "+fe.Error())
		return http.StatusUnprocessableEntity, body
	case errors.As(err, &ref):
		body.Error, body.Details = titleInvalid, withIndex(body.Index, "Event validation failed: "+ref.Error())
		return http.StatusUnprocessableEntity, body
	case errors.Is(err, trove.ErrConflict):
		body.Error, body.Details = titleConflict, detail(err)
		return http.StatusConflict, body
	case errors.Is(err, trove.ErrNotFound):
		body.Error, body.Details = titleNotFound, detail(err)
		return http.StatusNotFound, body
	case errors.Is(err, trove.ErrInvalid):
		body.Error, body.Details = titleBadRequest, detail(err)
		return http.StatusBadRequest, body
	case errors.Is(err, trove.ErrClosed), errors.Is(err, context.Canceled):
		body.Error, body.Details = titleClosed, "the store is shutting down"
		return http.StatusServiceUnavailable, body
	}
	return http.StatusInternalServerError, errorBody{Error: titleInternal}
}

func withIndex(i *int, s string) string {
	if i == nil {
		return s
	}
	return "event " + strconv.Itoa(*i) + ": " + s
}

// detail is an error's text without the sentinel prefixes, which say
// nothing the status does not.
func detail(err error) string {
	s := err.Error()
	for _, p := range []string{"trove: invalid: ", "trove: not found: ", "trove: conflict: "} {
		s = strings.Replace(s, p, "", 1)
	}
	for _, p := range []string{": trove: invalid", ": trove: not found", ": trove: conflict"} {
		s = strings.Replace(s, p, "", 1)
	}
	return pkgPrefixes.ReplaceAllString(s, "$1")
}

// pkgPrefixes are the package and operation names storage errors start
// with ("engine: ", "blob: … local: put: "): the log keeps them, a client
// reads the error without them.
var pkgPrefixes = regexp.MustCompile(`(^|: |\()(?:(?:engine|sqlite|jsonfile|memory|filesystem|postgres|s3|blob|local|core|trove|httpapi|backup|index|segment|query|put|get|save|save file|save link)(?:: ))+`)

func causes(ve *trove.ValidationError) string {
	parts := make([]string, 0, len(ve.Causes))
	for _, c := range ve.Causes {
		p := c.Path
		if p == "" {
			p = "/"
		}
		parts = append(parts, p+": "+c.Message)
	}
	if len(parts) == 0 {
		return "payload does not match schema " + ve.Schema
	}
	return strings.Join(parts, "; ")
}

// limitBody caps r's body at limit bytes (a *http.MaxBytesError past it:
// 413) and makes any other failure to read it — a client that hangs up
// mid-body, a broken chunked encoding — a request error (400) rather than
// a storage failure.
// A body whose Content-Length is over the limit fails at its first read,
// before a byte reaches storage.
func limitBody(w http.ResponseWriter, r *http.Request, limit int64) {
	r.Body = &bodyReader{rc: http.MaxBytesReader(w, r.Body, limit), over: r.ContentLength > limit, limit: limit}
}

type bodyReader struct {
	rc    io.ReadCloser
	over  bool
	limit int64
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.over {
		return 0, &http.MaxBytesError{Limit: b.limit}
	}
	n, err := b.rc.Read(p)
	if err != nil && err != io.EOF {
		var mbe *http.MaxBytesError
		if !errors.As(err, &mbe) {
			err = &requestError{details: "reading the request body: " + readErrText(err)}
		}
	}
	return n, err
}

// readErrText says why a body could not be read, in the API's words where
// the cause is known.
func readErrText(err error) string {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "read timeout: the body did not arrive within the server's read deadline"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the body ended early"
	}
	return err.Error()
}

func (b *bodyReader) Close() error { return b.rc.Close() }

// notFound answers 404 with details saying what is missing.
func notFound(w http.ResponseWriter, details string) {
	writeError(w, http.StatusNotFound, titleNotFound, details)
}
