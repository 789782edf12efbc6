package index

import (
	"bytes"
	"flag"
	"hash/crc32"
	"os"
	"path/filepath"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/v5.snap")

// readGolden reads the golden snapshot of the current version (rewritten
// first with -update).
func readGolden() ([]byte, error) {
	path := filepath.Join("testdata", "v5.snap")
	if *updateGolden {
		var buf bytes.Buffer
		if err := goldenIndex().Encode(&buf, []byte(`{"golden":1}`)); err != nil {
			return nil, err
		}
		if err := os.MkdirAll("testdata", 0o750); err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o640); err != nil {
			return nil, err
		}
	}
	return os.ReadFile(path)
}

func crc32Checksum(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }
