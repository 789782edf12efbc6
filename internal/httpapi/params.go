package httpapi

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// knownParams wraps the handler of an /api/ route so that a URL parameter
// its description does not list is refused with 400 naming it: a
// misspelled ?versoin= or ?typ= must not read as "not given". Routes whose
// parameters include payload paths (payload.PATH) check their own, since
// those are open-ended.
func (rt Route) knownParams() http.HandlerFunc {
	var known []string
	for _, p := range rt.doc.params {
		if p.in != "query" {
			continue
		}
		if strings.Contains(p.name, ".") {
			return rt.handler
		}
		known = append(known, p.name)
	}
	if !strings.HasPrefix(rt.Path, "/api/") {
		return rt.handler
	}
	want := "no URL parameters"
	if len(known) > 0 {
		want = "known: " + strings.Join(known, ", ")
	}
	return func(w http.ResponseWriter, r *http.Request) {
		if r.URL.RawQuery != "" {
			for key := range r.URL.Query() {
				if !slices.Contains(known, key) {
					writeError(w, http.StatusBadRequest, titleBadRequest, "unknown query parameter "+strconv.Quote(key)+" ("+want+")")
					return
				}
			}
		}
		rt.handler(w, r)
	}
}
