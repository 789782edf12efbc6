// Package backup writes a store's whole contents as one portable, versioned
// stream and loads such a stream into a store, of the same backend or
// another: the registered schemas, every event version in position order,
// the bytes of the files events name, and the links added to events after
// they were saved, each placed so that loading the stream in order gives
// every link listing its original order. FORMAT.md describes the stream
// line by line.
//
// Export reads through a trove.Core, so it runs against a live store (an
// embedding program's, or troved's through GET /api/export) and writes the
// events committed when it started: a prefix of the log. Import is
// idempotent: events, files, schemas and links the store holds already are
// left as they are and counted apart, so a stream can be loaded again after
// an interruption.
package backup
