package index

// Per-position columns are kept in fixed-size chunks of colChunkSize
// positions: the columns grow without ever copying what they hold, and a
// chunk's elements, once written, never change, so readers share them
// without a lock. The chunks of positions the segment indexes cover are
// dropped (posting.go): their columns are read from the segment indexes,
// so the chunks in memory cover the unsealed head. The arrays hold no
// pointers, so the garbage collector never scans them.
//
// A chunk starts narrow: createdAt as an int32 offset from the chunk's
// first createdAt and the (schema, producer) pair number as uint16 (6
// bytes a position). The previous-version position (uint32) and the
// version (uint16) have no array until a chunk holds a position that is
// not a first version (prev 0, version 1): event logs mostly hold first
// versions. A value that does not fit widens that column of that chunk:
// the writer allocates (and, for a wider type, copies into) a new array and
// swaps in a new chunk value, in a copy of the chunk list; readers holding
// the old list keep reading the old arrays, which stay unchanged.
const (
	colShift     = 14
	colChunkSize = 1 << colShift
	colMask      = colChunkSize - 1
	// bytes per position of a new chunk: created int32, pair uint16.
	colRowBytes = 4 + 2
)

// colChunk is one chunk of the columns, element i for position
// (chunk number × colChunkSize) + i + 1. A wide slice, when not nil,
// replaces its narrow one; prev nil means every prev is 0, version16 and
// version nil that every version is 1.
type colChunk struct {
	base      int64 // createdAt of the chunk's first position
	created32 []int32
	created   []int64 // unix ms
	prev      []uint32
	version16 []uint16
	version   []uint32
	pair16    []uint16
	pair      []uint32
}

func (c *colChunk) prevAt(i uint32) uint32 {
	if c.prev != nil {
		return c.prev[i]
	}
	return 0
}

func (c *colChunk) createdAt(i uint32) int64 {
	if c.created != nil {
		return c.created[i]
	}
	return c.base + int64(c.created32[i])
}

func (c *colChunk) versionAt(i uint32) uint32 {
	switch {
	case c.version != nil:
		return c.version[i]
	case c.version16 != nil:
		return uint32(c.version16[i])
	}
	return 1
}

func (c *colChunk) pairAt(i uint32) uint32 {
	if c.pair != nil {
		return c.pair[i]
	}
	return uint32(c.pair16[i])
}

// columns is the writer's side: the chunks, nil for those dropped.
type columns struct {
	chunks []*colChunk
	from   uint32 // the chunks of positions up to from are dropped
}

// set writes the row of position pos, which must be the position after
// the last one set.
func (c *columns) set(pos uint32, created int64, version, prev, pair uint32) {
	k := int((pos - 1) >> colShift)
	i := int((pos - 1) & colMask)
	if k == len(c.chunks) {
		c.chunks = append(c.chunks, &colChunk{
			base:      created,
			created32: make([]int32, colChunkSize),
			pair16:    make([]uint16, colChunkSize),
		})
	}
	ch := c.chunks[k]
	d := created - ch.base
	wideT := ch.created == nil && d != int64(int32(d))
	wideV := ch.version == nil && version > 0xffff
	needV := ch.version == nil && ch.version16 == nil && version != 1
	wideP := ch.pair == nil && pair > 0xffff
	needPrev := ch.prev == nil && prev != 0
	if wideT || wideV || needV || wideP || needPrev {
		w := *ch
		if wideT {
			w.created = make([]int64, colChunkSize)
			for j := range i {
				w.created[j] = ch.createdAt(uint32(j))
			}
		}
		switch {
		case wideV:
			w.version = make([]uint32, colChunkSize)
			for j := range i {
				w.version[j] = ch.versionAt(uint32(j))
			}
		case needV:
			w.version16 = make([]uint16, colChunkSize)
			for j := range i {
				w.version16[j] = 1
			}
		}
		if wideP {
			w.pair = make([]uint32, colChunkSize)
			for j := range i {
				w.pair[j] = uint32(ch.pair16[j])
			}
		}
		if needPrev {
			w.prev = make([]uint32, colChunkSize) // zeroed
		}
		ch = &w
		c.swap(k, ch)
	}
	if ch.created != nil {
		ch.created[i] = created
	} else {
		ch.created32[i] = int32(d)
	}
	switch {
	case ch.version != nil:
		ch.version[i] = version
	case ch.version16 != nil:
		ch.version16[i] = uint16(version)
	}
	if ch.pair != nil {
		ch.pair[i] = pair
	} else {
		ch.pair16[i] = uint16(pair)
	}
	if ch.prev != nil {
		ch.prev[i] = prev
	}
}

// swap replaces chunk k. Readers share the chunk list's array
// (Reader.Columns): the swap goes into a copy, so a reader never sees a
// chunk pointer change under it.
func (c *columns) swap(k int, ch *colChunk) {
	chunks := make([]*colChunk, len(c.chunks), cap(c.chunks))
	copy(chunks, c.chunks)
	chunks[k] = ch
	c.chunks = chunks
}

// drop drops the chunks of positions up to t that are whole (t rounded
// down to a chunk).
func (c *columns) drop(t uint32) {
	k := min(int(t>>colShift), len(c.chunks))
	if uint32(k)<<colShift <= c.from {
		return
	}
	chunks := make([]*colChunk, len(c.chunks), cap(c.chunks))
	copy(chunks[k:], c.chunks[k:])
	c.chunks, c.from = chunks, uint32(k)<<colShift
}

// skip starts the columns at position from+1 (from a multiple of
// colChunkSize), the chunks before it dropped: a snapshot's columns.
func (c *columns) skip(from uint32) {
	for range from >> colShift {
		c.chunks = append(c.chunks, nil)
	}
	c.from = from
}

func (c *columns) free() { c.chunks = nil }

// at returns the chunk and index of position pos among chunks; the chunk
// is nil when it was dropped.
func at(chunks []*colChunk, pos uint32) (*colChunk, uint32) {
	return chunks[(pos-1)>>colShift], (pos - 1) & colMask
}

// pair is a (schema number, producer number) combination: the columns
// store one pair number per position instead of both numbers.
type pair struct{ schema, producer uint32 }

type pairDict struct {
	list []pair
	nums map[pair]uint32
}

func (d *pairDict) num(p pair) uint32 {
	if n, ok := d.nums[p]; ok {
		return n
	}
	if d.nums == nil {
		d.nums = map[pair]uint32{}
	}
	n := uint32(len(d.list))
	d.list = append(d.list, p)
	d.nums[p] = n
	return n
}
