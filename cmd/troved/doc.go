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
// integrity check on the data at rest, where --storage/--data or --config
// put it (it never creates a store), and exits 1 on damage, including
// damage the next open repairs (a damaged index.snap, reported as
// repairable).
//
// storage-log, storage-json-file and storage-file-system lock their
// directory while open: serve, import, export or check beside a daemon on
// the same data exits 1 at once with an error naming the directory and the
// daemon's process id, and changes nothing (use the daemon's HTTP API
// instead). storage-sqlite relies on SQLite's locking: a second process
// waits for the write lock (busyTimeoutMs) and sees the same data.
//
// Every command ends promptly on SIGINT or SIGTERM, also while it opens or
// recovers the store or waits for input; serve first finishes in-flight
// requests, and a second signal kills any command at once.
//
// The HTTP API is package internal/httpapi; README.md in this directory
// walks through it with curl.
package main
