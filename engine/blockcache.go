package engine

import (
	"sync"
	"unsafe"

	"github.com/trovedb/trove/segment"
)

// blockCache keeps decoded blocks up to a total size, evicting with the
// CLOCK algorithm: a hit only sets its block's ref bit, and the hand,
// sweeping the cached blocks in a ring, clears set bits and evicts the first
// block it finds clear; a new block takes the ring place of one evicted, just
// behind the hand, so it has a full sweep to be read again.
//
// The cached blocks are found by segment and block number in maps split in
// cacheShards shards, each under its own lock: a lookup takes one shard's
// read lock, put and eviction change the maps under the cache's mutex and
// the shard's lock. What the cache keeps in memory grows with the blocks it
// holds, not with the blocks of the segments read: a segment of small blocks
// has tens of thousands of them, and an array of slots for each segment a
// read touched (as this cache once kept) grew with the history reads
// spread over, and cost a page fault on first use for each page of it.
type blockCache struct {
	max int64 // bytes; negative: cache nothing
	// tables holds the groups of the sealed segments' block tables that
	// reads have needed (segment.OpenSegmentCached), a quarter of max
	// and at least 1 MiB: the tables stay in the files' footers.
	tables *segment.TableCache
	shards [cacheShards]cacheShard
	mu     struct {
		sync.Mutex
		size  int64
		ring  []clockEntry // cached blocks, and holes (blk nil) listed in free
		free  []int        // holes in ring
		hand  int          // next ring entry the hand looks at
		count int          // cached blocks
	}
}

// cacheShards is how many maps the cached blocks are spread over, so that
// readers of different blocks seldom share a lock's cache line.
const cacheShards = 64

// cacheShard is one map of the cache, padded to its own cache lines.
type cacheShard struct {
	mu sync.RWMutex
	m  map[blockKey]*block
	_  [64 - (unsafe.Sizeof(sync.RWMutex{})+8)%64]byte
}

// blockKey names a block: its segment and its number in it.
type blockKey struct {
	sg  *sealed
	idx int
}

// shard returns the shard of key k.
func (c *blockCache) shard(k blockKey) *cacheShard {
	h := (k.sg.id+1)*0x9e3779b97f4a7c15 ^ uint64(k.idx)*0xbf58476d1ce4e5b9
	return &c.shards[h>>58]
}

// clockEntry is a cached block and its key.
type clockEntry struct {
	key blockKey
	blk *block
}

func newBlockCache(size int64) *blockCache {
	c := &blockCache{max: size, tables: segment.NewTableCache(max(size/4, 1<<20))}
	for i := range c.shards {
		c.shards[i].m = map[blockKey]*block{}
	}
	return c
}

// get returns block idx of sg if it is cached, else nil.
func (c *blockCache) get(sg *sealed, idx int) *block {
	k := blockKey{sg, idx}
	sh := c.shard(k)
	sh.mu.RLock()
	b := sh.m[k]
	sh.mu.RUnlock()
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
	k := blockKey{sg, idx}
	sh := c.shard(k)
	c.mu.Lock()
	defer c.mu.Unlock()
	// Only put adds blocks, under c.mu: no lock of the shard is needed to
	// read its map here.
	if old := sh.m[k]; old != nil {
		return old
	}
	for c.mu.size+b.size > c.max && c.mu.count > 0 {
		c.evictLocked()
	}
	e := clockEntry{key: k, blk: b}
	if n := len(c.mu.free); n > 0 {
		c.mu.ring[c.mu.free[n-1]] = e
		c.mu.free = c.mu.free[:n-1]
	} else {
		c.mu.ring = append(c.mu.ring, e)
	}
	c.mu.count++
	c.mu.size += b.size
	sh.mu.Lock()
	sh.m[k] = b
	sh.mu.Unlock()
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
			sh := c.shard(e.key)
			sh.mu.Lock()
			delete(sh.m, e.key)
			sh.mu.Unlock()
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
