package postgres_test

import (
	"testing"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/plugins/postgres"
	"github.com/trovedb/trove/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, storagetest.Backend{Persistent: true, Open: func(t testing.TB, dir string) trove.Plugin {
		return open(t, schemaFor(dir))
	}})
}

// The whole kit with every read going to a hot standby (readDSN): reads
// never see less than the store acknowledged.
func TestConformanceReadReplica(t *testing.T) {
	standby, err := server.StartStandby()
	if err != nil {
		t.Fatal(err)
	}
	defer standby.Remove()
	storagetest.Run(t, storagetest.Backend{Persistent: true, Open: func(t testing.TB, dir string) trove.Plugin {
		return open(t, schemaFor(dir), func(o *postgres.Options) { o.ReadDSN = standby.DSN("") })
	}})
}
