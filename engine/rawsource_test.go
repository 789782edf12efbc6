package engine

import (
	"bytes"
	"testing"
)

// TestSourcePayload checks that the raw payload the planner reads before
// decoding is the event's own, for sealed and unsealed positions.
func TestSourcePayload(t *testing.T) {
	st := openStore(t, t.TempDir(), Options{SegmentSize: 8 << 10, BlockSize: 1 << 10, SearchIndex: "off"})
	defer st.Close()
	saveBatches(t, st, 0, 300, 20)
	src := source{st}
	for pos := uint32(1); pos <= 300; pos++ {
		e, err := src.Event(pos)
		if err != nil {
			t.Fatal(err)
		}
		p, err := src.Payload(pos)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(p, e.Payload) {
			t.Fatalf("position %d: payload %s, event %s", pos, p, e.Payload)
		}
	}
	if _, err := src.Payload(301); err == nil {
		t.Fatal("a payload past the log")
	}
	if len(st.view.Load().segs) == 0 {
		t.Fatal("nothing sealed: the test covers only the unsealed part")
	}
}
