package httpapi

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/trovedb/trove"
)

// handleFilePost is POST /api/files. A multipart body holds one file part
// (text fields "id", "filename" and "contentType" before it override the
// part's); any other body is the file's bytes, with its Content-Type and
// ?id=&filename=. A missing id is generated.
func (s *Server) handleFilePost(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength > s.opts.MaxFileBytes {
		s.fail(w, r, &http.MaxBytesError{Limit: s.opts.MaxFileBytes})
		return
	}
	s.extendRead(w)
	limitBody(w, r, s.opts.MaxFileBytes)
	q := r.URL.Query()
	f := trove.EventFile{ID: q.Get("id"), Filename: q.Get("filename"), Hash: q.Get("hash")}
	if f.ID != "" {
		if err := s.caps().checkID("id", f.ID); err != nil {
			s.fail(w, r, err)
			return
		}
		if err := trove.ValidateFileID(f.ID); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	var (
		saved trove.EventFile
		err   error
	)
	if mediaType(r) == "multipart/form-data" {
		saved, err = s.saveFormFile(r, f)
	} else {
		f.ContentType = r.Header.Get("Content-Type")
		if f.ContentType == "" {
			f.ContentType = "application/octet-stream"
		}
		saved, err = s.core.SaveFile(r.Context(), f, r.Body)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, saved)
}

func (s *Server) saveFormFile(r *http.Request, f trove.EventFile) (trove.EventFile, error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return f, badRequest("broken multipart body: " + err.Error())
	}
	for n := 0; n < maxFormParts; n++ {
		part, err := mr.NextPart()
		if err == io.EOF {
			return f, badRequest("the form has no file part")
		}
		if err != nil {
			return f, multipartErr(err)
		}
		if part.FileName() == "" {
			b, err := io.ReadAll(io.LimitReader(part, 4096))
			if err != nil {
				return f, multipartErr(err)
			}
			v := strings.TrimSpace(string(b))
			switch part.FormName() {
			case "id":
				f.ID = v
			case "filename":
				f.Filename = v
			case "contentType":
				f.ContentType = v
			case "hash":
				f.Hash = v
			}
			continue
		}
		if f.Filename == "" {
			f.Filename = part.FileName()
		}
		if f.ContentType == "" {
			f.ContentType = part.Header.Get("Content-Type")
		}
		if f.ContentType == "" {
			f.ContentType = "application/octet-stream"
		}
		if f.ID != "" {
			if err := s.caps().checkID("id", f.ID); err != nil {
				return f, err
			}
			if err := trove.ValidateFileID(f.ID); err != nil {
				return f, err
			}
		}
		saved, err := s.core.SaveFile(r.Context(), f, &partReader{part})
		if err != nil {
			return f, err
		}
		if _, err := mr.NextPart(); err != io.EOF {
			// Only one file per request: say so rather than drop the rest.
			// The file saved stays: it is complete and idempotent to resend.
			return saved, badRequest("one file per request: post each file on its own")
		}
		return saved, nil
	}
	return f, badRequest("the form has no file part")
}

// partReader turns a broken multipart part into a 400 rather than a
// storage failure.
type partReader struct{ p io.Reader }

func (r *partReader) Read(b []byte) (int, error) {
	n, err := r.p.Read(b)
	if err != nil && err != io.EOF {
		err = multipartErr(err)
	}
	return n, err
}

// handleFileGet is GET /api/files/{id}: the metadata.
func (s *Server) handleFileGet(w http.ResponseWriter, r *http.Request) {
	f, err := s.core.GetFile(r.Context(), r.PathValue("id"))
	if err != nil {
		if errors.Is(err, trove.ErrNotFound) {
			notFound(w, fmt.Sprintf("no file %q", r.PathValue("id")))
			return
		}
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, f)
}

// handleFileData is GET /api/files/{id}/data: the bytes, with their content
// type and length, ranges (206) and conditional requests on the hash.
func (s *Server) handleFileData(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("id")
	f, err := s.core.GetFile(ctx, id)
	if err != nil {
		if errors.Is(err, trove.ErrNotFound) {
			notFound(w, fmt.Sprintf("no file %q", id))
			return
		}
		s.fail(w, r, err)
		return
	}
	rc, err := s.core.GetFileData(ctx, id)
	if err != nil {
		if errors.Is(err, trove.ErrNotFound) {
			notFound(w, fmt.Sprintf("file %q has no stored bytes", id))
			return
		}
		s.fail(w, r, err)
		return
	}
	defer rc.Close()
	h := w.Header()
	setFileHeaders(h, f)
	if f.Hash != "" {
		h.Set("ETag", strconv.Quote(f.Hash))
	}
	content, ok := rc.(io.ReadSeeker)
	if !ok {
		content = &forwardSeeker{r: rc, size: f.Size}
		if strings.Contains(r.Header.Get("Range"), ",") {
			// Several ranges need seeking back; serve the whole file.
			r.Header.Del("Range")
		}
	}
	http.ServeContent(w, r, "", time.Time{}, content)
}

// inlineTypes are the media types a browser shows without running anything
// from them: served inline. Every other type, and a content type that does
// not parse, is served as a download.
var inlineTypes = map[string]bool{
	"text/plain": true, "text/csv": true, "application/json": true,
	"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true, "image/avif": true, "image/bmp": true,
	"audio/mpeg": true, "audio/ogg": true, "audio/wav": true, "audio/webm": true, "audio/flac": true,
	"video/mp4": true, "video/webm": true, "video/ogg": true,
}

// fileCSP forbids a served file to load, run or embed anything, and
// sandboxes it as an opaque origin should a browser render it.
const fileCSP = "default-src 'none'; sandbox"

// setFileHeaders sets the headers of a file's bytes. Uploaders choose the
// content type, and the bytes are served on the API's origin, so a
// browser must never guess another type (nosniff) nor run what it gets
// (the CSP); every type but a few plain text, image, audio and video ones
// (so HTML, SVG, XML, scripts, PDF, application/octet-stream, anything
// unknown) is sent as an attachment, so that opening the link downloads it.
func setFileHeaders(h http.Header, f trove.EventFile) {
	ct := f.ContentType
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil {
		ct, mt = "application/octet-stream", "application/octet-stream"
	}
	h.Set("Content-Type", ct)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", fileCSP)
	if !inlineTypes[mt] {
		disp := "attachment"
		if f.Filename != "" {
			if d := mime.FormatMediaType("attachment", map[string]string{"filename": f.Filename}); d != "" {
				disp = d
			}
		}
		h.Set("Content-Disposition", disp)
	}
}

// forwardSeeker lets http.ServeContent serve one range of a stream that
// cannot seek: it knows the size, and seeks forward by reading.
type forwardSeeker struct {
	r    io.Reader
	pos  int64
	size int64
}

func (f *forwardSeeker) Read(b []byte) (int, error) {
	n, err := f.r.Read(b)
	f.pos += int64(n)
	return n, err
}

func (f *forwardSeeker) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = f.pos + offset
	case io.SeekEnd:
		// ServeContent asks for the size, then seeks back to where it was.
		return f.size + offset, nil
	}
	if abs < f.pos {
		return f.pos, errors.New("httpapi: file stream cannot seek backwards")
	}
	if _, err := io.CopyN(io.Discard, f.r, abs-f.pos); err != nil {
		return f.pos, err
	}
	f.pos = abs
	return abs, nil
}
