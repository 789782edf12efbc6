// Command troved is the Trove daemon: it serves a store over HTTP, and
// imports, exports and checks it from the command line.
//
//	troved [serve] [--addr 127.0.0.1:3000] [--data ./data] [--storage NAME] [--config FILE]
//	troved import [--batch 1000] FILE|-
//	troved export [--from POSITION]
//	troved check
//	troved version
//
// serve (the default) listens on --addr, by default on loopback, with the
// storage plugin --storage holding all three roles (events, files, links)
// with its default options under --data; --config names a YAML or JSON file
// with Trove's storage section (storage.events|files|links: {plugin,
// options}), http.addr, auth.tokens and limits; flags override it. SIGINT
// or SIGTERM stops accepting connections, lets in-flight requests finish,
// shuts the store down and exits 0: an event whose 201 was sent is stored.
//
// import reads NDJSON events (export's output, or any event JSON per line)
// from FILE or standard input and saves them in atomic batches, with a
// progress bar when standard output is a terminal; a line
// {"registeredSchema":{id,version,schema}} registers that schema. export
// writes the registered schemas that way, then the events after --from, as
// NDJSON in log position order. check runs the storage's
// integrity check on the data at rest and exits 1 on damage. The store must
// not be served by a running daemon while import, export or check use it.
//
// The HTTP API is package internal/httpapi; README.md in this directory
// walks through it with curl.
package main
