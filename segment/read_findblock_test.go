package segment

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
)

// TestFindBlockModel checks FindBlock against a scan of the block table on
// segments whose blocks are far from even: bodies of very different sizes,
// runs of records without a position (blocks holding none), gaps between
// positions, in full and compact segments.
func TestFindBlockModel(t *testing.T) {
	cases := map[string]func(r *rand.Rand, i int, pos uint64) (Record, uint64){
		"even": func(r *rand.Rand, i int, pos uint64) (Record, uint64) {
			return Record{Type: 1, Position: pos, Time: 1, Body: event(pos)}, pos + 1
		},
		"uneven sizes": func(r *rand.Rand, i int, pos uint64) (Record, uint64) {
			body := make([]byte, 1+r.IntN(40)*r.IntN(40)*r.IntN(8))
			return Record{Type: 1, Position: pos, Time: 1, Body: body}, pos + 1
		},
		"positionless runs and gaps": func(r *rand.Rand, i int, pos uint64) (Record, uint64) {
			if i/50%3 == 1 {
				return Record{Type: 2, Body: event(uint64(i))}, pos
			}
			next := pos + 1
			if r.IntN(10) == 0 {
				next += uint64(1 + r.IntN(20))
			}
			return Record{Type: 1, Position: pos, Time: 1, Body: event(pos)}, next
		},
	}
	for name, gen := range cases {
		for _, first := range []uint64{1, 1 << 20} {
			t.Run(fmt.Sprintf("%s from %d", name, first), func(t *testing.T) {
				r := rand.New(rand.NewPCG(first, 7))
				var recs []Record
				pos := first
				for i := range 2000 {
					var rec Record
					rec, pos = gen(r, i, pos)
					recs = append(recs, rec)
				}
				path := filepath.Join(t.TempDir(), "seg")
				if err := WriteSegment(path, Meta{}, recs, SegmentOptions{BlockSize: 1 << 10}); err != nil {
					t.Fatal(err)
				}
				for _, open := range []func(string) (*Segment, error){OpenSegment, OpenSegmentCompact} {
					s, err := open(path)
					if err != nil {
						t.Fatal(err)
					}
					blocks := s.Blocks()
					if len(blocks) < 20 {
						t.Fatalf("%d blocks", len(blocks))
					}
					m := s.Meta()
					for p := m.FirstPosition - 1; p <= m.LastPosition+1; p++ {
						want, wantOK := 0, false
						for i, b := range blocks {
							if b.FirstPosition != 0 && p != 0 && b.FirstPosition <= p && p <= b.LastPosition {
								want, wantOK = i, true
								break
							}
						}
						got, ok := s.FindBlock(p)
						if got != want || ok != wantOK {
							t.Fatalf("position %d: block %d %v, want %d %v", p, got, ok, want, wantOK)
						}
					}
					s.Close()
				}
			})
		}
	}
}
