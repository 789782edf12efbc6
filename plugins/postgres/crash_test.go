package postgres_test

import (
	"context"
	"testing"

	"github.com/trovedb/trove/internal/backendtest"
	"github.com/trovedb/trove/plugins/postgres"
)

// crash is the SIGKILL crash test of batch ingest (backendtest.Crash): the
// child is this test binary, saving into the parent's server.
var crash = backendtest.Crash{
	Env:       "POSTGRES_CRASH_CHILD_DIR",
	ChildTest: "TestCrashChild",
	Open: func(ctx context.Context, dir string) (backendtest.Store, error) {
		s, err := postgres.New(postgres.Options{DSN: testDSN, Schema: schemaFor(dir), MaxConns: 4})
		if err != nil {
			return nil, err
		}
		return s, s.Initialize(ctx, nil)
	},
}

// TestCrashChild is the ingesting child of TestBatchesSurviveSIGKILL.
func TestCrashChild(t *testing.T) { backendtest.CrashChild(t, crash) }

// TestBatchesSurviveSIGKILL kills an ingesting troved-like child process
// at random points: after each kill every acknowledged batch is there, and
// every batch is all there or not at all; positions stay dense.
func TestBatchesSurviveSIGKILL(t *testing.T) {
	backendtest.SurviveSIGKILL(t, crash)
}
