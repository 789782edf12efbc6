package segment

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"sync"
	"sync/atomic"
	"unsafe"
)

// groupBlocks is how many consecutive block table entries a compact
// segment reads, verifies and caches as one group: 32 entries are 1.75 KiB
// of footer, one pread. Smaller groups make a read that misses the cache
// cheaper (it reads, checks and allocates fewer bytes: in
// BenchmarkSegmentGet a miss added about 1.7 times as much at 64 entries,
// 0.8 times at 16) and the memory kept per block larger.
const groupBlocks = 32

// table is the block table of a compact segment (OpenSegmentCompact). The
// entries stay in the file's footer and are read a group of groupBlocks at a
// time when a read needs one, through a TableCache. What finds and verifies
// a group (tableState: 24 bytes for 32 blocks, and 4 more with a packed
// table) is built when a read first needs the table, from the footer read
// again and checked against the CRC the open checked: a segment no read
// touches (most of a long log's history) keeps in memory only where its
// footer is.
type table struct {
	name string
	r    io.ReaderAt
	// The footer: where, how long, its CRC (checked at open), whether its
	// table is packed (versions 4 to 6), and how many blocks and groups.
	footerOff int64
	footerLen int
	footerCRC uint32
	packed    bool
	n         int // blocks
	ng        int // groups
	cache     *TableCache
	// st is the table's state once a read has built it; it never changes
	// after. loading serializes the builds.
	st      atomic.Pointer[tableState]
	loading sync.Mutex
	// dropped is set when the segment closes: its groups leave the cache
	// and no new one enters. Guarded by the cache's mutex.
	dropped bool
}

// tableState is what a table keeps in memory once read.
type tableState struct {
	// offs is, for a packed table, where each group's bytes start from
	// the first entry, and one more for where the last one ends; nil for a
	// wide table, whose groups are groupBlocks entries apart.
	offs  []uint32
	slots []groupSlot
}

// groupSlot is what a table keeps of a group: all that a lookup that hits
// the cache reads besides the entries, in one place.
type groupSlot struct {
	// hi is the highest last position over the blocks of this group and
	// every group before it (0 while none holds a position): it ascends,
	// and the group holding a position is the first whose hi reaches it
	// (in an ordered segment).
	hi  uint64
	grp atomic.Pointer[tableGroup] // while the cache holds the group
	// crc is the CRC-32C of the group's entries as they were when the
	// table was built, after the footer's own CRC had passed: the group
	// read later is checked against it, so a table that changed on disk is
	// reported, never used.
	crc uint32
	// flags holds slotRef, set when a lookup read the group since the
	// cache's hand last passed, and slotGaps, set when some block of the
	// group holds no position.
	flags atomic.Uint32
}

const (
	slotRef = 1 << iota
	slotGaps
)

// tableGroup is one group's footer entries, verified. The entries are
// held in the group itself: a lookup follows one pointer, not two.
type tableGroup struct {
	n    int                               // blocks in the group
	ring int                               // place in the cache's ring; guarded by its mutex
	raw  [groupBlocks * segBlockEntry]byte // n entries (FORMAT.md §3.3)
}

// newTable returns the table of a segment of n blocks whose footer (meta
// included) the open read at off, len bytes, and verified against crc.
func newTable(name string, r io.ReaderAt, off int64, length int, crc uint32, packed bool, n int, cache *TableCache) *table {
	return &table{name: name, r: r, footerOff: off, footerLen: length, footerCRC: crc, packed: packed,
		n: n, ng: (n + groupBlocks - 1) / groupBlocks, cache: cache}
}

// state returns the table's state, building it on the first call that
// succeeds: the footer is read again, checked against the CRC the open
// checked (a footer that changed since is a *trove.CorruptionError) and
// summed up group by group.
func (t *table) state() (*tableState, error) {
	if st := t.st.Load(); st != nil {
		return st, nil
	}
	t.loading.Lock()
	defer t.loading.Unlock()
	if st := t.st.Load(); st != nil {
		return st, nil
	}
	p := footerBufs.Get().(*[]byte)
	defer footerBufs.Put(p)
	if cap(*p) < t.footerLen {
		*p = make([]byte, t.footerLen)
	}
	footer := (*p)[:t.footerLen]
	if _, err := t.r.ReadAt(footer, t.footerOff); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, corrupt(t.name, t.footerOff, "file ends inside the footer, which it held when the segment was opened")
		}
		return nil, fmt.Errorf("segment: read footer of %s: %w", t.name, err)
	}
	if crc32.Checksum(footer, castagnoli) != t.footerCRC {
		return nil, corrupt(t.name, t.footerOff, "footer changed since the segment was opened (CRC mismatch)")
	}
	st := &tableState{slots: make([]groupSlot, t.ng)}
	entries := footer[segMetaSize:]
	var hi uint64
	sum := func(g int, raw []byte) {
		sl := &st.slots[g]
		for e := 0; e < len(raw); e += segBlockEntry {
			hi = max(hi, binary.LittleEndian.Uint64(raw[e+32:]))
			if binary.LittleEndian.Uint64(raw[e+24:]) == 0 {
				sl.flags.Store(slotGaps)
			}
		}
		sl.hi = hi
		sl.crc = crc32.Checksum(raw, castagnoli)
	}
	if !t.packed {
		if len(entries) != t.n*segBlockEntry {
			return nil, corrupt(t.name, t.footerOff, "footer holds %d bytes of entries for %d blocks", len(entries), t.n)
		}
		for g := range t.ng {
			sum(g, entries[g*groupBlocks*segBlockEntry:min(t.n, (g+1)*groupBlocks)*segBlockEntry])
		}
		t.st.Store(st)
		return st, nil
	}
	// Each group is unpacked on its own into one group's room, which stays
	// in the CPU's cache while its summary is taken: unpacking the whole
	// table first wrote, and then read back, 56 bytes a block of a table of
	// tens of thousands. The bytes passed the CRC the open checked, and
	// unpacked then.
	if uint64(t.n) > uint64(len(entries))/minPackedEntry {
		return nil, corrupt(t.name, t.footerOff, "meta says %d blocks, the packed table holds %d bytes", t.n, len(entries))
	}
	var room [groupBlocks * segBlockEntry]byte
	st.offs = make([]uint32, t.ng+1)
	end, reason := unpackGroups(entries, t.n, func(int) []byte { return room[:] }, func(g, at int, raw []byte) {
		st.offs[g] = uint32(at)
		sum(g, raw)
	})
	if reason != "" {
		return nil, corrupt(t.name, t.footerOff, "%s", reason)
	}
	st.offs[t.ng] = uint32(end)
	t.st.Store(st)
	return st, nil
}

// groups returns how many groups the table has.
func (t *table) groups() int { return t.ng }

// group returns group g, from the cache or read from the file (and cached).
func (t *table) group(g int) (*tableGroup, error) {
	st, err := t.state()
	if err != nil {
		return nil, err
	}
	sl := &st.slots[g]
	if grp := sl.grp.Load(); grp != nil {
		if sl.flags.Load()&slotRef == 0 {
			sl.flags.Or(slotRef)
		}
		return grp, nil
	}
	grp, err := t.read(st, g)
	if err != nil {
		return nil, err
	}
	return t.cache.put(t, st, g, grp), nil
}

// peek returns group g from the cache, or read from the file without
// caching it (for a pass over the whole table, which would only evict
// what other reads use). st is the table's state.
func (t *table) peek(st *tableState, g int) (*tableGroup, error) {
	if grp := st.slots[g].grp.Load(); grp != nil {
		return grp, nil
	}
	return t.read(st, g)
}

// read reads group g from the file, unpacks it (a packed table) and
// verifies it against its CRC.
func (t *table) read(st *tableState, g int) (*tableGroup, error) {
	first := g * groupBlocks
	n := min(groupBlocks, t.n-first)
	entries := t.footerOff + segMetaSize
	off, size := entries+int64(first)*segBlockEntry, n*segBlockEntry
	if st.offs != nil {
		off, size = entries+int64(st.offs[g]), int(st.offs[g+1]-st.offs[g])
	}
	// Read into a pooled buffer and copy out what passes: a read into
	// fresh memory costs more than the copy (the kernel faults the pages
	// in).
	bp := getBuf()
	defer putBuf(bp)
	if cap(*bp) < size {
		*bp = make([]byte, size)
	}
	buf := (*bp)[:size]
	if _, err := t.r.ReadAt(buf, off); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, corrupt(t.name, off, "block table entries %d..%d: file ends inside them", first, first+n-1)
		}
		return nil, fmt.Errorf("segment: read block table entries %d..%d of %s: %w", first, first+n-1, t.name, err)
	}
	grp := &tableGroup{n: n}
	wide := grp.raw[:n*segBlockEntry]
	if st.offs == nil {
		copy(wide, buf)
	} else if used, reason := unpackGroup(buf, wide, n); reason != "" || used != size {
		return nil, corrupt(t.name, off, "block table entries %d..%d changed since the segment was opened (they do not unpack)", first, first+n-1)
	}
	if crc32.Checksum(wide, castagnoli) != st.slots[g].crc {
		return nil, corrupt(t.name, off, "block table entries %d..%d changed since the segment was opened (CRC mismatch)", first, first+n-1)
	}
	return grp, nil
}

// len returns how many blocks the group holds.
func (grp *tableGroup) len() int { return grp.n }

// first and last return block j's position range.
func (grp *tableGroup) first(j int) uint64 {
	return binary.LittleEndian.Uint64(grp.raw[j*segBlockEntry+24:])
}

func (grp *tableGroup) last(j int) uint64 {
	return binary.LittleEndian.Uint64(grp.raw[j*segBlockEntry+32:])
}

// entry returns block j's table entry and its compressed length.
func (grp *tableGroup) entry(j int) (blockEntry, int64) {
	le := binary.LittleEndian
	e := grp.raw[j*segBlockEntry : (j+1)*segBlockEntry]
	return blockEntry{
		Offset:        int64(le.Uint64(e[0:])),
		raw:           le.Uint32(e[12:]),
		crc:           le.Uint32(e[16:]),
		Records:       le.Uint32(e[20:]),
		FirstPosition: le.Uint64(e[24:]),
		LastPosition:  le.Uint64(e[32:]),
		MinTime:       int64(le.Uint64(e[40:])),
		MaxTime:       int64(le.Uint64(e[48:])),
	}, int64(le.Uint32(e[8:]))
}

// TableCache holds the block table groups that reads of compact segments
// (OpenSegmentCompact) have read from the segments' footers, up to a total
// size, so that a store's memory for block tables is bounded by the cache,
// not by how many blocks its segments hold. One cache may serve any
// number of segments; it is safe for concurrent use.
//
// It evicts with the CLOCK algorithm: a hit only sets its group's ref bit,
// and the hand, sweeping the cached groups in a ring, clears set bits and
// evicts the first group it finds clear. Lookups take no lock: a cached
// group hangs from its segment's slot, which put and eviction set and clear
// under the cache's mutex.
type TableCache struct {
	max int64 // bytes
	mu  struct {
		sync.Mutex
		size  int64
		ring  []groupRef // cached groups, and holes (grp nil) listed in free
		free  []int      // holes in ring
		hand  int        // next ring entry the hand looks at
		count int        // cached groups
	}
}

// groupRef is a cached group and the slot it hangs from.
type groupRef struct {
	st  *tableState
	g   int
	grp *tableGroup
}

// groupMem is the memory a cached group holds: the group and its place in
// the ring.
const groupMem = int64(unsafe.Sizeof(tableGroup{}) + unsafe.Sizeof(groupRef{}))

// DefaultTableCacheSize is the size of the cache a segment opened by
// OpenSegmentCompact gets of its own.
const DefaultTableCacheSize = 1 << 20

// NewTableCache returns a cache of block table groups holding up to
// maxBytes bytes (entries and bookkeeping). It always keeps the last
// group read, so a maxBytes below one group's size (about 1.9 KiB) holds
// one group.
func NewTableCache(maxBytes int64) *TableCache {
	return &TableCache{max: maxBytes}
}

// Stats returns how many groups the cache holds and their size in bytes.
func (c *TableCache) Stats() (groups int, bytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.count, c.mu.size
}

// put caches grp as group g of t, whose state is st, and returns it, or
// the group another reader cached first. It first evicts until grp fits.
func (c *TableCache) put(t *table, st *tableState, g int, grp *tableGroup) *tableGroup {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.dropped {
		return grp
	}
	if old := st.slots[g].grp.Load(); old != nil {
		return old
	}
	size := groupMem
	for c.mu.size+size > c.max && c.mu.count > 0 {
		c.evictLocked()
	}
	ref := groupRef{st: st, g: g, grp: grp}
	if n := len(c.mu.free); n > 0 {
		grp.ring = c.mu.free[n-1]
		c.mu.ring[grp.ring] = ref
		c.mu.free = c.mu.free[:n-1]
	} else {
		grp.ring = len(c.mu.ring)
		c.mu.ring = append(c.mu.ring, ref)
	}
	c.mu.count++
	c.mu.size += size
	st.slots[g].grp.Store(grp)
	return grp
}

// evictLocked moves the hand to the first cached group whose ref bit is
// clear, clearing the set ones it passes, and evicts it. The cache holds
// at least one group.
func (c *TableCache) evictLocked() {
	for {
		if c.mu.hand >= len(c.mu.ring) {
			c.mu.hand = 0
		}
		i := c.mu.hand
		c.mu.hand++
		switch e := &c.mu.ring[i]; {
		case e.grp == nil:
		case e.st.slots[e.g].flags.Load()&slotRef != 0:
			e.st.slots[e.g].flags.And(^uint32(slotRef))
		default:
			c.removeLocked(i)
			return
		}
	}
}

// removeLocked takes ring entry i, a cached group, out of the cache.
func (c *TableCache) removeLocked(i int) {
	e := &c.mu.ring[i]
	e.st.slots[e.g].grp.Store(nil)
	c.mu.size -= groupMem
	c.mu.count--
	*e = groupRef{}
	c.mu.free = append(c.mu.free, i)
}

// drop takes t's groups out of the cache and keeps them out: t's segment
// is closed.
func (c *TableCache) drop(t *table) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t.dropped = true
	st := t.st.Load()
	if st == nil {
		return // never read: nothing cached
	}
	for g := range st.slots {
		if grp := st.slots[g].grp.Load(); grp != nil {
			c.removeLocked(grp.ring)
		}
	}
}
