package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/plugins/sqlite"
	"github.com/trovedb/trove/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, storagetest.Backend{Persistent: true, Open: func(t testing.TB, dir string) trove.Plugin {
		s, err := sqlite.New(sqlite.Options{Path: filepath.Join(dir, "trove.db")})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}})
}
