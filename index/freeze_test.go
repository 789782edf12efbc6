package index

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/trovedb/trove"
)

// TestFreeze: a frozen state encodes exactly what Encode wrote at the
// moment of the freeze, however the index changes after it (new positions
// in every structure, new versions, links added, a trim by SetSegments),
// also while those changes run beside its encoding (see -race).
func TestFreeze(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	docs, prevs := segDocs(r, 1, 3*hotGenSpan)
	ix := New(Options{MaxPathValues: 8}) // "order" and "n" are hot paths
	half := len(docs) / 2
	for i := range half {
		if err := ix.Add(uint32(i+1), docs[i]); err != nil {
			t.Fatal(err)
		}
	}
	link := func(src uint32) {
		ix.AddLink(src, trove.EventLink{Type: "late", TargetEvent: trove.EventID{ID: fmt.Sprintf("t-%d", src%7)}})
	}
	link(3)
	var want bytes.Buffer
	if err := ix.Encode(&want, []byte("m")); err != nil {
		t.Fatal(err)
	}
	f, err := ix.Freeze()
	if err != nil {
		t.Fatal(err)
	}
	if len(f.st.hotHead.gens) < 2 || len(f.st.terms) == 0 || len(f.st.incoming) == 0 {
		t.Fatalf("fixture: %d hot generations, %d term paths, %d link targets", len(f.st.hotHead.gens), len(f.st.terms), len(f.st.incoming))
	}
	encoded := make(chan []byte)
	go func() {
		var b bytes.Buffer
		if err := f.Encode(&b, []byte("m")); err != nil {
			t.Error(err)
		}
		encoded <- b.Bytes()
	}()
	for i := half; i < len(docs); i++ {
		if err := ix.Add(uint32(i+1), docs[i]); err != nil {
			t.Fatal(err)
		}
		if i%1000 == 0 {
			link(uint32(i - 500))
		}
	}
	seg, err := DecodeSegIndex("mem", buildSegIndex(t, 1, docs[:half+100], prevs[:half+100]))
	if err != nil {
		t.Fatal(err)
	}
	ix.SetSegments([]*SegIndex{seg})
	if ix.Trimmed() != uint32(half+100) {
		t.Fatalf("trimmed %d, want %d", ix.Trimmed(), half+100)
	}
	if got := <-encoded; !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("frozen state encoded beside the writes: %d bytes differ from the %d Encode wrote at the freeze", len(got), want.Len())
	}
	var again bytes.Buffer
	if err := f.Encode(&again, []byte("m")); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Bytes(), want.Bytes()) {
		t.Fatal("frozen state encoded after the writes differs from Encode at the freeze")
	}
	// The live index moved on: its snapshot is another.
	var now bytes.Buffer
	if err := ix.Encode(&now, []byte("m")); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(now.Bytes(), want.Bytes()) {
		t.Fatal("the live index encodes as it did before the writes")
	}
	ix.Close()
	if _, err := ix.Freeze(); !errors.Is(err, errClosed) {
		t.Fatalf("Freeze of a closed index: %v", err)
	}
}
