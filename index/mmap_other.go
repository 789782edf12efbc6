//go:build !linux

package index

import (
	"errors"
	"os"
)

// mapFile reads the file at path into memory (no memory map here).
func mapFile(path string) (data []byte, mapped bool, err error) {
	data, err = os.ReadFile(path)
	return data, false, err
}

func unmapFile([]byte) error { return errors.New("index: no memory maps on this platform") }

func readingWhole([]byte) {}

func dropResident([]byte) {}
