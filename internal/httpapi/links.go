package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"

	"github.com/trovedb/trove"
)

// handleLinkPost is POST /api/events/{id}/links (?version= picks the source
// version; default the latest): the body is one link.
func (s *Server) handleLinkPost(w http.ResponseWriter, r *http.Request) {
	id, err := s.eventIDFrom(r)
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
	if err := strictJSON(body); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := onlyKeys(body, "", linkMembers...); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := linkIDKeys(body, ""); err != nil {
		s.fail(w, r, err)
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
	if err := s.caps().checkLink("Path /", l); err != nil {
		s.fail(w, r, err)
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
	serveLinkList(s, w, r, s.core.GetLinks)
}

// handleLinked is GET /api/events/{id}/linked?type=&direction=.
func (s *Server) handleLinked(w http.ResponseWriter, r *http.Request) {
	serveLinkList(s, w, r, s.core.GetLinkedEvents)
}

// serveLinkList answers a link listing: the event id from the path, the
// options from the query string, and the list (never null) as JSON.
func serveLinkList[T any](s *Server, w http.ResponseWriter, r *http.Request,
	list func(context.Context, trove.EventID, trove.LinkOptions) ([]T, error)) {
	id, err := s.eventIDFrom(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	opts, err := linkOptions(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	items, err := list(r.Context(), id, opts)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if items == nil {
		items = []T{}
	}
	writeJSON(w, http.StatusOK, items)
}
