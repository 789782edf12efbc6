package engine

import (
	"testing"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/storagetest"
)

// smallOptions make sealing, snapshots and background indexing happen
// within a few hundred events.
func smallOptions() Options {
	return Options{SegmentSize: 16 << 10, BlockSize: 2 << 10, MaxPathValues: 64}
}

func TestConformanceSmallSegments(t *testing.T) {
	storagetest.Run(t, storagetest.Backend{
		Open: func(t testing.TB, dir string) trove.Plugin {
			return NewPlugin(dir, smallOptions())
		},
		Persistent: true,
	})
}

func TestConformanceDefaults(t *testing.T) {
	storagetest.Run(t, storagetest.Backend{
		Open: func(t testing.TB, dir string) trove.Plugin {
			return NewPlugin(dir, Options{})
		},
		Persistent: true,
	})
}
