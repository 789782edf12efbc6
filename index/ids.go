package index

import "hash/maphash"

// idTable numbers event ids densely (0, 1, 2, …) without a pointer per id,
// so that millions of ids cost the garbage collector nothing to scan: the
// ids' bytes are concatenated in one slice, and a map from a 64-bit hash
// of the id finds its number. Ids whose hash collides with an earlier id's
// are kept in a small map by their text.
//
// Appending never modifies bytes already written, so a prefix captured by
// a reader (see Columns) stays valid.
type idTable struct {
	seed   maphash.Seed
	byHash map[uint64]uint32 // hash → number of the first id with that hash
	extra  map[string]uint32 // ids whose hash an earlier id already has
	data   []byte            // every id's bytes, in number order
	ends   []int             // ends[n]: end of id n in data
}

func newIDTable(capacity int) idTable {
	return idTable{seed: maphash.MakeSeed(), byHash: make(map[uint64]uint32, capacity)}
}

func (t *idTable) len() int { return len(t.ends) }

// bytesOf returns id n's bytes (shared: not to be modified).
func (t *idTable) bytesOf(n uint32) []byte {
	start := 0
	if n > 0 {
		start = t.ends[n-1]
	}
	return t.data[start:t.ends[n]:t.ends[n]]
}

func (t *idTable) hash(id string) uint64 { return maphash.String(t.seed, id) }

// get returns the number of id.
func (t *idTable) get(id string) (uint32, bool) {
	n, ok := t.byHash[t.hash(id)]
	if !ok {
		return 0, false
	}
	if string(t.bytesOf(n)) == id {
		return n, true
	}
	n, ok = t.extra[id]
	return n, ok
}

// getOrAdd returns the number of id, numbering it when it is new.
func (t *idTable) getOrAdd(id string) (uint32, bool) {
	h := t.hash(id)
	first, ok := t.byHash[h]
	if ok {
		if string(t.bytesOf(first)) == id {
			return first, false
		}
		if n, ok := t.extra[id]; ok {
			return n, false
		}
	}
	n := uint32(len(t.ends))
	t.data = append(t.data, id...)
	t.ends = append(t.ends, len(t.data))
	if !ok {
		t.byHash[h] = n
	} else {
		if t.extra == nil {
			t.extra = map[string]uint32{}
		}
		t.extra[id] = n
	}
	return n, true
}

// view returns an immutable view of the ids numbered so far.
func (t *idTable) view() IDs {
	return IDs{data: t.data[:len(t.data):len(t.data)], ends: t.ends[:len(t.ends):len(t.ends)]}
}

// IDs are the event ids by number, as Columns.IDNum refers to them.
type IDs struct {
	data []byte
	ends []int
}

// Len returns how many ids there are.
func (ids IDs) Len() int { return len(ids.ends) }

// At returns id number n.
func (ids IDs) At(n uint32) string {
	start := 0
	if n > 0 {
		start = ids.ends[n-1]
	}
	return string(ids.data[start:ids.ends[n]])
}
