package index

import (
	"math/rand/v2"

	"github.com/cespare/xxhash/v2"
)

// newSeed returns a random hash seed: where ids land in the table is not
// predictable from the ids alone.
func newSeed() uint64 { return rand.Uint64() }

// The id table maps an event id to the position of its latest version
// without keeping the id's text: it holds, per distinct id, a 40-bit
// fingerprint of a 64-bit hash of the id and the latest position (earlier
// versions chain through the prev column). A fingerprint match is only a
// candidate: the id is verified by reading it back at that position
// (Options.IDAt, or the text the index still keeps for positions not yet
// readable), so ids sharing a hash, or a fingerprint, are told apart.
//
// The table is split by the hash's top 8 bits into 256 open-addressing
// sub-tables (linear probing, no deletions), each growing on its own, so
// that growth never copies the whole table at once. A slot is one uint64:
// the fingerprint's low 32 bits (which also place the slot) above the
// position; 0 is an empty slot (positions start at 1). Slots live outside
// the Go heap where the platform allows (see region).
const (
	subBits     = 8
	numSubs     = 1 << subBits
	minSubSlots = 16
)

type idTable struct {
	seed uint64
	subs [numSubs]subTable
	n    int // distinct ids
	// onHeap makes sub-tables Go memory (heapRegion): a frozen copy's,
	// which nothing frees.
	onHeap bool
	// hashFn replaces idHash when set (tests force shared hashes).
	hashFn func(id string) uint64
}

func (t *idTable) hash(id string) uint64 {
	if t.hashFn != nil {
		return t.hashFn(id)
	}
	return idHash(t.seed, id)
}

type subTable struct {
	slots []uint64
	used  int
	mem   region
}

// idHash hashes an id under the table's seed (kept in snapshots).
func idHash(seed uint64, id string) uint64 {
	h := xxhash.Sum64String(id) ^ seed
	// fmix64 (MurmurHash3): every output bit depends on every input bit.
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

func splitHash(h uint64) (sub int, fp uint32) { return int(h >> (64 - subBits)), uint32(h) }

// probe calls fn with the position of every slot of sub-table sub whose
// fingerprint is fp, in probe order, until fn returns true. It returns the
// slot fn accepted and its position, or found false.
func (t *idTable) probe(sub int, fp uint32, fn func(pos uint32) bool) (slot int, pos uint32, found bool) {
	st := &t.subs[sub]
	if len(st.slots) == 0 {
		return -1, 0, false
	}
	mask := len(st.slots) - 1
	for i := int(fp) & mask; ; i = (i + 1) & mask {
		v := st.slots[i]
		if v == 0 {
			return -1, 0, false
		}
		if uint32(v>>32) == fp && fn(uint32(v)) {
			return i, uint32(v), true
		}
	}
}

// set stores pos in slot i of sub-table sub (found by probe).
func (t *idTable) set(sub, i int, fp, pos uint32) {
	t.subs[sub].slots[i] = uint64(fp)<<32 | uint64(pos)
}

// insert adds a new id's fingerprint and position.
func (t *idTable) insert(sub int, fp, pos uint32) {
	st := &t.subs[sub]
	if (st.used+1)*5 > len(st.slots)*4 { // load factor 0.8
		t.grow(sub)
	}
	mask := len(st.slots) - 1
	i := int(fp) & mask
	for st.slots[i] != 0 {
		i = (i + 1) & mask
	}
	st.slots[i] = uint64(fp)<<32 | uint64(pos)
	st.used++
	t.n++
}

func (t *idTable) grow(sub int) {
	t.resize(sub, max(minSubSlots, 2*len(t.subs[sub].slots)))
}

// reserve sizes an empty sub-table for k ids, as k inserts would have.
func (t *idTable) reserve(sub, k int) {
	if k == 0 {
		return
	}
	t.resize(sub, slotsFor(k))
}

// slotsFor returns the size of a sub-table that k inserts grow to.
func slotsFor(k int) int {
	size := minSubSlots
	for k*5 > size*4 {
		size *= 2
	}
	return size
}

func (t *idTable) resize(sub, size int) {
	st := &t.subs[sub]
	var mem region
	if t.onHeap {
		mem = heapRegion(size * 8)
	} else {
		mem = allocRegion(size * 8)
	}
	slots := mem.uint64s(size)
	mask := size - 1
	for _, v := range st.slots {
		if v == 0 {
			continue
		}
		i := int(uint32(v>>32)) & mask
		for slots[i] != 0 {
			i = (i + 1) & mask
		}
		slots[i] = v
	}
	st.mem.free()
	st.slots, st.mem = slots, mem
}

// each calls fn for every id's fingerprint and latest position, sub-table
// by sub-table, each from the slot after an empty one: inserting them in
// this order into a table reserved for as many ids rebuilds the same
// slots (every id's probe path is inserted before it).
func (t *idTable) each(fn func(sub int, fp, pos uint32)) {
	for s := range t.subs {
		slots := t.subs[s].slots
		e := 0
		for e < len(slots) && slots[e] != 0 {
			e++
		}
		for k := 1; k <= len(slots); k++ {
			if v := slots[(e+k)%len(slots)]; v != 0 {
				fn(s, uint32(v>>32), uint32(v))
			}
		}
	}
}

func (t *idTable) free() {
	for s := range t.subs {
		t.subs[s].mem.free()
		t.subs[s] = subTable{}
	}
	t.n = 0
}

// pendingIDs keeps the text of the ids at positions after start, up to the
// last indexed one: positions that Options.IDAt cannot read yet (their
// group is being written) or at all (no IDAt).
type pendingIDs struct {
	start uint32 // ids[k] is the id at position start+1+k
	data  []byte
	ends  []uint32
}

// add keeps the id at pos, the position after the last one kept (any
// position when none is).
func (p *pendingIDs) add(pos uint32, id string) {
	if len(p.ends) == 0 {
		p.start = pos - 1
	}
	p.data = append(p.data, id...)
	p.ends = append(p.ends, uint32(len(p.data)))
}

// has reports whether the text of the id at pos is kept.
func (p *pendingIDs) has(pos uint32) bool {
	return pos > p.start && pos-p.start <= uint32(len(p.ends))
}

// at returns the id at pos, which has reports kept, without copying.
func (p *pendingIDs) at(pos uint32) []byte {
	k := pos - p.start - 1
	var from uint32
	if k > 0 {
		from = p.ends[k-1]
	}
	return p.data[from:p.ends[k]]
}

// drop forgets the ids at positions up to pos.
func (p *pendingIDs) drop(pos uint32) {
	if pos <= p.start {
		return
	}
	k := min(pos-p.start, uint32(len(p.ends)))
	if k == 0 {
		return
	}
	cut := p.ends[k-1]
	n := copy(p.data, p.data[cut:])
	p.data = p.data[:n]
	m := copy(p.ends, p.ends[k:])
	p.ends = p.ends[:m]
	for i := range p.ends {
		p.ends[i] -= cut
	}
	p.start += k
	if len(p.ends) == 0 && cap(p.data) > 1<<20 {
		p.data, p.ends = nil, nil // a large rebuild's buffer is not kept
	}
}
