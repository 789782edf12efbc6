package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/trovedb/trove"
)

// queryResult is the body of a query response.
type queryResult struct {
	Events     []trove.Event `json:"events"`
	NextOffset *int          `json:"nextOffset,omitempty"`
}

// handleQueryPost is POST /api/events/query: the body is an EventQuery.
func (s *Server) handleQueryPost(w http.ResponseWriter, r *http.Request) {
	limitBody(w, r, s.opts.MaxQueryBytes)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var q trove.EventQuery
	if len(bytes.TrimSpace(body)) > 0 {
		if kind(body) != '{' {
			s.fail(w, r, badRequest("the query must be a JSON object"))
			return
		}
		if err := strictJSON(body); err != nil {
			s.fail(w, r, err)
			return
		}
		if err := json.Unmarshal(body, &q); err != nil {
			s.fail(w, r, badRequest("bad query: "+detail(err)))
			return
		}
	}
	s.runQuery(w, r, q)
}

// handleQueryGet is GET /api/events?…: the same query from URL parameters.
func (s *Server) handleQueryGet(w http.ResponseWriter, r *http.Request) {
	q, err := queryFromURL(r.URL.Query(), "sort", "limit", "offset", "allVersions")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.runQuery(w, r, q)
}

// runQuery pages q: an absent limit is the default page, a limit above the
// maximum is lowered to it, and one more event is asked for to learn
// whether nextOffset is due.
func (s *Server) runQuery(w http.ResponseWriter, r *http.Request, q trove.EventQuery) {
	limit := s.opts.DefaultPageSize
	if q.Limit != nil {
		limit = min(*q.Limit, s.opts.MaxPageSize)
	}
	if err := s.checkSearch(q.Search); err != nil {
		s.fail(w, r, err)
		return
	}
	if _, err := q.Compile(); err != nil {
		s.fail(w, r, err)
		return
	}
	if limit < 0 {
		s.fail(w, r, badRequest("limit must not be negative"))
		return
	}
	q.Limit = trove.Limit(limit + 1)
	if limit == 0 {
		q.Limit = trove.Limit(0)
	}
	events, err := s.core.QueryEvents(r.Context(), q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	res := queryResult{Events: events}
	if len(events) > limit {
		res.Events = events[:limit]
		next := q.Offset + limit
		res.NextOffset = &next
	}
	if res.Events == nil {
		res.Events = []trove.Event{}
	}
	writeJSON(w, http.StatusOK, res)
}

// checkSearch holds a search string to its caps before the query runs: its
// length first, so that parsing it costs at most the byte cap, then its
// clauses, so that no query asks the engine for more than the clause cap.
// A search string that does not parse is left to the query's own check.
func (s *Server) checkSearch(search string) error {
	if search == "" {
		return nil
	}
	if len(search) > s.opts.MaxSearchBytes {
		return badRequest(fmt.Sprintf("search: must be at most %d bytes (the search cap), got %d", s.opts.MaxSearchBytes, len(search)))
	}
	sq, err := trove.ParseSearch(search)
	if err != nil {
		return nil
	}
	if n := len(sq.Clauses); n > s.opts.MaxSearchClauses {
		return badRequest(fmt.Sprintf("search: must have at most %d clauses (the clause cap), got %d", s.opts.MaxSearchClauses, n))
	}
	return nil
}

// queryFromURL reads an EventQuery from URL parameters:
//
//	schema=a&schema=b (or schemaId) producer=p start=… end=…
//	link=TYPE:TARGET (TYPE alone, or :TARGET alone) payload.PATH=VALUE
//	search=… sort=createdAt:desc (repeated or comma-separated)
//	limit=N offset=N allVersions=true
//
// Payload values are JSON scalars when they parse as one, else strings.
// Any other parameter is refused naming it, unless extra lists it (the
// route's own parameters), so that a misspelled filter never silently
// matches everything.
func queryFromURL(v url.Values, extra ...string) (trove.EventQuery, error) {
	var q trove.EventQuery
	for key := range v {
		if !filterParams[key] && !strings.HasPrefix(key, "payload.") && !slices.Contains(extra, key) {
			return q, badRequest(fmt.Sprintf("unknown query parameter %q (known: %s, payload.PATH)", key, strings.Join(knownParams(extra), ", ")))
		}
	}
	if s, ok := v["schema"]; ok {
		q.Schema = append(q.Schema, s...)
	}
	if s, ok := v["schemaId"]; ok {
		q.Schema = append(q.Schema, s...)
	}
	if p, ok := v["producer"]; ok {
		q.Producer = append([]string{}, p...)
	}
	if start, end := v.Get("start"), v.Get("end"); start != "" || end != "" {
		q.TimeRange = &trove.TimeRange{Start: start, End: end}
	}
	for _, l := range v["link"] {
		typ, target, _ := strings.Cut(l, ":")
		c := trove.LinkCriterion{Type: typ}
		if target != "" {
			c.TargetEvent = &trove.EventID{ID: target}
		}
		q.Links = append(q.Links, c)
	}
	for key, vals := range v {
		path, ok := strings.CutPrefix(key, "payload.")
		if !ok || len(vals) == 0 {
			continue
		}
		if q.Payload == nil {
			q.Payload = map[string]any{}
		}
		q.Payload[path] = scalarParam(vals[len(vals)-1])
	}
	q.Search = v.Get("search")
	for _, s := range v["sort"] {
		q.Sort = append(q.Sort, trove.ParseSortFields(s)...)
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return q, badRequest("limit must be a non-negative integer")
		}
		q.Limit = &n
	}
	if s := v.Get("offset"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return q, badRequest("offset must be a non-negative integer")
		}
		q.Offset = n
	}
	if s := v.Get("allVersions"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return q, badRequest("allVersions must be true or false")
		}
		q.AllVersions = b
	}
	return q, nil
}

// filterParams are the URL parameters of an EventQuery's filters, shared by
// the query and the stream routes.
var filterParams = map[string]bool{"schema": true, "schemaId": true, "producer": true, "start": true, "end": true,
	"link": true, "search": true}

func knownParams(extra []string) []string {
	out := slices.Sorted(maps.Keys(filterParams))
	return append(out, extra...)
}

// scalarParam is a URL parameter as a JSON scalar when it parses as one,
// else the string itself.
func scalarParam(s string) any {
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil || d.More() {
		return s
	}
	switch v.(type) {
	case map[string]any, []any:
		return s
	}
	return v
}
