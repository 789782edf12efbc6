package index

import "unsafe"

// region is a block of pointer-free memory for the index's large arrays
// (column chunks, id sub-tables). Where the platform allows (region_linux.go)
// it is an anonymous mapping outside the Go heap, so that the garbage
// collector neither scans it nor counts it towards its heap goal; elsewhere
// it is an ordinary Go allocation. It is zeroed when allocated and must be
// freed exactly once, after its last use (Index.Close).
type region struct {
	b      []byte
	mapped bool
}

func (r region) uint64s(n int) []uint64 {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*uint64)(unsafe.Pointer(&r.b[0])), n)
}

func (r region) uint32sAt(off, n int) []uint32 {
	return unsafe.Slice((*uint32)(unsafe.Pointer(&r.b[off])), n)
}

func (r region) uint16sAt(off, n int) []uint16 {
	return unsafe.Slice((*uint16)(unsafe.Pointer(&r.b[off])), n)
}

func (r region) int32sAt(off, n int) []int32 {
	return unsafe.Slice((*int32)(unsafe.Pointer(&r.b[off])), n)
}

func (r region) int64sAt(off, n int) []int64 {
	return unsafe.Slice((*int64)(unsafe.Pointer(&r.b[off])), n)
}

// free releases the memory; the region must not be used afterwards.
func (r *region) free() {
	if r.b != nil && r.mapped {
		unmap(r.b)
	}
	r.b, r.mapped = nil, false
}

// allocRegion returns a zeroed region of size bytes (size > 0), 8-byte
// aligned.
func allocRegion(size int) region {
	if b, ok := mapAnon(size); ok {
		return region{b: b, mapped: true}
	}
	return heapRegion(size)
}

// heapRegion returns a zeroed region of size bytes (size > 0) in Go
// memory, 8-byte aligned through a []uint64: the garbage collector frees
// it (free is optional).
func heapRegion(size int) region {
	w := make([]uint64, (size+7)/8)
	return region{b: unsafe.Slice((*byte)(unsafe.Pointer(&w[0])), len(w)*8)}
}
