package local_test

import (
	"context"
	"testing"

	"github.com/trovedb/trove/blob"
	"github.com/trovedb/trove/blob/blobtest"
	"github.com/trovedb/trove/blob/local"
)

func openStore(t testing.TB) *local.Store {
	t.Helper()
	s, err := local.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func openWith(t testing.TB, opts local.Options) *local.Store {
	t.Helper()
	s, err := local.OpenWith(context.Background(), t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestConformance runs the kit on the default store (objects up to 64 KiB
// packed, larger ones loose), on one that packs nothing, and on one that
// packs every object the kit writes into packs of 4 KiB (so that new packs
// are started all the time).
func TestConformance(t *testing.T) {
	t.Run("default", func(t *testing.T) {
		blobtest.Run(t, func(t testing.TB) blob.Store { return openStore(t) })
	})
	t.Run("loose", func(t *testing.T) {
		blobtest.Run(t, func(t testing.TB) blob.Store { return openWith(t, local.Options{SmallMax: -1}) })
	})
	t.Run("packed", func(t *testing.T) {
		blobtest.Run(t, func(t testing.TB) blob.Store { return openWith(t, local.Options{SmallMax: 4 << 20, PackSize: 4 << 10}) })
	})
}
