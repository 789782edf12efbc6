// Package local is a blob.Store in a directory: streamed, crash-safe,
// with small objects packed into a log with a group commit and large ones
// content-addressed and deduplicated.
//
//	s, err := local.Open("/var/lib/trove/files")
//	info, err := s.Put(ctx, "report.pdf", r, blob.PutOptions{ContentType: "application/pdf"})
//	rc, info, err := s.Get(ctx, "report.pdf") // seeks, ReadAt
//
// # Layout
//
//	<dir>/trove-blob.json            {"format":"trove-blob-local","version":1}
//	<dir>/LOCK                       the lock file (the holder's pid)
//	<dir>/packs/<n>.pack             the pack log: small objects (key, metadata,
//	                                 bytes) and deletes, records with a CRC each,
//	                                 in groups closed by a commit record
//	<dir>/objects/<d0d1>/<digest>    loose bytes, named by their SHA-256 (hex),
//	                                 sharded by the digest's first two hex digits
//	<dir>/keys/<k0k1>/<key>.json     one record per loose key: {"v":1,"key","size",
//	                                 "sha256","contentType","metadata"}, sharded
//	                                 by the first byte (hex) of SHA-256(key)
//
// FORMAT.md documents every byte of a pack and the recovery rules. A key is
// packed or loose, never both. Loose keys with the same bytes share one
// object; packed objects are not deduplicated (a copy of a small object
// costs less than the reference counting that would share it). Directories
// written before packs existed hold only loose objects and read as they
// always did.
//
// # Small objects: the pack log and its group commit
//
// Put reads up to Options.SmallMax (64 KiB) + 1 bytes of the stream. A
// stream that ends within SmallMax bytes is a small object: its put record
// (key, SHA-256, content type, metadata, bytes) is queued for the pack
// log's group commit: one submitter at a time leads, taking every queued
// record (up to 4 MiB), appending them and a commit record to the active
// pack with one pwrite and one fdatasync, then publishing them in the
// in-memory index (key → pack, offset, length), answering every caller of
// the group and handing the lead to the first record queued meanwhile. So
// concurrent small Puts share one fsync, as the engine's event saves do, a
// lone writer pays no hand-off to another goroutine, a
// Put returns only once its record is durable, and nothing is visible
// before. A failed write or sync is sticky: later small Puts and Deletes
// fail until the store is reopened.
//
// The active pack is extended 1 MiB at a time with zeros written along
// with a group, so that most groups overwrite allocated blocks and their
// fdatasync commits no new file size; a group of more than 256 KiB (many
// concurrent writers) extends it to its own end only, which costs it less
// than writing its bytes twice. A small Put or Delete alone thus costs one
// pwrite and one fdatasync, and creates no file. A full pack
// (Options.PackSize, 64 MiB) is cut to its last record and the next group
// starts a new one (created with its header, fsynced, its directory
// fsynced); the full pack's key file, the list of its records
// (FORMAT.md, section 6), is written before the new pack is created.
// Open rebuilds the index from the key files of the sealed packs and by
// reading the last pack (and any sealed pack whose key file is missing or
// does not match it, whose key file it then writes again): the records
// of a group count once its commit record is read and its group CRC
// holds. So opening costs time in proportion to the records packed, not
// to their bytes. A torn tail of the last pack (a group whose write never
// completed, so was never acknowledged) is truncated; a bad record
// followed by an intact commit, or any other damage in a pack Open reads,
// fails Open with a *trove.CorruptionError naming the pack and offset,
// and changes nothing. Damage inside a sealed pack replayed from its key
// file is found when its record is read, and by Verify and Check.
//
// Delete of a packed key appends a delete record with the same group
// commit; the bytes stay in the pack (there is no compaction: deletes are
// rare, and trove.FileStorage never deletes on its own), and a deleted key
// stays deleted after any crash once Delete returned.
//
// # Large objects
//
// A longer stream goes on, through a 256 KiB buffer, into a staged file
// (objects/.staged-<random>) while it is hashed; the file is fsynced, then
// renamed to objects/<d0d1>/<digest> and that directory fsynced, or
// dropped when that object exists already; then the key's record is
// published atomically (internal/fsutil: temporary file, fsync, rename,
// fsync of the directory) — four fsyncs in all for a new object. A record
// is never visible before its bytes are durable, and a crash at any
// instant leaves at most staged or temporary files (names starting with
// "."), which Open removes, and possibly an object no record names yet,
// which costs space but is never visible (a later Put of the same bytes
// reuses it). Nothing is held whole in memory but a small object.
//
// A Put on a key that exists, packed or loose, stores nothing: it hashes
// the stream and compares (same bytes: the stored Info; other bytes:
// trove.ErrConflict).
//
// # Locking
//
// Open takes an exclusive flock(2) on <dir>/LOCK (internal/fsutil.LockDir)
// before it touches anything else in the directory, and Close releases it.
// A second Open of the directory, from another process or this one, fails
// within about half a second with an error wrapping trove.ErrLocked that
// names the directory and the holding process, and changes nothing (it
// removes no leftovers the holder may be writing). The kernel drops the
// lock when the process ends, however it ends. OpenReadOnly and Check take
// it shared.
//
// # Reads
//
// Get of a loose object returns its *os.File after checking its size
// against the record (a mismatch, a missing object or an unreadable record
// is a *trove.CorruptionError). Get of a packed object reads its record and
// checks its CRC (a mismatch is a *trove.CorruptionError) and returns a
// reader over the bytes read; both readers seek and stay usable after
// Close. Verify re-hashes every live object.
//
// # Checks and salvage
//
// Check verifies a directory without changing anything on disk: every pack
// record and commit, every key file against its pack, every live object's
// bytes against its size and SHA-256; the torn tail the next Open would
// cut is reported, not a problem. OpenReadOnly opens a directory for reading without changing it,
// serving every record that reads back intact even around damage (for
// salvage).
//
// # Concurrency
//
// A Store is safe for concurrent use within one process; one process at a
// time may use a directory. Puts of different keys run in parallel (small
// ones meet in the group commit); the check-then-publish of one key is
// serialized. Deleting a loose key removes its record, then the object
// unless another record names it, which it finds by reading every record.
package local
