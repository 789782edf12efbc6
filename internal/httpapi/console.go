package httpapi

import "github.com/trovedb/trove/internal/console"

// registerConsole serves the web console (package console) at "/" and
// "/console/". Its pages are not API routes: they are outside the route
// table and the OpenAPI document, and need no token (they hold no data;
// the page sends the token with each API call it makes).
func (s *Server) registerConsole() {
	h := console.Handler()
	s.mux.Handle("GET /{$}", h)
	s.mux.Handle("GET /console/", h)
}
