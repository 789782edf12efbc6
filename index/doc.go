// Package index is the log engine's in-memory index over event positions.
//
// Positions are dense, from 1: every position is one event. For each the
// index keeps immutable columns (version, schema and producer dictionary
// numbers, the position of the previous version, createdAt in unix
// milliseconds) and a min/max summary of createdAt per chunk of ChunkSize
// positions, used to prune time ranges. The columns grow in fixed-size
// chunks of pointer-free arrays.
//
// Ids of the head are found through a table of 40-bit id-hash fingerprints and latest
// positions, without the ids' text; ids whose latest version is sealed are found in
// the segment indexes' id sections and in id runs merging them (IDRUN.md, SetIDRuns,
// MergeIDRuns), each behind a Bloom filter. A candidate is verified by reading its id back
// through Options.IDAt, for positions the caller has declared readable
// (Readable); the index keeps the text of the ids after those only. Roaring bitmaps
// (github.com/RoaringBitmap/roaring/v2) of positions answer:
//
//   - per schema identity and per producer;
//   - per link type, per link target id, and "has any link", over every
//     outgoing link (saved with the event or added later with AddLink);
//   - superseded versions (a version some later version of its id replaced);
//   - per payload term: a dotted path reached through objects and a typed
//     scalar value ("s" string, "n" number normalised so that 1 and 1.0
//     are one term, "b" boolean, "z" null). A path that takes more than
//     Options.MaxPathValues distinct values stops being indexed exactly
//     (its postings are dropped); Reader.Term then says so, and
//     Reader.SegmentTerm gives candidates from hashed postings: the
//     segment indexes' for the sealed log, the index's own for the head
//     (hothead.go).
//
// A posting of the sealed log asks the segment indexes that may hold its
// key: those a key run covers (KEYRUN.md, SetKeyRuns, WriteKeyRun) are
// named by one page of the run, the others by their own key filters.
//
// Incoming links are kept per target id in save order, as LinkRefs.
//
// # Concurrency
//
// One writer calls Add, AddBatch and AddLink. Readers call Read, whose
// Reader is valid only inside the callback (the read lock is held: keep it
// short), and the lookup methods. Columns returned by Reader.Columns are
// append-only prefixes: they stay valid and unchanged after the lock is
// released (until Close), so a planner verifies candidates without holding
// it.
//
// # Segment indexes
//
// SegIndexBuilder writes, and OpenSegIndex reads in place (a memory map),
// the immutable index of one sealed segment (SEGINDEX.md): its columns,
// id hashes sorted for binary search, and hashed postings of schema,
// producer, link type, link target and every payload term, with no guard
// on cardinality. Hashed postings are candidates (a superset), which the
// planner verifies. SetSegments hands an Index the segment indexes of the
// sealed log, and the index then drops the positions they cover from its
// own postings (posting.go): a Posting (Reader.Schema, Producer, LinkType,
// LinkTarget, AnyLink, Term) reads the sealed positions from the segment
// indexes and the head's from memory, so the postings in the heap do not
// grow with history. The column chunks they cover whole are dropped too:
// Columns reads those positions from the segment indexes. Reader.SegmentTerm
// answers payload terms on paths past the guard from them, and the trim drops
// the sealed ids from the id table and the sealed own links from the
// incoming links. SetSegments trims the postings at once and leaves those
// two to TrimStep, a batch of about a millisecond at a time under the write
// lock, which the engine calls on a goroutine of its own: until it is done,
// lookups still find some sealed ids in the head (at the position the
// segment indexes would give), Incoming leaves the sealed own links out,
// and a snapshot (Freeze, Encode) finishes the trim on its copy. The
// superseded positions still cover every position.
//
// # Snapshots
//
// Encode writes the whole index (its postings and ids trimmed), with the caller's opaque meta, as one
// checksummed file (FORMAT.md), streamed; DecodeWith reads it back, or returns a
// *trove.CorruptionError. The engine publishes snapshots atomically and
// replays only the log after the one it loads.
package index
