package index

import (
	"fmt"
	"os"
	"sync"
	"unsafe"
)

// maxCheckCopy is the largest file openMapped checks through a copy; a
// larger one (an id run of millions of positions) is checked through its
// map, so that opening never holds more than this much more memory a
// file. A variable for tests.
var maxCheckCopy = 32 << 20

// checkBufs holds the buffers openMapped reads files into, 8-byte
// aligned (*[]uint64).
var checkBufs sync.Pool

// poisonCheckCopies, set by tests, overwrites each buffer before it goes
// back to checkBufs: a decoded value that kept a part of it answers
// wrongly.
var poisonCheckCopies bool

// openMapped maps the file at path and decodes it (the decoder keeps the
// bytes); on failure the map is released. mapped reports whether the
// bytes are a map (the decoded value must unmap them when it closes) or
// were read into memory.
//
// Decoding checks every section, which reads the whole file. Through the
// map, each page read costs a fault (about 0.5 s for the 680 MiB of
// segment indexes of 10M events, their pages cached) and stays mapped
// until dropped. So a file of at most maxCheckCopy bytes is read into a
// reused buffer instead and decoded and checked there (0.1 s for the
// same bytes); the map is then decoded again with that result (decode's
// from), which reads only what the checks did not (the header) and
// leaves the rest of the map untouched until a reader needs it. A larger
// file is checked by checkFile when there is one (reading the file a
// chunk at a time), else through the map, which the kernel reads ahead
// (readingWhole; with the file not cached, faulting it in a page at a
// time took 8.4–9.6 s to reopen 10M events, against 1.9–2.3 s), and whose
// pages then leave the resident set.
//
// prefix, when not nil, gives how many of the file's first bytes decode
// reads from a copy (the rest of the copy is left as the buffer had it);
// nil reads all of them.
//
// checkFile, when not nil, checks a large file instead, given the open
// file and its map: reading what it checks with pread rather than through
// the map (an id run, checkIDRunFile), and returns it decoded.
func openMapped[T any](path, what string, prefix func(data []byte) int, decode func(file string, data []byte, from T) (T, error), checkFile func(f *os.File, data []byte) (T, error)) (v T, mapped bool, err error) {
	var zero T
	f, err := os.Open(path)
	if err != nil {
		return zero, false, fmt.Errorf("index: %s: %w", what, err)
	}
	defer f.Close()
	data, mapped, err := mapFile(f)
	if err != nil {
		return zero, false, fmt.Errorf("index: %s: %w", what, err)
	}
	if !mapped {
		v, err = decode(path, data, zero)
		return v, false, err
	}
	if len(data) <= maxCheckCopy {
		buf, put := checkBuffer(len(data))
		defer put()
		var from T
		n := len(buf)
		if prefix != nil {
			n = prefix(data)
		}
		if _, err = f.ReadAt(buf[:n], 0); err != nil {
			err = fmt.Errorf("index: %s: %w", what, err)
		} else if from, err = decode(path, buf, zero); err == nil {
			v, err = decode(path, data, from)
		}
	} else if checkFile != nil {
		v, err = checkFile(f, data)
		dropResident(data) // the header's and trailer's pages (a fault may map a large folio)
	} else {
		readingWhole(data)
		v, err = decode(path, data, zero)
		dropResident(data)
	}
	if err != nil {
		_ = unmapFile(data)
		return zero, false, err
	}
	return v, true, nil
}

// checkBuffer returns a buffer of size bytes, 8-byte aligned, from
// checkBufs, and the function that gives it back. A new buffer is
// rounded up to a whole mebibyte, so that files of about the same size
// (the segment indexes of a store) reuse it: a buffer too small by a few
// bytes would be dropped, and each new one costs clearing it.
func checkBuffer(size int) ([]byte, func()) {
	p, _ := checkBufs.Get().(*[]uint64)
	if p == nil || 8*cap(*p) < size {
		const mib = 1 << 20
		w := make([]uint64, (size+mib-1)&^(mib-1)/8)
		p = &w
	}
	buf := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(*p))), 8*cap(*p))[:size]
	return buf, func() {
		if poisonCheckCopies {
			for i := range buf {
				buf[i] = 0xa5
			}
		}
		checkBufs.Put(p)
	}
}

// readWhole reads the file at path into memory and decodes it.
func readWhole[T any](path, what string, decode func(file string, data []byte, from T) (T, error)) (T, error) {
	var zero T
	data, err := os.ReadFile(path)
	if err != nil {
		return zero, fmt.Errorf("index: %s: %w", what, err)
	}
	return decode(path, data, zero)
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
