package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/trovedb/trove"
)

// maxFormParts caps the parts of one multipart request.
const maxFormParts = 1000

func mediaType(r *http.Request) string {
	ct := r.Header.Get("Content-Type")
	if ct == "application/json" {
		return ct // what mime.ParseMediaType answers, without its map
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return ""
	}
	return mt
}

// handleCreate is POST /api/events: a JSON event, or a multipart form with
// the event's fields and file parts.
func (s *Server) handleCreate(w http.ResponseWriter, r *http.Request) {
	var (
		e       trove.Event
		uploads []trove.Upload
		err     error
	)
	if mediaType(r) == "multipart/form-data" {
		s.extendRead(w)
		limitBody(w, r, s.opts.MaxFileBytes)
		var cleanup func()
		e, uploads, cleanup, err = s.readEventForm(r)
		defer cleanup()
	} else {
		limitBody(w, r, s.opts.MaxEventBytes)
		var release func()
		if release, err = s.admitBody(r); err != nil {
			return // the client left while the request waited
		}
		defer release()
		var body []byte
		if body, err = readAll(r.Body, r.ContentLength); err == nil {
			e, err = s.caps().decodeEvent(body)
		}
	}
	if err == nil {
		err = s.checkRef(e)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	saved, err := s.core.CreateEvent(r.Context(), e, uploads...)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.metrics.eventsSaved.Inc()
	if wantsMinimal(w, r) {
		writeRef(w, saved)
		return
	}
	writeEvent(w, http.StatusCreated, saved)
}

// maxReadHint bounds the first buffer readAll makes from a body's
// declared length, so that a length claimed and never sent costs little.
const maxReadHint = 1 << 20

// readAll is io.ReadAll, with a first buffer the size of the body's
// declared length (up to maxReadHint) when it has one: one allocation for
// most bodies instead of a growing series of them.
func readAll(r io.Reader, size int64) ([]byte, error) {
	if size <= 0 || size > maxReadHint {
		return io.ReadAll(r)
	}
	b := make([]byte, 0, size+1) // the last read, which finds the end, needs room
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // more than was declared: grow
		}
	}
}

// checkRef refuses an event whose schema reference names no registered
// schema: 422, as a payload that cannot be validated.
func (s *Server) checkRef(e trove.Event) error {
	if !e.Schema.IsReference() {
		return nil
	}
	if _, err := s.core.Schema(e.Schema.Identity(), e.Schema.RefVersion()); err != nil {
		return &refError{id: e.Schema.Identity(), version: e.Schema.RefVersion()}
	}
	return nil
}

// readEventForm reads a multipart create request. File parts are spooled to
// temporary files (removed by cleanup) so the event is validated before any
// byte reaches file storage, and so that parts of any size never sit in
// memory. Each file part becomes an upload with a generated id, whatever
// its field name, so the same form may be posted any number of times.
func (s *Server) readEventForm(r *http.Request) (trove.Event, []trove.Upload, func(), error) {
	var (
		uploads []trove.Upload
		temps   []*os.File
		fields  = map[string]json.RawMessage{}
		textLen int64
	)
	cleanup := func() {
		for _, f := range temps {
			f.Close()
			os.Remove(f.Name())
		}
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return trove.Event{}, nil, cleanup, badRequest("broken multipart body: " + err.Error())
	}
	for n := 0; ; n++ {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return trove.Event{}, nil, cleanup, multipartErr(err)
		}
		if n == maxFormParts {
			return trove.Event{}, nil, cleanup, badRequest(fmt.Sprintf("a form holds at most %d parts", maxFormParts))
		}
		if part.FileName() == "" {
			// A text field.
			rest := s.opts.MaxEventBytes - textLen
			b, err := io.ReadAll(io.LimitReader(part, rest+1))
			if err != nil {
				return trove.Event{}, nil, cleanup, multipartErr(err)
			}
			textLen += int64(len(b))
			if textLen > s.opts.MaxEventBytes {
				return trove.Event{}, nil, cleanup, &http.MaxBytesError{Limit: s.opts.MaxEventBytes}
			}
			v, err := formField(part.FormName(), string(b))
			if err != nil {
				return trove.Event{}, nil, cleanup, err
			}
			fields[part.FormName()] = v
			continue
		}
		f, err := os.CreateTemp("", "troved-upload-*")
		if err != nil {
			return trove.Event{}, nil, cleanup, err
		}
		temps = append(temps, f)
		if _, err := io.Copy(f, part); err != nil {
			return trove.Event{}, nil, cleanup, multipartErr(err)
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return trove.Event{}, nil, cleanup, err
		}
		ct := part.Header.Get("Content-Type")
		if ct == "" {
			ct = "application/octet-stream"
		}
		uploads = append(uploads, trove.Upload{
			File: trove.EventFile{ContentType: ct, Filename: part.FileName()},
			Data: f,
		})
	}
	if err := eventKeys(fields); err != nil {
		return trove.Event{}, nil, cleanup, err
	}
	e, err := s.caps().eventFromFields(fields)
	return e, uploads, cleanup, err
}

// multipartErr keeps a body-size error as is (413), and the body's own
// reading errors (already 400s), and makes any other error a 400.
func multipartErr(err error) error {
	var (
		mbe *http.MaxBytesError
		req *requestError
	)
	if errors.As(err, &mbe) || errors.As(err, &req) {
		return err
	}
	return badRequest("broken multipart body: " + err.Error())
}

// extendRead gives a request that carries file bytes a longer read
// deadline than the server's ReadTimeout.
func (s *Server) extendRead(w http.ResponseWriter) {
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.opts.UploadReadTimeout))
}

// handleBatch is POST /api/events/batch: a JSON array, or NDJSON with
// Content-Type application/x-ndjson, saved atomically.
func (s *Server) handleBatch(w http.ResponseWriter, r *http.Request) {
	limitBody(w, r, s.opts.MaxEventBytes)
	release, err := s.admitBody(r)
	if err != nil {
		return // the client left while the request waited
	}
	defer release()
	mt := mediaType(r)
	events, err := s.caps().decodeBatch(r.Body, mt == "application/x-ndjson" || mt == "application/jsonl")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for i, e := range events {
		if err := s.checkRef(e); err != nil {
			s.fail(w, r, &trove.BatchError{Index: i, Err: err})
			return
		}
	}
	saved := []trove.Event{}
	if len(events) > 0 {
		if saved, err = s.core.CreateEvents(r.Context(), events); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	s.metrics.eventsSaved.Add(float64(len(saved)))
	if wantsMinimal(w, r) {
		writeRefs(w, saved)
		return
	}
	writeEvents(w, http.StatusCreated, saved)
}

// handleGet is GET /api/events/{id}?version=N.
func (s *Server) handleGet(w http.ResponseWriter, r *http.Request) {
	id, err := s.eventIDFrom(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	e, err := s.core.GetEvent(r.Context(), id)
	if err != nil {
		if errors.Is(err, trove.ErrNotFound) {
			if id.Version > 0 {
				notFound(w, fmt.Sprintf("event %q has no version %d", id.ID, id.Version))
			} else {
				notFound(w, fmt.Sprintf("no event %q", id.ID))
			}
			return
		}
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, e)
}

// eventIDFrom reads the {id} path value and the optional ?version=.
func (s *Server) eventIDFrom(r *http.Request) (trove.EventID, error) {
	id := trove.EventID{ID: r.PathValue("id")}
	if err := s.caps().checkID("event id", id.ID); err != nil {
		return id, err
	}
	if v := r.URL.Query().Get("version"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return id, badRequest("version must be a positive integer")
		}
		id.Version = n
	}
	return id, nil
}
