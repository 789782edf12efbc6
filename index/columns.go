package index

// Per-position columns are kept in fixed-size chunks of colChunkSize
// positions, each one region (outside the Go heap where possible): the
// columns grow without ever copying what they hold, and a chunk, once
// written below the last position, never changes, so readers share it.
const (
	colShift     = 14
	colChunkSize = 1 << colShift
	colMask      = colChunkSize - 1
	// bytes per position in a chunk: created int64, version, prev and
	// pair uint32.
	colRowBytes = 8 + 4 + 4 + 4
)

// colChunk is one chunk of the columns, element i for position
// first+i of the chunk.
type colChunk struct {
	created []int64  // unix ms
	version []uint32 // event version
	prev    []uint32 // position of the previous version of the same id, 0 for none
	pair    []uint32 // (schema, producer) pair number
}

// columns is the writer's side: the chunks and their memory.
type columns struct {
	chunks []*colChunk
	mems   []region
}

// row returns the chunk and index of position pos (≥ 1), allocating the
// chunk when pos is the first of a new one.
func (c *columns) row(pos uint32) (*colChunk, int) {
	k := int((pos - 1) >> colShift)
	for k >= len(c.chunks) {
		mem := allocRegion(colChunkSize * colRowBytes)
		c.mems = append(c.mems, mem)
		c.chunks = append(c.chunks, &colChunk{
			created: mem.int64sAt(0, colChunkSize),
			version: mem.uint32sAt(8*colChunkSize, colChunkSize),
			prev:    mem.uint32sAt(12*colChunkSize, colChunkSize),
			pair:    mem.uint32sAt(16*colChunkSize, colChunkSize),
		})
	}
	return c.chunks[k], int((pos - 1) & colMask)
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
