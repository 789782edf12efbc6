package index

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/trovedb/trove"
)

// checkInPlace makes openMapped check every file through its map, not a
// copy, until the test ends.
func checkInPlace(t *testing.T) {
	old := maxCheckCopy
	maxCheckCopy = 0
	t.Cleanup(func() { maxCheckCopy = old })
}

// inPlace calls open(path) with every file checked through its map.
func inPlace[T any](open func(string) (T, error), path string) (T, error) {
	old := maxCheckCopy
	maxCheckCopy = 0
	defer func() { maxCheckCopy = old }()
	return open(path)
}

// TestOpenMappedKeepsTheMap opens segment indexes and id runs both ways
// openMapped checks them (on a copy, then in place) and checks every
// answer, the copies being overwritten once used: a decoded value that
// kept a part of the copy instead of the map answers wrongly.
func TestOpenMappedKeepsTheMap(t *testing.T) {
	poisonCheckCopies = true
	t.Cleanup(func() { poisonCheckCopies = false })
	r := rand.New(rand.NewPCG(3, 4))
	docs, prevs := chainedDocs(r, 3000)
	segs := segIndexes(t, docs, prevs, 1000, 2000)
	dir := t.TempDir()
	segPath := filepath.Join(dir, "a.idx")
	if err := os.WriteFile(segPath, buildSegIndex(t, 1, docs[:1000], prevs[:1000]), 0o640); err != nil {
		t.Fatal(err)
	}
	runPath := filepath.Join(dir, "a.run")
	if err := os.WriteFile(runPath, encodeRun(t, SegSource(segs[0]), SegSource(segs[1])), 0o640); err != nil {
		t.Fatal(err)
	}
	for _, how := range []string{"copy", "in place"} {
		t.Run(how, func(t *testing.T) {
			if how == "in place" {
				checkInPlace(t)
			}
			s, err := OpenSegIndex(segPath)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			run, err := OpenIDRun(runPath)
			if err != nil {
				t.Fatal(err)
			}
			defer run.Close()
			// Another file of each through the same buffers.
			if _, err := OpenSegIndex(runPath); !errors.Is(err, trove.ErrCorrupt) {
				t.Fatalf("an id run opened as a segment index: %v", err)
			}
			if _, err := OpenIDRun(segPath); !errors.Is(err, trove.ErrCorrupt) {
				t.Fatalf("a segment index opened as an id run: %v", err)
			}
			checkSegIndex(t, s, 1, docs[:1000], prevs[:1000])
			checkRun(t, run, docs, 1, 3000)
		})
	}
}
