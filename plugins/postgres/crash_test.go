package postgres_test

import (
	"testing"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/storagetest/crashtest"
)

// crashChildEnv is set in the children crashtest starts (this test binary
// again); they use the parent's server, whose DSN is in dsnEnv.
const crashChildEnv = "TROVE_CRASHTEST_DIR"

// TestCrash is the SIGKILL crash test (crashtest): concurrent writers of
// events, batches, links and files in a child process killed at random
// moments; after every kill each acknowledged write is there, batches are
// whole and positions dense.
func TestCrash(t *testing.T) {
	crashtest.Run(t, crashtest.Backend{Open: func(t testing.TB, dir string) trove.Plugin {
		return open(t, schemaFor(dir))
	}})
}
