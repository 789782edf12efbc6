// Package console is troved's web console: one page of plain HTML, CSS
// and JavaScript, embedded in the binary, that shows the store through the
// HTTP API of package httpapi. Handler serves it at "/" and its assets
// under "/console/"; the page then calls the API of the same origin only
// (GET /api/stats, /api/events, /api/events/stream, /api/schemas, links and
// files), sending the bearer token the user typed, which it keeps in the
// tab's sessionStorage.
//
// Pages (hash routes, so that a URL can be shared):
//
//	#/                     overview: events, store size, counts by schema and
//	                       producer, ingest chart, storage figures, last check
//	#/events?QUERY         browse: QUERY is the query string of GET /api/events
//	#/event/ID?version=N   one event: JSON, versions, files, links both ways
//	#/tail?FILTERS         live tail of GET /api/events/stream
//	#/schemas, #/schema/ID the schema registry and the schemas in use
//
// The page has a skip link and landmarks, a label on every field, buttons
// for actions and links for pages, and works at 375 px (a query that ran
// and the tail's filters fold away there). The tests audit each page in
// Chromium, press Tab through it, and check it at that width.
//
// Everything the store holds is rendered as text (textContent), never as
// markup, and the Content-Security-Policy sent with the page forbids inline
// scripts and requests to any other origin.
//
// CheckResult, WriteCheckResult and ReadCheckResult keep the outcome of the
// last integrity check in a store's directory (CheckFile) for the overview.
package console
