package postgres_test

import (
	"testing"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, storagetest.Backend{Persistent: true, Open: func(t testing.TB, dir string) trove.Plugin {
		return open(t, schemaFor(dir))
	}})
}
