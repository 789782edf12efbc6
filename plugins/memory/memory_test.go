package memory_test

import (
	"testing"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/plugins/memory"
	"github.com/trovedb/trove/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, storagetest.Backend{Open: func(_ testing.TB, dir string) trove.Plugin {
		return memory.New(memory.Options{TempDir: dir})
	}})
}
