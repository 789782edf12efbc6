package index

// Per-position columns are kept in fixed-size chunks of colChunkSize
// positions (outside the Go heap where possible): the columns grow without
// ever copying what they hold, and a chunk's elements, once written, never
// change, so readers share them without a lock.
//
// A chunk starts narrow: createdAt as an int32 offset from the chunk's
// first createdAt, version and (schema, producer) pair number as uint16,
// the previous-version position as uint32 (12 bytes a position). A value
// that does not fit widens that column of that chunk: the writer copies it
// into a wide array and swaps in a new chunk value; readers holding the old
// one keep reading the old arrays, which stay unchanged (all memory is
// released at Close).
const (
	colShift     = 14
	colChunkSize = 1 << colShift
	colMask      = colChunkSize - 1
	// bytes per position of a narrow chunk: created int32, prev uint32,
	// version and pair uint16.
	colRowBytes = 4 + 4 + 2 + 2
)

// colChunk is one chunk of the columns, element i for position
// (chunk number × colChunkSize) + i + 1. A wide slice, when not nil,
// replaces its narrow one.
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

func (c *colChunk) createdAt(i uint32) int64 {
	if c.created != nil {
		return c.created[i]
	}
	return c.base + int64(c.created32[i])
}

func (c *colChunk) versionAt(i uint32) uint32 {
	if c.version != nil {
		return c.version[i]
	}
	return uint32(c.version16[i])
}

func (c *colChunk) pairAt(i uint32) uint32 {
	if c.pair != nil {
		return c.pair[i]
	}
	return uint32(c.pair16[i])
}

// columns is the writer's side: the chunks and all their memory.
type columns struct {
	chunks []*colChunk
	mems   []region
}

func (c *columns) alloc(bytes int) region {
	mem := allocRegion(bytes)
	c.mems = append(c.mems, mem)
	return mem
}

// set writes the row of position pos, which must be the position after
// the last one set.
func (c *columns) set(pos uint32, created int64, version, prev, pair uint32) {
	k := int((pos - 1) >> colShift)
	i := int((pos - 1) & colMask)
	if k == len(c.chunks) {
		mem := c.alloc(colChunkSize * colRowBytes)
		c.chunks = append(c.chunks, &colChunk{
			base:      created,
			created32: mem.int32sAt(0, colChunkSize),
			prev:      mem.uint32sAt(4*colChunkSize, colChunkSize),
			version16: mem.uint16sAt(8*colChunkSize, colChunkSize),
			pair16:    mem.uint16sAt(10*colChunkSize, colChunkSize),
		})
	}
	ch := c.chunks[k]
	d := created - ch.base
	wideT, wideV, wideP := ch.created == nil && d != int64(int32(d)),
		ch.version == nil && version > 0xffff, ch.pair == nil && pair > 0xffff
	if wideT || wideV || wideP {
		w := *ch
		if wideT {
			w.created = c.alloc(8*colChunkSize).int64sAt(0, colChunkSize)
			for j := range i {
				w.created[j] = ch.createdAt(uint32(j))
			}
		}
		if wideV {
			w.version = c.alloc(4*colChunkSize).uint32sAt(0, colChunkSize)
			for j := range i {
				w.version[j] = uint32(ch.version16[j])
			}
		}
		if wideP {
			w.pair = c.alloc(4*colChunkSize).uint32sAt(0, colChunkSize)
			for j := range i {
				w.pair[j] = uint32(ch.pair16[j])
			}
		}
		ch = &w
		c.chunks[k] = ch
	}
	if ch.created != nil {
		ch.created[i] = created
	} else {
		ch.created32[i] = int32(d)
	}
	if ch.version != nil {
		ch.version[i] = version
	} else {
		ch.version16[i] = uint16(version)
	}
	if ch.pair != nil {
		ch.pair[i] = pair
	} else {
		ch.pair16[i] = uint16(pair)
	}
	ch.prev[i] = prev
}

func (c *columns) free() {
	for i := range c.mems {
		c.mems[i].free()
	}
	c.chunks, c.mems = nil, nil
}

// at returns the chunk and index of position pos among chunks.
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
