// Package segment holds the log engine's two on-disk formats and their
// readers: the write-ahead log, checksummed frames on top of
// github.com/tidwall/wal, and sealed segments, immutable files of compressed
// blocks (S2 by default, or zstd). FORMAT.md in this directory describes every byte of both and
// the recovery rules; golden files in testdata/ pin them.
//
// # Records
//
// A Record is the unit both formats carry: a type byte chosen by the engine
// (1..255; 0 is invalid so that zeroed space never decodes), the event
// position it carries (0 for none), a time in unix milliseconds (0 for
// none) and an opaque body.
//
// # The WAL
//
// OpenWAL verifies every frame of every tidwall file before tidwall sees
// them, truncates a torn, partial, zeroed or CRC-failing tail (the bytes of
// an Append that was never acknowledged) and reports the repair as a
// Recovery. Damage that is not at the tail is returned as a
// *trove.CorruptionError with the file and byte offset; nothing is silently
// dropped.
//
// WAL.Append writes each batch ([]Record) as one tidwall entry holding one
// frame — type, flags, length, WAL index, CRC-32C, the batch's records — all
// batches of one call in a single tidwall WriteBatch followed by a single
// fsync. A batch is atomic: after a crash its frame is intact or gone. When
// Append returns nil every entry it wrote is durable; a failed write or
// fsync is sticky, and every later Append returns that error, wrapped.
// WAL.Read verifies a frame again and decodes it; DropBefore removes the
// files whose entries are all sealed into a segment, and TruncateFront
// (used by recovery) drops entries inside a file too.
//
// tidwall.go is the only file that knows tidwall/wal's file layout and
// behaviour (names, entry encoding, cut rule, tail file, fsyncs, truncation
// leftovers); it lists every assumption, and tidwall_contract_test.go and
// wal_faults_test.go pin each against the module version go.mod requires.
// CopyWAL and WALTailStart give the engine what it needs of that layout for
// a dry-run recovery on a copy.
//
// # Sealed segments
//
// WriteSegment cuts records into blocks of about SegmentOptions.BlockSize
// uncompressed bytes, compresses each with SegmentOptions.Codec (S2 by
// default; CodecS2Dict compresses against a dictionary sampled from the
// segment's records and stored after the header: the segment's format
// version names the codec), and appends a footer with
// Meta and a block table (offset, length, CRC and position/time ranges of
// every block; packed, each entry against the one before it, in versions
// 4 to 6, which the writer writes), framed by a header and a trailer with magic, version and
// CRCs. The file is published atomically with internal/fsutil. OpenSegment
// verifies the header, trailer and footer; ReadBlock verifies a block's CRC
// and contents; Check verifies everything.
//
// OpenSegment keeps the whole block table in memory, 56 bytes a block.
// OpenSegmentCompact and OpenSegmentCached (the engine's way) leave it in
// the footer: the first read re-reads the footer, checks it against the
// CRC the open checked, and keeps 24 bytes per 32 blocks (28 with a packed
// table); reads fetch the entries they need a group of 32 at a time,
// verified against a CRC taken then, and a TableCache, shared by any
// number of segments, keeps the groups read up to a size in bytes. The
// dictionary, too, is read again and kept when a read first needs it. A
// segment no read touches keeps neither, and a pass over a whole segment
// (Segment.Full, Scan) builds neither: a long log's memory for its history
// is then that of the segments its reads touch (ReadMemory), plus the
// cache's size.
//
// # Errors
//
// Damage is always a *trove.CorruptionError (errors.Is(err,
// trove.ErrCorrupt)) saying which file, at which offset and what failed.
// Decoders never panic on bad bytes and check every length before they
// allocate. Use after Close wraps trove.ErrClosed, an absent WAL entry or
// block trove.ErrNotFound, a record that can't be written trove.ErrInvalid.
//
// # Limits
//
// A record body, a frame body and an uncompressed block are at most
// MaxBodySize (256 MiB) bytes; lengths read from disk are checked against it
// and against the bytes actually present before anything is allocated.
//
// # Concurrency
//
// A WAL has one writer — Append, TruncateFront and Close are serialised —
// and any number of concurrent readers: Read, FirstIndex, LastIndex,
// NextIndex and Size may run while Append does. Read sees an entry only
// after the Append that wrote it has returned (after its fsync). A Segment
// is immutable: every method may be called from many goroutines, and Close
// must follow the last read (the engine reference-counts segments). A
// TableCache is safe for concurrent use; a lookup that hits it takes no
// lock.
//
// # Ownership of returned bytes
//
// Record bodies returned by WAL.Read, Segment.ReadBlock and Segment.Scan are
// never copies per record: all bodies of one call (one WAL entry, one block)
// are sub-slices of one freshly allocated buffer that nothing else
// references. The caller owns them and may keep or modify them. Bodies
// passed to Append and WriteSegment are only read during the call.
// Segment.Blocks returns a shared slice that must not be modified.
package segment
