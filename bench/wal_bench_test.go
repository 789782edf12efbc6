package main

import (
	"context"
	"log/slog"
	"testing"
)

// BenchmarkWALPeerBatch drives the tidwall/wal peer exactly as the ingest
// workload does (one SaveBatch of 1,000 entries, one fsync) outside the
// harness, for comparison with segment's BenchmarkRawTidwall: "event" appends
// the dataset's events (about 725 bytes of JSON each), "payload" only their
// payloads (about 300 bytes, the size segment's benchmark uses).
func BenchmarkWALPeerBatch(b *testing.B) {
	const batches = 50
	d := NewDataset(1, batches*1000)
	events := make([]*Batch, batches)
	payloads := make([]*Batch, batches)
	for k := range events {
		items := make([]Item, 1000)
		for i := range items {
			items[i] = d.Item(k*1000 + i)
		}
		events[k] = newBatch(items)
		payloads[k] = &Batch{Enc: make([][]byte, len(items))}
		for i := range items {
			payloads[k].Enc[i] = items[i].Event.Payload
		}
	}
	for _, bc := range []struct {
		name    string
		batches []*Batch
	}{{"event", events}, {"payload", payloads}} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			st, err := walPeer().Open(ctx, b.TempDir(), slog.Default())
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close(ctx)
			var bytes int64
			for _, e := range bc.batches[0].Enc {
				bytes += int64(len(e))
			}
			b.SetBytes(bytes)
			n := 0
			for b.Loop() {
				if err := st.SaveBatch(ctx, bc.batches[n%batches]); err != nil {
					b.Fatal(err)
				}
				n++
			}
			b.ReportMetric(float64(n*1000)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
