package index

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/trovedb/trove"
)

// addPair returns two empty indexes that hash ids alike, so that the same
// adds give the same snapshot bytes.
func addPair(opts Options) (a, b *Index) {
	a, b = New(opts), New(opts)
	b.st.ids.seed = a.st.ids.seed
	return a, b
}

// sameIndex fails t unless a and b hold the same index: the same snapshot
// bytes, hashed postings of the head and last position.
func sameIndex(t testing.TB, what string, a, b *Index) {
	t.Helper()
	var ea, eb bytes.Buffer
	if err := a.Encode(&ea, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.Encode(&eb, nil); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ea.Bytes(), eb.Bytes()) {
		t.Fatalf("%s: the snapshots differ (%d and %d bytes)", what, ea.Len(), eb.Len())
	}
	hot := func(ix *Index) map[uint64][]uint32 {
		m := map[uint64][]uint32{}
		ix.st.hotHead.each(func(h uint64, pos []uint32) { m[h] = append(m[h], pos...) })
		for _, p := range m {
			slices.Sort(p)
		}
		return m
	}
	if !maps.EqualFunc(hot(a), hot(b), slices.Equal) {
		t.Fatalf("%s: the hashed head postings differ", what)
	}
	if !maps.Equal(a.st.hot, b.st.hot) {
		t.Fatalf("%s: hot paths %v and %v", what, a.st.hot, b.st.hot)
	}
	if a.Last() != b.Last() {
		t.Fatalf("%s: last %d and %d", what, a.Last(), b.Last())
	}
}

// randomDocs returns n documents of a few payload shapes (some sharing
// paths in other orders, one spelling a nested path as a dotted key),
// with new versions of earlier ids and links, and terms extracted ahead
// for some.
func randomDocs(r *rand.Rand, n, idBase int) []Doc {
	var tw TermWriter
	docs := make([]Doc, n)
	latest := map[string]int{}
	for i := range docs {
		id := fmt.Sprintf("id-%d", idBase+i)
		if r.IntN(5) == 0 && i > 0 {
			id = fmt.Sprintf("id-%d", idBase+r.IntN(i))
		}
		latest[id]++
		var p string
		switch r.IntN(5) {
		case 0:
			p = fmt.Sprintf(`{"status":"s%d","seq":%d,"user":{"name":"u%d","region":"r%d"},"tags":[1,2]}`, r.IntN(4), i, r.IntN(30), r.IntN(3))
		case 1:
			p = fmt.Sprintf(`{"user":{"region":"r%d"},"status":"s%d","amount":%d.%d}`, r.IntN(3), r.IntN(4), r.IntN(100), r.IntN(10))
		case 2:
			p = fmt.Sprintf(`{"user.region":"r%d","user":{"region":"x%d"},"ok":%v,"n":null}`, r.IntN(3), r.IntN(3), r.IntN(2) == 0)
		case 3:
			p = `{}`
		default:
			p = fmt.Sprintf(`{"seq":%d,"k%d":%d}`, i, r.IntN(8), r.IntN(3))
		}
		d := Doc{ID: id, Version: latest[id], CreatedAt: int64(1000 + i*r.IntN(3)), Schema: fmt.Sprintf("s%d", r.IntN(3)),
			Producer: fmt.Sprintf("p%d", r.IntN(4)), Payload: []byte(p)}
		if r.IntN(3) == 0 {
			d.Links = []trove.EventLink{{Type: "t", TargetEvent: trove.EventID{ID: fmt.Sprintf("id-%d", r.IntN(idBase+i+1))}}}
		}
		if r.IntN(2) == 0 {
			d.Terms, d.TermsSet = tw.Append(nil, d.Payload), true
		}
		docs[i] = d
	}
	return docs
}

// TestAddBatchSameAsAdd: AddBatch, on one goroutine or two, builds the
// index that adding the same documents one at a time builds, paths going
// past the guard in the middle of a batch included.
func TestAddBatchSameAsAdd(t *testing.T) {
	for _, maxValues := range []int{3, 10, 4096, -1} {
		r := rand.New(rand.NewPCG(uint64(maxValues+10), 7))
		batched, single := addPair(Options{MaxPathValues: maxValues})
		pos := uint32(1)
		for _, n := range []int{1, 5, addParallelMin - 1, addParallelMin, addParallelMin + 1, addChunk * 3, 100, 257, 1000} {
			docs := randomDocs(r, n, int(pos))
			if err := batched.AddBatch(pos, docs); err != nil {
				t.Fatal(err)
			}
			for i := range docs {
				if err := single.Add(pos+uint32(i), docs[i]); err != nil {
					t.Fatal(err)
				}
			}
			pos += uint32(n)
			sameIndex(t, fmt.Sprintf("maxValues %d, batch of %d", maxValues, n), batched, single)
		}
		batched.Close()
		single.Close()
	}
}

// TestAddBatchFailsMidway: a batch whose event k cannot be added (its
// extracted terms are damaged, or its id cannot be verified) ends with the
// events before k indexed, terms included, and nothing of k and after, as
// adding them one at a time would.
func TestAddBatchFailsMidway(t *testing.T) {
	idErr := errors.New("unreadable")
	for _, k := range []int{0, 1, addChunk - 1, addChunk, addChunk + 1, 57, 99} {
		for _, how := range []string{"terms", "id"} {
			what := fmt.Sprintf("%s at %d", how, k)
			r := rand.New(rand.NewPCG(uint64(k), 3))
			// IDAt fails: an id of the batch that is a new version of a
			// readable event cannot be verified.
			opts := Options{MaxPathValues: 5, IDAt: func(uint32) (string, error) { return "", idErr }}
			batched, single := addPair(opts)
			base := randomDocs(r, 10, 0)
			for i := range base {
				base[i].ID, base[i].Version = fmt.Sprintf("base-%d", i), 1
				for _, ix := range []*Index{batched, single} {
					if err := ix.Add(uint32(i+1), base[i]); err != nil {
						t.Fatal(err)
					}
				}
			}
			batched.Readable(10)
			single.Readable(10)
			docs := randomDocs(r, 100, 100)
			if how == "terms" {
				docs[k].Terms, docs[k].TermsSet = []byte{0x05, 'a'}, true
			} else {
				docs[k].ID, docs[k].Version = "base-3", 2
			}
			err := batched.AddBatch(11, docs)
			var want error
			for i := range docs {
				if want = single.Add(uint32(11+i), docs[i]); want != nil {
					break
				}
			}
			if err == nil || want == nil || err.Error() != want.Error() {
				t.Fatalf("%s: AddBatch: %v; Add: %v", what, err, want)
			}
			if got := batched.Last(); got != uint32(10+k) {
				t.Fatalf("%s: last %d, want %d", what, got, 10+k)
			}
			sameIndex(t, what, batched, single)
			batched.Close()
			single.Close()
		}
	}
}

// FuzzAddBatch: on any payloads (one a line), AddBatch and Add one at a
// time build the same index.
func FuzzAddBatch(f *testing.F) {
	f.Add([]byte(`{"a":1,"b":{"c":"x"}}`+"\n"+`{"b":{"c":"y"},"a":2}`), uint8(2), uint8(40))
	f.Add([]byte(`{"a.b":1,"a":{"b":2}}`+"\n"+`{"a":[1]}`+"\n"+`{"a":"\u00e9"}`+"\n"+`{"a":`), uint8(1), uint8(33))
	f.Fuzz(func(t *testing.T, data []byte, maxValues, n uint8) {
		lines := bytes.Split(data, []byte("\n"))
		docs := make([]Doc, max(int(n), len(lines)))
		var tw TermWriter
		for i := range docs {
			p := lines[i%len(lines)]
			docs[i] = Doc{ID: fmt.Sprintf("e%d", i%7), Version: i/7 + 1, Schema: "s", Producer: "p", Payload: p}
			if i%2 == 1 {
				docs[i].Terms, docs[i].TermsSet = tw.Append(nil, p), true
			}
		}
		batched, single := addPair(Options{MaxPathValues: int(maxValues%8) - 1})
		defer batched.Close()
		defer single.Close()
		if err := batched.AddBatch(1, docs); err != nil {
			t.Fatal(err)
		}
		for i := range docs {
			if err := single.Add(uint32(i+1), docs[i]); err != nil {
				t.Fatal(err)
			}
		}
		sameIndex(t, "fuzzed", batched, single)
	})
}
