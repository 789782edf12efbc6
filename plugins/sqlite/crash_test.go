package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/plugins/sqlite"
	"github.com/trovedb/trove/storagetest/crashtest"
)

// TestCrash is the SIGKILL crash test (crashtest): concurrent writers of
// events, batches, links and files killed at random moments; after every
// kill each acknowledged write is there, batches are whole and positions
// dense.
func TestCrash(t *testing.T) {
	crashtest.Run(t, crashtest.Backend{Open: func(t testing.TB, dir string) trove.Plugin {
		s, err := sqlite.New(sqlite.Options{Path: filepath.Join(dir, "trove.db")})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}})
}
