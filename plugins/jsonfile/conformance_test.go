package jsonfile_test

import (
	"testing"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/plugins/jsonfile"
	"github.com/trovedb/trove/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, storagetest.Backend{Persistent: true, Open: func(t testing.TB, dir string) trove.Plugin {
		s, err := jsonfile.New(jsonfile.Options{Directory: dir})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}})
}
