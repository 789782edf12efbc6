// Package engine is Trove's log engine, the storage plugin "storage-log":
// an append-only event log with group commit, sealed compressed segments,
// roaring-bitmap indexes and index snapshots.
//
// Embed it with Open:
//
//	st, err := engine.Open("./data", engine.Options{})
//	…
//	defer st.Close()
//	e, err := st.SaveEvent(ctx, trove.Event{Schema: s, Payload: p})
//
// or configure it by name in a trove.Config:
//
//	storage:
//	  events: {plugin: storage-log, options: {directory: ./data, segmentSize: 67108864}}
//
// The options object takes "directory" (required) and every field of
// Options by its JSON name: segmentSize (bytes, default 32 MiB), syncMode
// ("always" default, or "none"), blockSize (bytes, default 1 KiB),
// compression ("s2" default, or "zstd"), compressionLevel (zstd 1-4,
// default 1), cacheSize (bytes of decoded
// blocks, default 128 MiB, negative: none), maxPathValues (payload index
// guard, default 4096, negative: no payload index), maxGroup (requests per
// group commit, default 4096), searchIndex ("on" or "off"), noMmap (read
// segment index files instead of mapping them). Zero means the default
// everywhere.
//
// # Layout of a store directory
//
//	wal/         the write-ahead log (package segment: tidwall/wal files of CRC'd frames)
//	segments/    sealed segment files, named by their first WAL entry (N.seg),
//	             each with its segment index (N.idx, index/SEGINDEX.md), and
//	             id runs merging their id sections (ids-F-L.run, index/IDRUN.md),
//	             and key runs holding their key filters side by side
//	             (keys-F-L.run, index/KEYRUN.md)
//	index.snap   the latest index snapshot (package index, FORMAT.md)
//	files/       file bytes (blob/local): files up to 64 KiB in packs with a group commit, larger ones content-addressed by sha256
//	search.bleve/  the background search index (rebuilt when missing or damaged)
//
// Files go through blob/local (see its package doc and FORMAT.md). Small
// files (up to 64 KiB) are appended to its pack log: concurrent SaveFile
// calls are coalesced into one write and one fdatasync per group, as event
// saves are, and a file is durable when SaveFile returns. Larger files are
// streamed into a staged file and published under their SHA-256. Check
// verifies files/ too (every pack record and key file, every file's
// hash), and Salvage reads the files without changing files/, around
// damaged pack records.
//
// # Writes
//
// One writer goroutine commits requests in groups (see Store): one WAL
// entry per request, one write and one fsync per group, positions in commit
// order, nothing acknowledged or visible before it is durable, and a failed
// write or fsync sticky. Each event is stored as a compact binary record
// (record.go) with its schema document interned in a dictionary.
//
// The writer indexes a group's events while the group's WAL entry is
// written and fsynced; readers bound every index lookup and query by the
// committed position of their view (index.LookupAt, query.Options.Last),
// so an indexed but uncommitted event, or a version it would supersede,
// is invisible until the group is durable. Groups holding links added
// with SaveLink are indexed after the write, in record order; every group
// is indexed before its view is published.
//
// The per-event work happens in the caller's goroutine before a save is
// queued (stage.go; two goroutines for batches of 256 or more):
// trove.Prepare (already compact payloads skip json.Compact, jsonscan.go),
// the record body when the schema is in the committed dictionary, the
// payload's index terms (index.TermWriter), and a version check tagged with
// the committed position it saw. The writer
// trusts that check only when nothing committed since, and otherwise looks
// the versions up again; so it only checks versions, assigns positions and
// appends. While more saves are in flight than queued, the writer waits up
// to 250 µs so that callers answered a moment ago share the next fsync; a
// lone writer never waits.
//
// When the unsealed records exceed Options.SegmentSize they are sealed in
// the background while appends go on. At the boundary the writer freezes
// the index when a snapshot is due (the log since the last one has grown
// by half, at least 1M events): it copies the head's mutable parts
// (index.Index.Freeze), and the seal's goroutine encodes and publishes the
// snapshot, then writes the segment file (S2 blocks by default, zstd with
// compression "zstd"; atomic publish). The writer then switches readers
// to it and trims the head's postings; a goroutine of its own trims the
// head's ids and incoming links a batch at a time (index.Index.TrimStep),
// and another goroutine removes the WAL files
// that hold sealed entries only (segment.WAL.DropBefore). The writer's
// longest stop for all this is Stats' writer_stall_max_seconds. Sealed
// events are read through a CLOCK cache of decoded blocks whose lookups
// take no lock.
//
// The seal's goroutine also writes the segment's own index beside it
// (segindex.go; index.SegIndex, atomic publish, memory-mapped when
// opened): columns, id hashes and postings of schema, producer, links and
// every payload path, high-cardinality ones included. Payload equalities
// on paths the in-memory index stopped covering (past maxPathValues) are
// answered from them for sealed events, and the events after the last
// sealed one are scanned, so such lookups no longer wait for the search
// index. Open builds the segment index of a segment that has none (a
// store written before they existed, a crash between the two publishes)
// and rebuilds a damaged one; Check rebuilds each in memory and compares.
//
// The in-memory index keeps the ids of the head only (the events after
// the sealed log): an id whose latest version is sealed is found in the
// segment indexes' id sections, which a background merge gathers by size
// tier into id runs (idruns.go), each behind a Bloom filter, so that a
// lookup reads a few sources however long the log, and memory does not
// grow with the number of ids but for the filters (1.25 bytes an id: a
// save's lookup that passes one reads the run's entries from its file).
// Open uses the longest chain of runs that ends on segment boundaries and
// removes the other run files; Check compares each run with the merge of
// the segment indexes it covers.
//
// A sealed segment keeps its block table in its footer, read a group at a
// time through a cache (segment.TableCache); the summary that finds the
// groups, and the segment's compression dictionary, are built when a read
// first needs them. The search indexer reads each segment through a view
// that keeps neither (segment.Segment.Full), so ingest and indexing leave
// no segment's summary in memory; Stats' segment_read_bytes is what reads
// have built.
//
// # Recovery
//
// Open repairs a torn WAL tail (segment.OpenWAL), removes temporary files
// of interrupted publishes, opens the sealed segments (damage there is an
// error, never dropped), loads the index snapshot and replays only the log
// after it; WAL entries a crash left after they were sealed are truncated.
// A damaged snapshot is ignored and the index rebuilt from the log. The
// segments open on a goroutine a CPU; the id runs and segment indexes
// open on others while the snapshot decodes. An id run is checked whole; a
// segment index's sections that only lookups read (its key table, bitmaps
// and key filter) are checked by their first lookup, and by a goroutine
// that, once the store is open, checks every index and rebuilds a damaged
// one from its segment (segindex.go).
//
// The index snapshot proves which WAL entries were acknowledged. If the
// tail recovery would cut one of them (a damaged entry, not a torn write)
// or the log ends before it, Open fails with a *trove.CorruptionError
// naming the WAL file and offset and changes nothing; so does Check. A
// damaged last entry that no snapshot covers cannot be told from a torn
// write and is truncated (in SyncNone mode the log is always the truth).
//
// Check verifies every CRC and the index against the log without changing
// anything on disk (the WAL is verified in a private copy); Store.Check
// does the same on an open store. A damaged index.snap is reported in
// Report.Repairable (and the error wraps trove.ErrCorrupt): nothing is
// lost, the next Open rebuilds the index from the log.
//
// # Locking
//
// Open takes an exclusive flock(2) on the directory's LOCK file
// (internal/fsutil.LockDir) before it touches anything else in it — before
// recovery, the files store and the search index (bleve's own lock would
// wait forever) — and writes its process id into it; Close releases it
// last. A second Open of the directory, from another process or this one,
// fails within about half a second with an error wrapping trove.ErrLocked
// that names the directory and the holding process (as /proc/locks or the
// lock file tells), and changes nothing. Check takes the lock shared:
// several checks may run together, never beside a writer. The kernel drops
// the lock when the process ends, however it ends, so a crash leaves no
// stale lock. The files store in files/ holds its own lock (blob/local).
//
// # Reads
//
// Readers never wait for the writer: they load an immutable view (segments,
// the unsealed events, the committed position) from an atomic pointer and
// take the index's read lock only to combine bitmaps (package query).
// Returned events are copies owned by the caller. Segments are never
// rewritten or deleted (there is no compaction); their files are closed by
// Close, after every call in flight has finished.
//
// # Search
//
// With searchIndex "on", a background goroutine indexes the payloads of
// sealed events into a bleve index in search.bleve/ (package fulltext:
// batches of 1,000, never on the ingest path; while saves keep the store
// busy it indexes one batch every 5 s and catches up once they pause), and
// those of unsealed committed events once the store has been quiet for a
// second. The engine owns the index's lifecycle (opened and started by
// Open, closed by Close), wakes it when a segment is sealed, and feeds it
// (searchsource.go): it reads the log itself (not through the block cache)
// and measures the save load the indexer defers to. Search clauses become
// bleve queries that match a superset of the clause; candidates are
// verified with the query's Match, and events after the indexed prefix are
// scanned, so results are exact at all times.
package engine
