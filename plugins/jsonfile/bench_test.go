package jsonfile_test

import (
	"testing"

	"github.com/trovedb/trove/plugins/internal/backendtest"
)

// openBench opens the store the shared benchmarks (backendtest) run on.
func openBench(tb testing.TB, dir string) backendtest.Store {
	return open(tb, dir)
}

func BenchmarkIngestBatch1000(b *testing.B) { backendtest.BenchIngestBatch1000(b, openBench) }

func BenchmarkSaveEvent(b *testing.B) { backendtest.BenchSaveEvent(b, openBench) }

func BenchmarkQuery100k(b *testing.B) { backendtest.BenchQuery100k(b, openBench) }
