package segment

// Sealed segment file layout (FORMAT.md §3).
const (
	segMagic      = "TROVESEG"
	segEndMagic   = "TROVEEND"
	segVersion    = 1
	segHeaderSize = 16
	segTrailerLen = 32
	segMetaSize   = 64
	segBlockEntry = 56

	// DefaultBlockSize is the uncompressed size at which a block is cut when
	// SegmentOptions.BlockSize is 0.
	DefaultBlockSize = 64 << 10
)
