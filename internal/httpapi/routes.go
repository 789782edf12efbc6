package httpapi

import "net/http"

// routeTable is every route with its OpenAPI description; New registers
// exactly these, and the OpenAPI document is built from them.
func (s *Server) routeTable() []Route {
	ev := ref("Event")
	errResp := func(desc string) response { return response{desc, "application/json", ref("Error")} }
	bad := errResp("Invalid Request Format: the request's shape is wrong")
	unprocessable := errResp("Invalid Event Payload: the payload fails its JSON Schema, or its schema reference is not registered")
	conflict := errResp("Conflict: the (id, version) exists with other content, or the version is not latest+1")
	notFound := errResp("Not Found")
	tooLarge := errResp("Payload Too Large: the body is over its limit")
	internal := errResp("Internal Server Error: storage failure")
	unauth := errResp("Unauthorized: a bearer token is configured and the request lacks a valid one")
	queryParams := []param{
		{"schema", "query", "schema identity; repeat for any of several", "string"},
		{"schemaId", "query", "alias of schema", "string"},
		{"producer", "query", "producer; repeat for any of several", "string"},
		{"start", "query", "createdAt lower bound, inclusive: RFC 3339 or YYYY-MM-DD", "string"},
		{"end", "query", "createdAt upper bound, inclusive: RFC 3339 or YYYY-MM-DD", "string"},
		{"link", "query", "TYPE:TARGET, TYPE or :TARGET; repeat to require several", "string"},
		{"payload.PATH", "query", "payload equality at a dotted path; the value is a JSON scalar when it parses as one, else a string", "string"},
		{"search", "query", "search string over payload fields", "string"},
		{"sort", "query", "field:asc|desc, repeated or comma-separated", "string"},
		{"limit", "query", "page size (default 100, at most 10000)", "integer"},
		{"offset", "query", "results to skip", "integer"},
		{"allVersions", "query", "true to consider superseded versions", "boolean"},
	}
	idParam := param{"id", "path", "event id", "string"}
	prefer := param{"Prefer", "header", "return=minimal: answer with each stored event's id and position only", "string"}
	versionParam := param{"version", "query", "event version (default: the latest)", "integer"}
	linkParams := []param{idParam, versionParam,
		{"type", "query", "only links of this type", "string"},
		{"direction", "query", "out (default) or in", "string"}}
	s.registerConsole()
	stats := newStoreStats(s)
	metricsRoute := Route{Method: "GET", Path: "/metrics", Summary: "Prometheus metrics", Auth: s.opts.MetricsAuth, handler: s.handleMetrics,
		doc: operationDoc{responses: map[int]response{200: {"metrics in the Prometheus text format", "text/plain", nil}}}}
	if s.opts.MetricsAuth {
		metricsRoute.doc.responses[401] = unauth
	}
	return []Route{
		{Method: "GET", Path: "/up", Summary: "Health check", handler: s.handleUp,
			doc: operationDoc{responses: map[int]response{200: {"OK", "text/plain", nil}}}},
		{Method: "POST", Path: "/api/events", Summary: "Create an event (JSON, or multipart with file parts)", Auth: true, handler: s.handleCreate,
			doc: operationDoc{params: []param{prefer},
				body: []bodyDoc{{"application/json", ref("NewEvent")}, {"multipart/form-data", ref("EventForm")}},
				responses: map[int]response{201: {"the stored event", "application/json", ev},
					400: bad, 409: conflict, 413: tooLarge, 422: unprocessable, 500: internal, 401: unauth}}},
		{Method: "POST", Path: "/api/events/batch", Summary: "Create many events atomically (JSON array or NDJSON)", Auth: true, handler: s.handleBatch,
			doc: operationDoc{params: []param{prefer},
				body: []bodyDoc{{"application/json", arrayOf(ref("NewEvent"))}, {"application/x-ndjson", ref("NewEvent")}},
				responses: map[int]response{201: {"the stored events", "application/json", objectOf("events", arrayOf(ev))},
					400: bad, 409: conflict, 413: tooLarge, 422: unprocessable, 500: internal, 401: unauth}}},
		{Method: "GET", Path: "/api/events/{id}", Summary: "Get an event (the latest version unless ?version=)", Auth: true, handler: s.handleGet,
			doc: operationDoc{params: []param{idParam, versionParam},
				responses: map[int]response{200: {"the event", "application/json", ev}, 400: bad, 404: notFound, 401: unauth}}},
		{Method: "POST", Path: "/api/events/query", Summary: "Query events", Auth: true, handler: s.handleQueryPost,
			doc: operationDoc{body: []bodyDoc{{"application/json", ref("EventQuery")}},
				responses: map[int]response{200: {"a page of events; nextOffset only when more exist", "application/json", ref("QueryResult")},
					400: bad, 413: tooLarge, 401: unauth}}},
		{Method: "GET", Path: "/api/events", Summary: "Query events from URL parameters", Auth: true, handler: s.handleQueryGet,
			doc: operationDoc{params: queryParams,
				responses: map[int]response{200: {"a page of events; nextOffset only when more exist", "application/json", ref("QueryResult")},
					400: bad, 401: unauth}}},
		{Method: "GET", Path: "/api/events/stream", Summary: "Stream events (Server-Sent Events): catch-up after ?from= or Last-Event-ID, then live", Auth: true, handler: s.handleStream,
			doc: operationDoc{params: append([]param{{"from", "query", "log position; events after it are sent (0: the whole log)", "integer"},
				{"Last-Event-ID", "header", "a reconnecting client's last position; overrides from", "integer"}}, queryParams[:8]...),
				responses: map[int]response{200: {"id: <position> / data: <event JSON> records, heartbeat comments", "text/event-stream", nil},
					400: bad, 401: unauth, 501: errResp("the event storage cannot stream"), 503: errResp("too many streams, or shutting down")}}},
		{Method: "POST", Path: "/api/schemas", Summary: "Register a schema", Auth: true, handler: s.handleSchemaPost,
			doc: operationDoc{body: []bodyDoc{{"application/json", ref("RegisteredSchema")}},
				responses: map[int]response{201: {"the registered schema", "application/json", ref("RegisteredSchema")},
					400: bad, 409: errResp("the id and version are registered with another document"), 401: unauth}}},
		{Method: "GET", Path: "/api/schemas", Summary: "List registered schemas", Auth: true, handler: s.handleSchemaList,
			doc: operationDoc{responses: map[int]response{200: {"every registered schema", "application/json", arrayOf(ref("RegisteredSchema"))}, 401: unauth}}},
		{Method: "GET", Path: "/api/schemas/{id}", Summary: "Get a registered schema (the latest version unless ?version=)", Auth: true, handler: s.handleSchemaGet,
			doc: operationDoc{params: []param{{"id", "path", "schema id", "string"}, {"version", "query", "schema version", "string"}},
				responses: map[int]response{200: {"the schema", "application/json", ref("RegisteredSchema")}, 404: notFound, 401: unauth}}},
		{Method: "POST", Path: "/api/events/{id}/links", Summary: "Add a link to an event", Auth: true, handler: s.handleLinkPost,
			doc: operationDoc{params: []param{idParam, versionParam}, body: []bodyDoc{{"application/json", ref("EventLink")}},
				responses: map[int]response{201: {"the link, with its source", "application/json", ref("EventLink")}, 400: bad, 404: notFound, 401: unauth}}},
		{Method: "GET", Path: "/api/events/{id}/links", Summary: "List an event's links", Auth: true, handler: s.handleLinks,
			doc: operationDoc{params: linkParams,
				responses: map[int]response{200: {"the links, in save order", "application/json", arrayOf(ref("EventLink"))}, 400: bad, 404: notFound, 401: unauth}}},
		{Method: "GET", Path: "/api/events/{id}/linked", Summary: "List the events at the other end of an event's links", Auth: true, handler: s.handleLinked,
			doc: operationDoc{params: linkParams,
				responses: map[int]response{200: {"the linked events, each once, in link order", "application/json", arrayOf(ev)}, 400: bad, 404: notFound, 401: unauth}}},
		{Method: "POST", Path: "/api/files", Summary: "Store a file (multipart with one file part, or a raw body)", Auth: true, handler: s.handleFilePost,
			doc: operationDoc{params: []param{{"id", "query", "file id (default: generated)", "string"}, {"filename", "query", "file name", "string"},
				{"hash", "query", "sha256:<hex> the bytes must have (else 400, nothing stored)", "string"}},
				body: []bodyDoc{{"multipart/form-data", ref("FileForm")}, {"application/octet-stream", binary()}},
				responses: map[int]response{201: {"the file's metadata", "application/json", ref("EventFile")},
					400: bad, 409: errResp("the id exists with other bytes"), 413: tooLarge, 401: unauth}}},
		{Method: "GET", Path: "/api/files/{id}", Summary: "Get a file's metadata", Auth: true, handler: s.handleFileGet,
			doc: operationDoc{params: []param{{"id", "path", "file id", "string"}},
				responses: map[int]response{200: {"the metadata", "application/json", ref("EventFile")}, 404: notFound, 401: unauth}}},
		{Method: "GET", Path: "/api/files/{id}/data", Summary: "Get a file's bytes (Range requests supported)", Auth: true, handler: s.handleFileData,
			doc: operationDoc{params: []param{{"id", "path", "file id", "string"}, {"Range", "header", "bytes=START-END", "string"}},
				responses: map[int]response{200: {"the bytes, with their content type", "application/octet-stream", binary()},
					206: {"the requested range", "application/octet-stream", binary()}, 404: notFound, 416: {"Range Not Satisfiable", "text/plain", nil}, 401: unauth}}},
		{Method: "GET", Path: "/api/export", Summary: "Export the whole store (an online backup): the backup/FORMAT.md stream of the events committed when the request began", Auth: true, handler: s.handleExport,
			doc: operationDoc{params: []param{{"from", "query", "export the events after this log position (0: all)", "integer"}},
				responses: map[int]response{200: {"NDJSON lines: header, schemas, files, events, links, end", "application/x-ndjson", nil}, 400: bad, 401: unauth}}},
		{Method: "GET", Path: "/api/stats", Summary: "The store's figures, as the console's overview shows them", Auth: true, handler: stats.serve,
			doc: operationDoc{responses: map[int]response{200: {"figures: last position, counts by schema and producer, ingest per interval, storage figures, last check", "application/json", nil}, 401: unauth, 500: internal}}},
		metricsRoute,
		{Method: "GET", Path: "/api/openapi.json", Summary: "This document", Auth: true, handler: s.handleOpenAPI,
			doc: operationDoc{responses: map[int]response{200: {"an OpenAPI 3 document", "application/json", nil}, 401: unauth}}},
	}
}

// handleUp is GET /up: Trove's health check.
func (s *Server) handleUp(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("OK"))
}

func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(s.openapi)
}
