//go:build linux

package index

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// mapFile maps the file f read-only; mapped is false when the file was
// read into memory instead (an empty file, or one too large to map).
func mapFile(f *os.File) (data []byte, mapped bool, err error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, false, err
	}
	if fi.Size() == 0 || fi.Size() > maxSegIndexBytes {
		return nil, false, nil // decoding reports the size
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, int(fi.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, false, err
	}
	// Reads are random (a binary search, one posting): without this, a
	// fault maps the cached pages around it too (fault-around) and reads
	// ahead, and the process's resident set grows by many pages a read.
	_ = syscall.Madvise(b, syscall.MADV_RANDOM)
	return b, true, nil
}

func unmapFile(b []byte) error { return syscall.Munmap(b) }

// willNeed starts reading n bytes of f at off into the page cache,
// without waiting (POSIX_FADV_WILLNEED); cached pages cost a lookup.
func willNeed(f *os.File, off, n int64) { _ = unix.Fadvise(int(f.Fd()), off, n, unix.FADV_WILLNEED) }

// readingWhole tells the kernel that the mapping b is about to be read
// from start to end (a decoder checking it): faults read ahead, until
// dropResident.
func readingWhole(b []byte) { _ = syscall.Madvise(b, syscall.MADV_SEQUENTIAL) }

// willNeedMap starts reading the pages of the mapping b that are not in
// the page cache, without waiting (MADV_WILLNEED): a file's pages a
// lookup will touch at random, read in one stream instead of one fault at
// a time.
func willNeedMap(b []byte) { _ = syscall.Madvise(b, syscall.MADV_WILLNEED) }

// dropResident tells the kernel that the pages of the mapping b are not
// needed now: they leave the process's resident set (the page cache keeps
// them) and are read again when next touched. Reads of the mapping are
// random again (MADV_RANDOM, as mapFile set).
func dropResident(b []byte) {
	_ = syscall.Madvise(b, syscall.MADV_RANDOM)
	_ = syscall.Madvise(b, syscall.MADV_DONTNEED)
}

// dropPages is dropResident for the whole pages of the mapping m that lie
// in m[from:to] (page-aligned inward: a page only partly in the range
// stays).
func dropPages(m []byte, from, to int) {
	ps := os.Getpagesize()
	from = (from + ps - 1) / ps * ps
	to = min(to, len(m)) / ps * ps
	if from < to {
		_ = syscall.Madvise(m[from:to], syscall.MADV_DONTNEED)
	}
}
