//go:build !linux

package index

// mapAnon is not used on this platform: regions are Go memory.
func mapAnon(int) ([]byte, bool) { return nil, false }

func unmap([]byte) {}
