package index

import (
	"fmt"
	"os"
	"unsafe"
)

// openMapped maps the file at path and decodes it (the decoder keeps the
// bytes): on failure the map is released; on success the pages decoding
// read leave the resident set (readers touch few of them). mapped reports
// whether the bytes are a map (the decoded value must unmap them when it
// closes) or were read into memory. While decoding reads the whole map
// (it checks every section), the kernel reads the file ahead
// (readingWhole): with the file not cached, faulting it in a page at a
// time took 8.4–9.6 s to reopen 10M events, against 1.9–2.3 s.
func openMapped[T any](path, what string, decode func(file string, data []byte) (T, error)) (v T, mapped bool, err error) {
	data, mapped, err := mapFile(path)
	if err != nil {
		return v, false, fmt.Errorf("index: %s: %w", what, err)
	}
	if mapped {
		readingWhole(data)
	}
	v, err = decode(path, data)
	if err != nil {
		if mapped {
			_ = unmapFile(data)
		}
		return v, false, err
	}
	if mapped {
		dropResident(data)
	}
	return v, mapped, nil
}

// readWhole reads the file at path into memory and decodes it.
func readWhole[T any](path, what string, decode func(file string, data []byte) (T, error)) (T, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var zero T
		return zero, fmt.Errorf("index: %s: %w", what, err)
	}
	return decode(path, data)
}

// aligned8 returns data, or a copy of it at an 8-byte aligned address:
// decoders read arrays of 8-byte words in place.
func aligned8(data []byte) []byte {
	if len(data) == 0 || uintptr(unsafe.Pointer(&data[0]))%8 == 0 {
		return data
	}
	w := make([]uint64, (len(data)+7)/8)
	b := unsafe.Slice((*byte)(unsafe.Pointer(&w[0])), len(data))
	copy(b, data)
	return b
}
