package segment

// Sealed segment file layout (FORMAT.md §3).
const (
	segMagic    = "TROVESEG"
	segEndMagic = "TROVEEND"
	// The format version names the block codec; everything else is the
	// same in all three, but for version 3's dictionary section.
	segVersionZstd   = 1 // blocks are zstd frames
	segVersionS2     = 2 // blocks are S2 blocks
	segVersionS2Dict = 3 // blocks are S2 blocks against the segment's dictionary
	segHeaderSize    = 16
	segTrailerLen    = 32
	segMetaSize      = 64
	segBlockEntry    = 56

	// segDictSize is the size of a version 3 segment's dictionary: the
	// bytes of records sampled across the segment. segDictMin is the least
	// record bytes a segment needs for one: below, it is written as
	// version 2.
	segDictSize = 16 << 10
	segDictMin  = 2 * segDictSize

	// DefaultBlockSize is the uncompressed size at which a block is cut when
	// SegmentOptions.BlockSize is 0.
	DefaultBlockSize = 64 << 10
)
