//go:build !linux

package local

import "os"

// fdatasync makes f's written bytes (and its size) durable.
func fdatasync(f *os.File) error { return f.Sync() }
