//go:build !linux

package index

import (
	"errors"
	"io"
	"os"
)

// mapFile reads the file f into memory (no memory map here).
func mapFile(f *os.File) (data []byte, mapped bool, err error) {
	data, err = io.ReadAll(f)
	return data, false, err
}

func unmapFile([]byte) error { return errors.New("index: no memory maps on this platform") }

func readingWhole([]byte) {}

func willNeedMap([]byte) {}

func willNeed(*os.File, int64, int64) {}

func dropResident([]byte) {}

func dropPages([]byte, int, int) {}
