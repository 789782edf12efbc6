// Package httpapi is troved's HTTP API: a Trove-compatible http.Handler over
// a *trove.Core.
//
//	api, err := httpapi.New(core, httpapi.Options{Tokens: []string{"s3cret"}})
//	srv := &http.Server{Addr: "127.0.0.1:3000", Handler: api}
//	srv.RegisterOnShutdown(api.StopStreams)
//
// Routes (JSON everywhere; errors are {"error": TITLE, "details": TEXT}):
//
//	GET  /up                            200 "OK", text/plain, never behind auth
//	POST /api/events                    create: JSON body or multipart/form-data with file parts
//	POST /api/events/batch              a JSON array or NDJSON, saved atomically
//	GET  /api/events/{id}               one event (?version=N), 404 when absent
//	POST /api/events/query              body = trove.EventQuery, {"events":[…],"nextOffset":N}
//	GET  /api/events                    the same query from URL parameters
//	GET  /api/events/stream             Server-Sent Events: catch-up from ?from= or Last-Event-ID, then live (with ?version=N: the event whose id is "stream")
//	POST /api/schemas                   register {id, version, schema}
//	GET  /api/schemas[/{id}]            the registry, or one schema (?version=)
//	POST /api/events/{id}/links         add a link
//	GET  /api/events/{id}/links         ?type=&direction=out|in
//	GET  /api/events/{id}/linked        the events at the other end
//	POST /api/files                     multipart, or a raw body (?id=&filename=)
//	GET  /api/files/{id}[/data]         metadata, or the bytes (Range requests: 206)
//	GET  /metrics                       Prometheus, from the server's own registry
//	GET  /api/openapi.json              an OpenAPI 3 description of every route
//
// Status codes follow the storage errors: trove.ErrInvalid is 400 ("Invalid
// Request Format"), a *trove.ValidationError or an unregistered schema
// reference 422 ("Invalid Event Payload"), trove.ErrConflict 409,
// trove.ErrNotFound 404, a body over its limit 413, anything else 500
// ("Internal Server Error", with the cause logged and not sent).
//
// When Options.Tokens is set every /api/ route needs "Authorization: Bearer
// TOKEN" (401 otherwise), and /metrics too with Options.MetricsAuth; tokens
// are compared in constant time. A blank token is an error of New; a token
// under MinTokenBytes is logged as weak.
//
// Limits (Options, with their defaults) are checked while a request is
// read, and each answers 400 naming the field and the cap, before the
// request reaches the store: events per batch (counted as the JSON array
// or NDJSON streams, so a refused batch is never held whole), bytes per
// identifier (event id, producer, schema $id, schema reference, link type
// and target, registered schema id and version, file id), bytes and
// clauses per search string. A body over its byte limit (MaxEventBytes,
// MaxQueryBytes, MaxFileBytes) is 413. A stream
// position (?from=, Last-Event-ID) is 0 to MaxPosition, else 400.
//
// A panic in a handler is answered with a JSON 500 (or the 4xx its value
// calls for), logged once with its stack, and counted under that status; a
// handler that had started its answer has its connection cut instead. A
// panic in the storage code a stream runs on its own goroutine ends that
// stream, and one in a plugin's Stats leaves its figures out of the scrape;
// both are logged with their stacks.
//
// File bytes are served with "X-Content-Type-Options: nosniff" and
// "Content-Security-Policy: default-src 'none'; sandbox"; every type but a
// few plain text, image, audio and video types is sent with
// "Content-Disposition: attachment", so that an uploaded HTML or SVG file
// never runs on the API's origin.
//
// Metrics come from the server's own Prometheus registry: requests and
// latencies by route pattern, events saved, open streams, Go and process
// figures, and the figures of every storage plugin that implements
// StatsReporter (fsyncs, bytes written, index lag, open readers, …), read
// at each scrape.
//
// The Server is safe for concurrent use. Streams run until the client goes,
// the request context ends or StopStreams is called; http.Server.Shutdown
// waits for every other in-flight request to finish, so an event whose 201
// was sent is durable.
package httpapi
