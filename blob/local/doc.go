// Package local is a blob.Store in a directory: content-addressed,
// deduplicated, streamed and crash-safe.
//
//	s, err := local.Open("/var/lib/trove/files")
//	info, err := s.Put(ctx, "report.pdf", r, blob.PutOptions{ContentType: "application/pdf"})
//	rc, info, err := s.Get(ctx, "report.pdf") // an *os.File: seeks, ReadAt
//
// # Layout
//
//	<dir>/trove-blob.json            {"format":"trove-blob-local","version":1}
//	<dir>/LOCK                       the lock file (the holder's pid)
//	<dir>/objects/<d0d1>/<digest>    the bytes, named by their SHA-256 (hex),
//	                                 sharded by the digest's first two hex digits
//	<dir>/keys/<k0k1>/<key>.json     one record per key: {"v":1,"key","size",
//	                                 "sha256","contentType","metadata"}, sharded
//	                                 by the first byte (hex) of SHA-256(key)
//
// Keys with the same bytes share one object. Records are small JSON files
// that a person can read.
//
// # Locking
//
// Open takes an exclusive flock(2) on <dir>/LOCK (internal/fsutil.LockDir)
// before it touches anything else in the directory, and Close releases it.
// A second Open of the directory, from another process or this one, fails
// within about half a second with an error wrapping trove.ErrLocked that
// names the directory and the holding process, and changes nothing (it
// removes no leftovers the holder may be writing). The kernel drops the
// lock when the process ends, however it ends.
//
// # Writes and crashes
//
// Put streams the bytes through a 256 KiB buffer into a staged file
// (objects/.staged-<random>) while hashing them and fsyncs it, then renames
// it to objects/<d0d1>/<digest> and fsyncs that directory, or
// drops it when that object exists already; then it publishes the key's
// record atomically (internal/fsutil: temporary file, fsync, rename, fsync
// of the directory) — four fsyncs in all for a new object. A record is therefore never visible before
// its bytes are durable, and a crash at any instant leaves at most staged or
// temporary files (names starting with "."), which Open removes, and
// possibly an object no record names yet, which costs space but is never
// visible (a later Put of the same bytes reuses it). A file is durable when
// Put returns.
//
// A Put on a key that exists does not stage anything: it hashes the stream
// and compares (same bytes: the stored Info; other bytes: trove.ErrConflict).
//
// # Reads
//
// Get returns the object's *os.File after checking its size against the
// record (a mismatch, a missing object or an unreadable record is a
// *trove.CorruptionError). Verify re-hashes every object.
//
// # Concurrency
//
// A Store is safe for concurrent use within one process; one process at a
// time may use a directory. Puts of different keys run in parallel; the
// publish step of one key is serialized. Delete removes the record, then
// the object unless another record names it, which it finds by reading every
// record (Delete is rare: trove.FileStorage never deletes).
package local
