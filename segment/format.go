package segment

// Sealed segment file layout (FORMAT.md §3).
const (
	segMagic    = "TROVESEG"
	segEndMagic = "TROVEEND"
	// The format version names the block codec; everything else is the
	// same in both.
	segVersionZstd = 1 // blocks are zstd frames
	segVersionS2   = 2 // blocks are S2 blocks
	segHeaderSize  = 16
	segTrailerLen  = 32
	segMetaSize    = 64
	segBlockEntry  = 56

	// DefaultBlockSize is the uncompressed size at which a block is cut when
	// SegmentOptions.BlockSize is 0.
	DefaultBlockSize = 64 << 10
)
