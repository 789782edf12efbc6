package blob_test

import (
	"testing"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/blob"
	"github.com/trovedb/trove/blob/blobtest"
	"github.com/trovedb/trove/blob/local"
)

func TestFileStorageOnLocal(t *testing.T) {
	blobtest.RunFiles(t, func(t testing.TB) (trove.FileStorage, func() error) {
		s, err := local.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return blob.NewFileStorage(s), s.Close
	})
}

func TestParseHash(t *testing.T) {
	const d = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	for in, want := range map[string]string{
		"sha256:" + d: d,
		"SHA256:9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08": d,
	} {
		got, err := blob.ParseHash(in)
		if err != nil || got != want {
			t.Fatalf("ParseHash(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", d, "sha256:", "sha256:" + d[:63], "sha1:" + d, "sha256:" + d + "00", "sha256:zz" + d[2:]} {
		if _, err := blob.ParseHash(in); err == nil {
			t.Fatalf("ParseHash(%q) accepted", in)
		}
	}
}
