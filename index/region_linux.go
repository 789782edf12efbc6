//go:build linux

package index

import "syscall"

// mapAnon maps size bytes of anonymous, private, zeroed memory.
func mapAnon(size int) ([]byte, bool) {
	b, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return nil, false
	}
	return b, true
}

func unmap(b []byte) { _ = syscall.Munmap(b) }
