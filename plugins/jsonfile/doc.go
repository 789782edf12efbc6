// Package jsonfile is the development storage backend, registered as
// "storage-json-file": events, files and links kept as JSON files in one
// directory, so a person can read them — and, with the store shut down,
// edit them — with a text editor. It serves all three roles (storage:events,
// storage:files, storage:links) and offers Transactional, BatchSaver,
// Subscriber, Replayer and trove.SchemaStore.
//
// Use it through the core:
//
//	import _ "github.com/trovedb/trove/plugins/jsonfile"
//
//	storage:
//	  events: {plugin: storage-json-file, options: {directory: ./data}}
//	  files:  {plugin: useEventStorage}
//	  links:  {plugin: useEventStorage}
//
// or directly with New(Options{Directory: dir}) followed by Initialize.
//
// # Layout
//
//	<directory>/
//	  LOCK                     flock(2)ed by the open store; holds its pid
//	  events/<id>/<v>.json     one event version, pretty-printed trove.Event JSON
//	  links.ndjson             links added with SaveLink, one JSON object a line
//	  files/<fid>.json         a file's metadata (trove.EventFile JSON)
//	  files/<fid>.data         a file's bytes
//	  schemas.json             the schema registry: a JSON array of {id, version, schema}
//	  batch.journal            only during (or after a crash in) a batch save
//
// An event file is exactly the event's JSON as the HTTP API returns it,
// including its "position" and its full schema document, indented with two
// spaces. <id> is the event id with every byte other than a letter, a
// digit, '-', '_' or a non-leading '.' written as %XX (so "a/b" is
// "a%2Fb"); an escaped id longer than 200 bytes is named "~" followed by
// the sha256 hex of the id. <v> is the version number. Ids are
// case-sensitive: on a case-insensitive file system (macOS, Windows by
// default) two ids differing only in case would share a directory, so use
// such a system only with ids that never do. The links saved with
// an event live in its file; links.ndjson holds those added later:
//
//	{"source":{"id":"…","version":1},"type":"parent","targetEvent":{"id":"…"},"afterPosition":42}
//
// where source is the exact version the link goes out from and
// afterPosition the last position committed when it was saved (it orders the
// link among the links saved with later events). File ids are already safe
// names ([A-Za-z0-9._-]), used as is.
//
// # Durability and crash safety
//
// Everything is durable when the call returns. An event version is
// published with an atomic write (temporary file, fsync, rename, fsync of
// the directory; internal/fsutil). A batch of several new events (SaveEvents,
// a transaction's Commit) first publishes batch.journal — every new event,
// one JSON line each — which is the commit point; then writes the event
// files in place without an fsync each (a torn one is rewritten from the
// journal) and makes them durable with one syncfs(2); then removes the
// journal. Initialize finds a journal left by a crash and
// writes its events again, so a batch is all there or not at all. A link is
// one line appended to links.ndjson and fsynced; a last line without its
// newline is the torn tail of an append that never returned and is cut off
// on open. A file's bytes are streamed into a temporary file, fsynced and
// renamed to <fid>.data, then <fid>.json is published: a file exists once its
// metadata does. Leftover temporary files (names starting with '.') are
// removed on open. A file that fails to parse, an event file whose id or
// version does not match its path, a missing version or a position held
// twice is reported as a *trove.CorruptionError naming the file.
//
// A save that fails is rolled back: the event files it may have written
// are removed and the removals made durable, then its journal is removed,
// so the events do not come back after a restart. When the rollback itself
// fails, the directory may still hold the events (a journal kept on
// purpose finishes the whole batch at the next open, never a part of it):
// the save's error then wraps trove.ErrCorrupt, saying the outcome is
// unknown, and the store refuses every write until it is reopened, so no
// position is given twice. Reads go on.
//
// Positions are stored in the event files; on open the next position is one
// more than the largest found, so positions are never reused.
//
// Check verifies a store offline: it opens it as Initialize does and also
// reads every file's bytes back against its size and sha256.
//
// # Locking
//
// Initialize takes an exclusive flock on LOCK (internal/fsutil.LockDir)
// before it touches anything else in the directory, and writes its process
// id into it. A second store on the same directory — another process, or
// another Store in this one — fails Initialize within about half a second
// with an error wrapping trove.ErrLocked (ErrLocked) that names the
// directory and the holding process, and changes nothing. Check takes the
// same lock, so it fails the same way while a daemon has the store open.
// The lock is released by Shutdown or when the process exits, however it
// exits.
//
// # Memory and queries
//
// Initialize reads every file once (a few directories at a time) and keeps
// an in-memory index: every event (one copy of each distinct schema
// document) with its payload decoded, lists of events by id, schema
// identity, producer and link target, every event ordered by createdAt, and
// every link. Queries never read files: they start from the smallest
// candidate list (schema, producer, time range or link target, else the
// whole log), evaluate the compiled trove.CompiledQuery on each candidate
// (MatchDecoded, Sort, Page), and with a limit stop early — in position
// order without a sort, walking the createdAt order for a sort on createdAt
// alone. Memory is therefore proportional to the data: this is a
// development backend, sized for thousands to a few hundred thousand
// events.
//
// # Editing by hand
//
// Shut the store down first (the LOCK tells who has it open). An edited
// event file is read back through trove.Prepare, so it must stay a valid
// event; its id, version and position must stay unique and consistent with
// its path, else Initialize reports the file as corrupt.
//
// # Concurrency
//
// Every method is safe for concurrent use. One writer at a time (a mutex)
// does its file I/O; it then publishes the change in memory under a
// read-write mutex that readers share, so reads never wait on an fsync.
// Positions are assigned under the writer mutex, so commit order is
// position order. Subscribe and Replay call their function without any lock
// held. Returned events are deep copies: callers may modify them.
package jsonfile
