package segment

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/trovedb/trove"
)

var words = []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
	"juliet", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango"}

// event returns a ~300-byte JSON-like body for position pos: a fixed shape
// with random ids, numbers and words, so that compression figures are not
// flattered by repetition.
func event(pos uint64) []byte {
	r := rand.New(rand.NewPCG(pos, 0x9e3779b97f4a7c15))
	note := make([]byte, 0, 64)
	for i := 0; i < 4+r.IntN(4); i++ {
		note = append(note, words[r.IntN(len(words))]...)
		note = append(note, ' ')
	}
	return fmt.Appendf(nil, `{"id":"%08x-%04x-7%03x-%04x-%012x","schema":"https://example.com/schemas/order/v%d","producer":"svc-%d","createdAt":"2026-11-25T20:%02d:%02d.%03dZ","payload":{"order":%d,"customer":"cust-%05d","amount":%d.%02d,"currency":"EUR","items":[{"sku":"SKU-%04d","qty":%d}],"status":"%s","note":"%s"}}`,
		r.Uint32(), r.Uint32()&0xffff, r.Uint32()&0xfff, r.Uint32()&0xffff, r.Uint64()&0xffffffffffff,
		pos%3+1, r.IntN(20), pos/60%60, pos%60, r.IntN(1000), pos, r.IntN(50000), r.IntN(10000), r.IntN(100),
		r.IntN(10000), r.IntN(9)+1, []string{"new", "paid", "shipped", "delivered"}[r.IntN(4)], note)
}

// batch returns n records with positions from, from+1, …
func batch(from uint64, n int) []Record {
	recs := make([]Record, n)
	for i := range recs {
		p := from + uint64(i)
		recs[i] = Record{Type: byte(1 + p%3), Position: p, Time: 1_764_000_000_000 + int64(p)*37, Body: event(p)}
	}
	return recs
}

func equalRecords(t testing.TB, got, want []Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Type != w.Type || g.Position != w.Position || g.Time != w.Time || !bytes.Equal(g.Body, w.Body) {
			t.Fatalf("record %d: got {%d %d %d %q}, want {%d %d %d %q}", i, g.Type, g.Position, g.Time, g.Body, w.Type, w.Position, w.Time, w.Body)
		}
	}
}

// wantCorrupt asserts err is a *trove.CorruptionError matching ErrCorrupt and
// returns it.
func wantCorrupt(t testing.TB, err error) *trove.CorruptionError {
	t.Helper()
	if !errors.Is(err, trove.ErrCorrupt) {
		t.Fatalf("got %v, want an error matching trove.ErrCorrupt", err)
	}
	var ce *trove.CorruptionError
	if !errors.As(err, &ce) {
		t.Fatalf("got %T %v, want a *trove.CorruptionError", err, err)
	}
	return ce
}
