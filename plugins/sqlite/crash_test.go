package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/trovedb/trove/internal/backendtest"
	"github.com/trovedb/trove/plugins/sqlite"
)

// crash is the SIGKILL crash test of batch ingest (backendtest.Crash).
var crash = backendtest.Crash{
	Env:       "SQLITE_CRASH_CHILD_DIR",
	ChildTest: "TestCrashChild",
	Open: func(ctx context.Context, dir string) (backendtest.Store, error) {
		s, err := sqlite.New(sqlite.Options{Path: filepath.Join(dir, "trove.db")})
		if err != nil {
			return nil, err
		}
		return s, s.Initialize(ctx, nil)
	},
}

// TestCrashChild is the ingesting child of TestBatchesSurviveSIGKILL.
func TestCrashChild(t *testing.T) { backendtest.CrashChild(t, crash) }

// TestBatchesSurviveSIGKILL kills an ingesting child process at random
// points: after each kill every acknowledged batch is there, and every batch
// is all there or not at all.
func TestBatchesSurviveSIGKILL(t *testing.T) { backendtest.SurviveSIGKILL(t, crash) }
