package segment

import (
	"encoding/binary"
	"math"
	"testing"
)

func TestVarintLen(t *testing.T) {
	for _, x := range []int64{0, 1, -1, 63, -64, 64, 127, 128, 1 << 20, -(1 << 40), math.MaxInt64, math.MinInt64} {
		if got, want := varintLen(x), len(binary.AppendVarint(nil, x)); got != want {
			t.Errorf("varintLen(%d) = %d, want %d", x, got, want)
		}
		if got, want := uvarintLen(uint64(x)), len(binary.AppendUvarint(nil, uint64(x))); got != want {
			t.Errorf("uvarintLen(%d) = %d, want %d", uint64(x), got, want)
		}
	}
}

// Blocks are cut at BlockSize uncompressed bytes: every block but the last
// reaches it, and none passes it by more than one record.
func TestBlockCut(t *testing.T) {
	recs := batch(1, 500)
	const size = 8 << 10
	s, err := OpenSegment(writeSeg(t, recs, SegmentOptions{BlockSize: size}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i, b := range s.blocks {
		if i < len(s.blocks)-1 && b.raw < size {
			t.Errorf("block %d holds %d bytes, cut before %d", i, b.raw, size)
		}
		if b.raw > size+400 {
			t.Errorf("block %d holds %d bytes, past %d by more than a record", i, b.raw, size)
		}
	}
}
