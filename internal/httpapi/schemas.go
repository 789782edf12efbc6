package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/trovedb/trove"
)

// handleSchemaPost is POST /api/schemas: {"id","version","schema"}.
func (s *Server) handleSchemaPost(w http.ResponseWriter, r *http.Request) {
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
	if err := onlyKeys(body, "", "id", "version", "schema"); err != nil {
		s.fail(w, r, err)
		return
	}
	var rs trove.RegisteredSchema
	if err := json.Unmarshal(body, &rs); err != nil {
		s.fail(w, r, badRequest(detail(err)))
		return
	}
	switch {
	case rs.ID == "":
		s.fail(w, r, badRequest("must have required property 'id'"))
		return
	case rs.Version == "":
		s.fail(w, r, badRequest("must have required property 'version'"))
		return
	case isNull(rs.Schema):
		s.fail(w, r, badRequest("must have required property 'schema'"))
		return
	case kind(rs.Schema) != '{':
		s.fail(w, r, badRequest("Path /schema: must be object"))
		return
	}
	c := s.caps()
	if err := errors.Join(c.checkID("Path /id", rs.ID), c.checkID("Path /version", rs.Version)); err != nil {
		s.fail(w, r, err)
		return
	}
	before := len(s.core.Schemas())
	saved, err := s.core.RegisterSchema(r.Context(), rs)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if s.opts.SchemasChanged != nil && len(s.core.Schemas()) != before {
		if err := s.opts.SchemasChanged(r.Context()); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusCreated, saved)
}

// handleSchemaList is GET /api/schemas.
func (s *Server) handleSchemaList(w http.ResponseWriter, r *http.Request) {
	list := s.core.Schemas()
	if list == nil {
		list = []trove.RegisteredSchema{}
	}
	writeJSON(w, http.StatusOK, list)
}

// handleSchemaGet is GET /api/schemas/{id}?version=: that version, or the
// latest registered.
func (s *Server) handleSchemaGet(w http.ResponseWriter, r *http.Request) {
	rs, err := s.core.Schema(r.PathValue("id"), r.URL.Query().Get("version"))
	if err != nil {
		if errors.Is(err, trove.ErrNotFound) {
			if v := r.URL.Query().Get("version"); v != "" {
				notFound(w, fmt.Sprintf("schema %q has no version %q", r.PathValue("id"), v))
			} else {
				notFound(w, fmt.Sprintf("no schema %q is registered", r.PathValue("id")))
			}
			return
		}
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rs)
}
