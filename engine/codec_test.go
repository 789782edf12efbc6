package engine

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/segment"
)

// TestCompressionCodecs: a store sealed with one codec, reopened with
// another, holds segments of both and reads, queries and checks every
// event across them, for each pair of codecs ("" is the default, S2 with
// a dictionary: segments of 64 KiB hold enough records for one).
func TestCompressionCodecs(t *testing.T) {
	for _, order := range [][2]string{{segment.CodecZstd, ""}, {segment.CodecS2Dict, segment.CodecS2}, {segment.CodecS2, segment.CodecZstd}} {
		t.Run(order[0]+" then "+order[1], func(t *testing.T) {
			dir := t.TempDir()
			o := Options{SegmentSize: 64 << 10, SearchIndex: "off", Compression: order[0]}
			st := openStore(t, dir, o)
			saveBatches(t, st, 0, 2000, 100)
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
			first := segmentVersions(t, dir)
			o.Compression = order[1]
			st = openStore(t, dir, o)
			defer st.Close()
			saveBatches(t, st, 2000, 2000, 100)
			checkEvents(t, st, 4000)
			st.Close()
			all := segmentVersions(t, dir)
			if len(first) != 1 || !first[cmp.Or(order[0], segment.CodecS2Dict)] || len(all) != 2 || !all[cmp.Or(order[1], segment.CodecS2Dict)] {
				t.Fatalf("segment codecs after the first open %v, after the second %v", first, all)
			}
			st = openStore(t, dir, Options{SearchIndex: "off"})
			checkEvents(t, st, 4000)
			if _, err := st.Check(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// segmentVersions returns the codecs of the store's segment files, read
// from their headers' format version (segment FORMAT.md §3.1: the store
// writes versions 4 to 6, packed block tables).
func segmentVersions(t *testing.T, dir string) map[string]bool {
	t.Helper()
	names, _ := filepath.Glob(filepath.Join(dir, "segments", "*.seg"))
	if len(names) == 0 {
		t.Fatal("no segment was sealed")
	}
	got := map[string]bool{}
	for _, name := range names {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		switch b[8] {
		case 4:
			got[segment.CodecZstd] = true
		case 5:
			got[segment.CodecS2] = true
		case 6:
			got[segment.CodecS2Dict] = true
		default:
			t.Fatalf("%s: format version %d", name, b[8])
		}
	}
	return got
}

// TestCompressionOption: an unknown codec or a zstd level out of range is
// ErrInvalid, through Open and through the plugin's options.
func TestCompressionOption(t *testing.T) {
	for _, o := range []Options{{Compression: "lz4"}, {Compression: "S2"}, {Compression: segment.CodecZstd, CompressionLevel: 5}} {
		if _, err := Open(t.TempDir(), o); !errors.Is(err, trove.ErrInvalid) {
			t.Errorf("Open with %+v: %v, want ErrInvalid", o, err)
		}
	}
	raw, _ := json.Marshal(map[string]any{"directory": t.TempDir(), "compression": "gzip"})
	if _, _, err := parsePluginOptions(raw); !errors.Is(err, trove.ErrInvalid) {
		t.Errorf("plugin options with compression gzip: %v, want ErrInvalid", err)
	}
	raw, _ = json.Marshal(map[string]any{"directory": t.TempDir(), "compression": "zstd", "compressionLevel": 3})
	if _, o, err := parsePluginOptions(raw); err != nil || o.Compression != segment.CodecZstd || o.CompressionLevel != 3 {
		t.Errorf("plugin options zstd level 3: %+v %v", o, err)
	}
}
