package engine

import (
	"sync"
	"sync/atomic"

	"github.com/trovedb/trove/segment"
)

// blockCache keeps decoded blocks up to a total size, evicting with the
// CLOCK algorithm: a hit only sets its block's ref bit, and the hand,
// sweeping the cached blocks in a ring, clears set bits and evicts the first
// block it finds clear; a new block takes the ring place of one evicted, just
// behind the hand, so it has a full sweep to be read again. Lookups take no
// lock: a cached block hangs from its segment's slot (sealed.slots), which
// put and eviction set and clear under the cache's mutex.
type blockCache struct {
	max int64 // bytes; negative: cache nothing
	// tables holds the groups of the sealed segments' block tables that
	// reads have needed (segment.OpenSegmentCached), a quarter of max
	// and at least 1 MiB: the tables stay in the files' footers.
	tables *segment.TableCache
	mu     struct {
		sync.Mutex
		size  int64
		ring  []clockEntry // cached blocks, and holes (blk nil) listed in free
		free  []int        // holes in ring
		hand  int          // next ring entry the hand looks at
		count int          // cached blocks
	}
}

// clockEntry is a cached block and the slot it hangs from.
type clockEntry struct {
	sg  *sealed
	idx int
	blk *block
}

func newBlockCache(size int64) *blockCache {
	return &blockCache{max: size, tables: segment.NewTableCache(max(size/4, 1<<20))}
}

// get returns block idx of sg if it is cached, else nil.
func (c *blockCache) get(sg *sealed, idx int) *block {
	slots := sg.slots.Load()
	if slots == nil {
		return nil
	}
	b := (*slots)[idx].Load()
	if b != nil && !b.ref.Load() {
		b.ref.Store(true)
	}
	return b
}

// put caches b as block idx of sg and returns it, or the block another
// reader cached first. It first evicts until b fits (b is kept even when
// it alone passes the cache's size).
func (c *blockCache) put(sg *sealed, idx int, b *block) *block {
	if c.max < 0 {
		return b
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if slots := sg.slots.Load(); slots != nil {
		if old := (*slots)[idx].Load(); old != nil {
			return old
		}
	}
	for c.mu.size+b.size > c.max && c.mu.count > 0 {
		c.evictLocked()
	}
	// After eviction, which drops the slots of a segment left with no
	// cached block.
	slots := sg.slots.Load()
	if slots == nil {
		s := make([]atomic.Pointer[block], sg.nblocks)
		slots = &s
		sg.slots.Store(slots)
	}
	slot := &(*slots)[idx]
	e := clockEntry{sg: sg, idx: idx, blk: b}
	if n := len(c.mu.free); n > 0 {
		c.mu.ring[c.mu.free[n-1]] = e
		c.mu.free = c.mu.free[:n-1]
	} else {
		c.mu.ring = append(c.mu.ring, e)
	}
	c.mu.count++
	c.mu.size += b.size
	sg.cached++
	slot.Store(b)
	return b
}

// evictLocked moves the hand to the first cached block whose ref bit is
// clear, clearing the set ones it passes, and evicts it. The cache holds
// at least one block.
func (c *blockCache) evictLocked() {
	for {
		if c.mu.hand >= len(c.mu.ring) {
			c.mu.hand = 0
		}
		i := c.mu.hand
		c.mu.hand++
		e := &c.mu.ring[i]
		switch {
		case e.blk == nil:
		case e.blk.ref.Load():
			e.blk.ref.Store(false)
		default:
			(*e.sg.slots.Load())[e.idx].Store(nil)
			if e.sg.cached--; e.sg.cached == 0 {
				e.sg.slots.Store(nil) // a reader still holding it finds it empty
			}
			c.mu.size -= e.blk.size
			c.mu.count--
			*e = clockEntry{}
			c.mu.free = append(c.mu.free, i)
			return
		}
	}
}

// stats returns how many blocks are cached and their size.
func (c *blockCache) stats() (blocks int, size int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.count, c.mu.size
}
