package httpapi

import (
	"encoding/json"
	"io"
	"net/http"

	"github.com/trovedb/trove"
)

// handleLinkPost is POST /api/events/{id}/links (?version= picks the source
// version; default the latest): the body is one link.
func (s *Server) handleLinkPost(w http.ResponseWriter, r *http.Request) {
	id, err := eventIDFrom(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	limitBody(w, r, s.opts.MaxEventBytes)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if kind(body) != '{' {
		s.fail(w, r, badRequest("must be object"))
		return
	}
	var l trove.EventLink
	if err := json.Unmarshal(body, &l); err != nil {
		s.fail(w, r, badRequest("body is not a link: "+jsonErrText(err)))
		return
	}
	switch {
	case l.Type == "":
		s.fail(w, r, badRequest("must have required property 'type'"))
		return
	case l.TargetEvent.ID == "":
		s.fail(w, r, badRequest("must have required property 'targetEvent'"))
		return
	}
	if err := s.core.SaveLink(r.Context(), id, l); err != nil {
		s.fail(w, r, err)
		return
	}
	l.SourceEvent = &id
	writeJSON(w, http.StatusCreated, l)
}

func linkOptions(r *http.Request) (trove.LinkOptions, error) {
	q := r.URL.Query()
	dir, err := trove.ParseDirection(q.Get("direction"))
	if err != nil {
		return trove.LinkOptions{}, badRequest("direction must be out or in")
	}
	return trove.LinkOptions{Type: q.Get("type"), Direction: dir}, nil
}

// handleLinks is GET /api/events/{id}/links?type=&direction=out|in.
func (s *Server) handleLinks(w http.ResponseWriter, r *http.Request) {
	id, err := eventIDFrom(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	opts, err := linkOptions(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	links, err := s.core.GetLinks(r.Context(), id, opts)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if links == nil {
		links = []trove.EventLink{}
	}
	writeJSON(w, http.StatusOK, links)
}

// handleLinked is GET /api/events/{id}/linked?type=&direction=.
func (s *Server) handleLinked(w http.ResponseWriter, r *http.Request) {
	id, err := eventIDFrom(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	opts, err := linkOptions(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	events, err := s.core.GetLinkedEvents(r.Context(), id, opts)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if events == nil {
		events = []trove.Event{}
	}
	writeJSON(w, http.StatusOK, events)
}
