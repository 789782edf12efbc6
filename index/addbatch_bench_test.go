package index

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkAddBatch adds batches of 1,000 events of the bench harness's
// payload shape (two unique values an event, past the guard after 4,096
// events; the others of a few to a few thousand values) with their terms
// extracted ahead, as the engine's writer does.
func BenchmarkAddBatch(b *testing.B) {
	const per = 1000
	ix := New(Options{})
	defer ix.Close()
	var tw TermWriter
	r := rand.New(rand.NewPCG(1, 2))
	docs := make([]Doc, per)
	pos := uint32(1)
	for b.Loop() {
		b.StopTimer()
		var terms []byte
		for k := range docs {
			i := int(pos) + k
			p := fmt.Sprintf(`{"amount":%d.%02d,"count":%d,"kind":"k%d","message":"m%d","ok":%v,"retries":%d,"seq":%d,"status":"s%d","tags":["a","b"],"traceId":"t-%016x","user":{"name":"n%d","region":"r%d","tier":"t%d"}}`,
				r.IntN(10000), r.IntN(100), r.IntN(50), r.IntN(10), r.IntN(3000), r.IntN(10) > 0, r.IntN(4), i, r.IntN(3), r.Uint64(), r.IntN(12), r.IntN(6), r.IntN(4))
			start := len(terms)
			terms = tw.Append(terms, []byte(p))
			docs[k] = Doc{ID: fmt.Sprintf("id-%d", i), Version: 1, CreatedAt: int64(i), Schema: fmt.Sprintf("s%d", i%10),
				Producer: fmt.Sprintf("p%d", i%100), Payload: []byte(p), Terms: terms[start:], TermsSet: true}
		}
		b.StartTimer()
		if err := ix.AddBatch(pos, docs); err != nil {
			b.Fatal(err)
		}
		pos += per
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*per), "ns/event")
}
