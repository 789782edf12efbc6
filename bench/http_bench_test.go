package main

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

// The HTTP contenders measured side by side, interleaved so that both
// servers see the same machine: on a shared machine whose load drifts
// over minutes, running troved's handler and the echo server one after
// the other (as the harness runs contenders) can move their ratio by more
// than the difference being measured. Here one client alternates between
// the two servers, batch by batch and round by round, on the dataset's
// events and the harness's bodies:
//
//	go test ./bench -run X -bench HTTP -benchtime 20x
//
// reports troved's and the echo server's events/s and troved's share of
// the echo server's throughput (ratio), the median of that share op by op
// (ratio-median: steadier than ratio when the machine's load changes
// within the run), and for single saves the p50 and p99 of each.

// openHTTPPair opens the troved and echo contenders (minimal or not).
func openHTTPPair(b *testing.B, minimal bool) (troved, echo *httpStore) {
	b.Helper()
	ctx := context.Background()
	suffix := ""
	if minimal {
		suffix = " minimal"
	}
	open := func(name string) *httpStore {
		c, ok := findContender(name + suffix)
		if !ok {
			b.Fatalf("no contender %q", name+suffix)
		}
		st, err := c.Open(ctx, b.TempDir(), quietLog)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close(ctx) })
		return st.(*httpStore)
	}
	return open("http troved"), open("http echo")
}

// BenchmarkHTTPBatch posts 1,000-event batches, alternately to troved and
// to the echo server (which one goes first alternates too); one op is a
// batch to each.
func BenchmarkHTTPBatch(b *testing.B) {
	for _, minimal := range []bool{false, true} {
		name := "full"
		if minimal {
			name = "minimal"
		}
		b.Run(name, func(b *testing.B) {
			troved, echo := openHTTPPair(b, minimal)
			d := NewDataset(1, 1_000_000)
			ctx := context.Background()
			var (
				spent  [2]time.Duration
				shares opShares
			)
			stores := [2]*httpStore{troved, echo}
			events := 0
			for i := 0; b.Loop(); i++ {
				items := make([]Item, 1000)
				for k := range items {
					items[k] = d.Item(i*1000 + k)
				}
				batch := newBatch(items)
				troved.PrepareBatch(batch)
				var took [2]time.Duration
				for k := range 2 {
					s := (i + k) % 2
					t := time.Now()
					if err := stores[s].SaveBatch(ctx, batch); err != nil {
						b.Fatal(err)
					}
					took[s] = time.Since(t)
					spent[s] += took[s]
				}
				shares.add(took)
				events += len(items)
			}
			reportPair(b, float64(events)/spent[0].Seconds(), float64(events)/spent[1].Seconds(), shares)
		})
	}
}

// BenchmarkHTTPSingles64 has 64 clients save one event per call, in
// rounds of 64 × 20 saves to one server then the same to the other
// (alternating which goes first); one op is a round to each.
func BenchmarkHTTPSingles64(b *testing.B) {
	const writers, perWriter = 64, 20
	troved, echo := openHTTPPair(b, false)
	stores := [2]*httpStore{troved, echo}
	d := NewDataset(1, 1_000_000)
	ctx := context.Background()
	var (
		spent  [2]time.Duration
		lats   [2][]time.Duration
		shares opShares
	)
	events := 0
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		pool := make([]Item, writers*perWriter)
		for k := range pool {
			pool[k] = d.Item(i*len(pool) + k)
			troved.PrepareItem(&pool[k])
		}
		b.StartTimer()
		var took [2]time.Duration
		for k := range 2 {
			s := (i + k) % 2
			t, got, err := timedRound(writers, perWriter, func(k int) error { return stores[s].Save(ctx, &pool[k]) })
			if err != nil {
				b.Fatal(err)
			}
			took[s] = t
			spent[s] += t
			lats[s] = append(lats[s], got...)
		}
		shares.add(took)
		events += len(pool)
	}
	reportPair(b, float64(events)/spent[0].Seconds(), float64(events)/spent[1].Seconds(), shares)
	pt, pe := percentiles(lats[0]), percentiles(lats[1])
	b.ReportMetric(pt.P50Ms, "troved-p50-ms")
	b.ReportMetric(pt.P99Ms, "troved-p99-ms")
	b.ReportMetric(pe.P50Ms, "echo-p50-ms")
	b.ReportMetric(pe.P99Ms, "echo-p99-ms")
	b.ReportMetric(pt.P99Ms/pe.P99Ms, "p99-ratio")
}

func reportPair(b *testing.B, troved, echo float64, shares opShares) {
	b.ReportMetric(troved, "troved-events/s")
	b.ReportMetric(echo, "echo-events/s")
	b.ReportMetric(troved/echo, "ratio")
	b.ReportMetric(shares.median(), "ratio-median")
	b.Log(fmt.Sprintf("troved %.0f events/s, echo %.0f events/s, ratio %.2f, op by op %.2f to %.2f (median %.2f)",
		troved, echo, troved/echo, slices.Min(shares), slices.Max(shares), shares.median()))
}

// opShares are troved's shares of the echo server's throughput op by op:
// each op sends the same events to both, so the share is the echo
// server's time over troved's.
type opShares []float64

// add records the op whose times were took[0] (troved) and took[1] (echo).
func (s *opShares) add(took [2]time.Duration) {
	*s = append(*s, took[1].Seconds()/took[0].Seconds())
}

// median is the middle share (the mean of the middle two of an even
// count).
func (s opShares) median() float64 {
	if len(s) == 0 {
		return 0
	}
	v := slices.Sorted(slices.Values(s))
	if n := len(v); n%2 == 0 {
		return (v[n/2-1] + v[n/2]) / 2
	}
	return v[len(v)/2]
}
