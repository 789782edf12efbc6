package segment

// Sealed segment file layout (FORMAT.md §3).
const (
	segMagic    = "TROVESEG"
	segEndMagic = "TROVEEND"
	// The format version names the block codec and the block table's
	// layout. Versions 1 to 3 name the codec and keep a wide table
	// (segBlockEntry bytes an entry); versions 4 to 6 are the same codecs
	// with a packed table (FORMAT.md §3.3): version − segVersionPacked
	// names the codec. Version 3's and 6's dictionary section is the only
	// other difference.
	segVersionZstd   = 1 // blocks are zstd frames
	segVersionS2     = 2 // blocks are S2 blocks
	segVersionS2Dict = 3 // blocks are S2 blocks against the segment's dictionary
	segVersionPacked = 3 // added to a codec's version: the table is packed
	segVersionMax    = segVersionS2Dict + segVersionPacked
	segHeaderSize    = 16
	segTrailerLen    = 32
	segMetaSize      = 64
	segBlockEntry    = 56
	// minPackedEntry is the fewest bytes a packed table entry takes (its
	// flags, lengths and CRC): a footer's block count is checked against it
	// before the table is unpacked.
	minPackedEntry = 7

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

// codecOf returns the codec version (1 to 3) of a segment format version.
func codecOf(version uint32) uint32 {
	if version > segVersionPacked {
		return version - segVersionPacked
	}
	return version
}

// packedTable reports whether a segment format version packs its block
// table.
func packedTable(version uint32) bool { return version > segVersionPacked }
