package engine

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/index"
)

// TestHotPathTermsFromSegments: payload equalities on a path past the
// guard (one value per event) are answered from the segment indexes for
// sealed events and from the head's hashed postings for the rest, with
// exactly the answers of a scan, before and after a reopen, with and
// without the search index.
func TestHotPathTermsFromSegments(t *testing.T) {
	for _, search := range []string{"off", "on"} {
		t.Run("search "+search, func(t *testing.T) {
			dir := t.TempDir()
			o := Options{SegmentSize: 16 << 10, BlockSize: 1 << 10, MaxPathValues: 8, SearchIndex: search}
			st := openStore(t, dir, o)
			saveBatches(t, st, 0, 600, 10)
			// New versions: the old ones drop out unless allVersions.
			for _, i := range []int{5, 300, 599} {
				e := testEvent(i)
				e.ID.Version = 2
				e.Payload = []byte(fmt.Sprintf(`{"n":%d,"kind":"k%d","text":"second version"}`, i+1, i%7))
				if _, err := st.SaveEvent(context.Background(), e); err != nil {
					t.Fatal(err)
				}
			}
			check := func(st *Store) {
				t.Helper()
				var covered uint32
				st.ix.Read(func(r index.Reader) {
					if _, indexed := r.Term("n", "n5"); indexed {
						t.Fatal("path n is still indexed in memory")
					}
					_, covered, _ = r.SegmentTerm("n", "n5")
				})
				if uint64(covered) != st.Last() {
					t.Fatalf("segment indexes and the head's hashed postings cover 1…%d of %d", covered, st.Last())
				}
				for _, n := range []int{0, 5, 6, 123, 300, 301, 598, 599, 600, 1000} {
					for _, all := range []bool{false, true} {
						q := trove.EventQuery{Payload: map[string]any{"n": float64(n)}, AllVersions: all}
						got, err := st.QueryEvents(context.Background(), q)
						if err != nil {
							t.Fatal(err)
						}
						var want []uint64
						err = st.Replay(context.Background(), 0, func(e trove.Event) error {
							latest, err := st.GetEvent(context.Background(), trove.EventID{ID: e.ID.ID})
							if err != nil {
								return err
							}
							if (all || latest.Position == e.Position) && payloadN(e.Payload) == n {
								want = append(want, e.Position)
							}
							return nil
						})
						if err != nil {
							t.Fatal(err)
						}
						var gotPos []uint64
						for _, e := range got {
							gotPos = append(gotPos, e.Position)
						}
						if !slices.Equal(gotPos, want) {
							t.Fatalf("n=%d allVersions %t: positions %v, want %v", n, all, gotPos, want)
						}
					}
				}
			}
			check(st)
			st.Close()
			st = openStore(t, dir, o)
			defer st.Close()
			check(st)
		})
	}
}

// payloadN returns the "n" of a test payload, -1 when it has none.
func payloadN(payload []byte) int {
	var n int
	if _, err := fmt.Sscanf(string(payload), `{"n":%d,`, &n); err != nil {
		return -1
	}
	return n
}
