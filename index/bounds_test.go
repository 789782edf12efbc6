package index

import (
	"fmt"
	"testing"

	"github.com/trovedb/trove"
)

// TestPostingBoundsWithAddedLinks: the heap keeps the sources of links
// added with SaveLink after their positions are sealed, so a posting's
// least and greatest positions come from the heap or the segment
// indexes, whichever is further out. (A limited query's window starts at
// them: a wrong bound skipped matching events.)
func TestPostingBoundsWithAddedLinks(t *testing.T) {
	const n = 40
	docs := make([]Doc, n)
	prevs := make([]uint32, n)
	for i := range docs {
		docs[i] = Doc{ID: fmt.Sprintf("d-%d", i+1), Version: 1, CreatedAt: int64(1000 + i), Schema: "s", Producer: "p", Payload: []byte(`{}`)}
	}
	// Own links of sealed events: type "x" at 10, type "y" at 8, both to
	// target "t".
	docs[9].Links = []trove.EventLink{{Type: "x", TargetEvent: trove.EventID{ID: "t"}}}
	docs[7].Links = []trove.EventLink{{Type: "y", TargetEvent: trove.EventID{ID: "t"}}}
	ix := New(Options{})
	for i, d := range docs {
		if err := ix.Add(uint32(i+1), d); err != nil {
			t.Fatal(err)
		}
	}
	seg, err := DecodeSegIndex("mem", buildSegIndex(t, 1, docs[:30], prevs[:30]))
	if err != nil {
		t.Fatal(err)
	}
	ix.SetSegments([]*SegIndex{seg})
	// Added after the seal, to sealed sources: "x" below its sealed
	// source, "y" below too (and nothing of "y" after the seal), "t" from
	// a source below both.
	ix.AddLink(2, trove.EventLink{Type: "x", TargetEvent: trove.EventID{ID: "u"}})
	ix.AddLink(3, trove.EventLink{Type: "y", TargetEvent: trove.EventID{ID: "u"}})
	ix.AddLink(1, trove.EventLink{Type: "z", TargetEvent: trove.EventID{ID: "t"}})
	for _, c := range []struct {
		name   string
		post   func(Reader) Posting
		lo, hi uint32
	}{
		{"type x", func(r Reader) Posting { return r.LinkType("x") }, 2, 10},
		{"type y", func(r Reader) Posting { return r.LinkType("y") }, 3, 8},
		{"target t", func(r Reader) Posting { return r.LinkTarget("t") }, 1, 10},
		{"any link", func(r Reader) Posting { return r.AnyLink() }, 1, 10},
	} {
		ix.Read(func(r Reader) {
			lo, lok := c.post(r).Least()
			hi, hok := c.post(r).Greatest()
			if !lok || !hok || lo > c.lo || hi < c.hi {
				t.Errorf("%s: least %d (%v), greatest %d (%v), want them to hold %d-%d", c.name, lo, lok, hi, hok, c.lo, c.hi)
			}
		})
	}
}
