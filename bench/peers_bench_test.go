package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// storage-log, pebble and raw tidwall/wal measured side by side,
// interleaved for the reason given in http_bench_test.go: each op saves
// one 1,000-event batch (or, for single saves, a round of 64 writers × 20
// events) to each store in turn, rotating which goes first, and only the
// save calls are timed.
//
//	go test ./bench -run X -bench LogPeers -benchtime 20x
func BenchmarkLogPeers(b *testing.B) {
	names := []string{"storage-log", "pebble", "tidwall/wal"}
	open := func(b *testing.B) []Store { return openPeers(b, names) }
	d := NewDataset(1, 1_000_000)
	ctx := context.Background()
	b.Run("batch", func(b *testing.B) {
		stores := open(b)
		spent := make([]time.Duration, len(stores))
		events := 0
		for i := 0; b.Loop(); i++ {
			items := make([]Item, 1000)
			for k := range items {
				items[k] = d.Item(i*1000 + k)
			}
			batch := newBatch(items)
			for k := range stores {
				s := (i + k) % len(stores)
				t := time.Now()
				if err := stores[s].SaveBatch(ctx, batch); err != nil {
					b.Fatal(err)
				}
				spent[s] += time.Since(t)
			}
			events += len(items)
		}
		reportPeers(b, names, events, spent, nil)
	})
	b.Run("singles64", func(b *testing.B) {
		const writers, perWriter = 64, 20
		stores := open(b)
		spent := make([]time.Duration, len(stores))
		lats := make([][]time.Duration, len(stores))
		events := 0
		for i := 0; b.Loop(); i++ {
			pool := make([]Item, writers*perWriter)
			for k := range pool {
				pool[k] = d.Item(i*len(pool) + k)
				pool[k].Encoded()
			}
			for k := range stores {
				s := (i + k) % len(stores)
				took, got, err := timedRound(writers, perWriter, func(k int) error { return stores[s].Save(ctx, &pool[k]) })
				if err != nil {
					b.Fatal(err)
				}
				spent[s] += took
				lats[s] = append(lats[s], got...)
			}
			events += len(pool)
		}
		reportPeers(b, names, events, spent, lats)
	})
}

func reportPeers(b *testing.B, names []string, events int, spent []time.Duration, lats [][]time.Duration) {
	var sum []string
	for s, n := range names {
		unit := strings.ReplaceAll(n, "/", "-")
		rate := float64(events) / spent[s].Seconds()
		b.ReportMetric(rate, unit+"-events/s")
		line := fmt.Sprintf("%s %.0f events/s (%.2f× storage-log)", n, rate, spent[0].Seconds()/spent[s].Seconds())
		if lats != nil {
			p := percentiles(lats[s])
			line += fmt.Sprintf(" p50 %.2f ms p99 %.2f ms", p.P50Ms, p.P99Ms)
		}
		sum = append(sum, line)
	}
	b.ReportMetric(spent[1].Seconds()/spent[0].Seconds(), "log/pebble")
	b.Log(strings.Join(sum, "; "))
}

// timedRound runs writers goroutines, writer w saving items
// w*perWriter … (w+1)*perWriter-1 in order with save, and returns the
// round's time, every save's latency and the first error.
func timedRound(writers, perWriter int, save func(k int) error) (time.Duration, []time.Duration, error) {
	got := make([][]time.Duration, writers)
	errs := make([]error, writers)
	var wg sync.WaitGroup
	t := time.Now()
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range perWriter {
				st := time.Now()
				if err := save(w*perWriter + n); err != nil {
					errs[w] = err
					return
				}
				got[w] = append(got[w], time.Since(st))
			}
		}()
	}
	wg.Wait()
	took := time.Since(t)
	var all []time.Duration
	for w := range writers {
		if errs[w] != nil {
			return took, nil, errs[w]
		}
		all = append(all, got[w]...)
	}
	return took, all, nil
}

// openPeers opens the named contenders in temporary directories, closed
// when b ends.
func openPeers(b *testing.B, names []string) []Store {
	ctx := context.Background()
	var stores []Store
	for _, n := range names {
		c, ok := findContender(n)
		if !ok {
			b.Fatalf("no contender %q", n)
		}
		st, err := c.Open(ctx, b.TempDir(), quietLog)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close(ctx) })
		stores = append(stores, st)
	}
	return stores
}
