package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// storage-log and hand-tuned SQLite saving files side by side, interleaved
// for the reason given in http_bench_test.go: each op is a round of
// writers × perRound distinct files saved to each store in turn (one
// durable SaveFile per file), rotating which store goes first, and only
// the save calls are timed. The file-save workloads of the report are
// the same calls, one store at a time.
//
//	go test ./bench -run X -bench FilePeers -benchtime 20x
func BenchmarkFilePeers(b *testing.B) {
	names := []string{"storage-log", "sqlite (hand-tuned)"}
	ctx := context.Background()
	for _, sh := range fileSaveShapes {
		b.Run(fmt.Sprintf("%dk/w%d", sh.size>>10, sh.writers), func(b *testing.B) {
			stores := openPeers(b, names)
			perRound := 100
			if sh.writers > 1 {
				perRound = 10
			}
			round := sh.writers * perRound
			spent := make([]time.Duration, len(stores))
			lats := make([][]time.Duration, len(stores))
			files := 0
			for i := 0; b.Loop(); i++ {
				pool := filePool(uint64(i), sh.size, round)
				for k := range pool {
					f := &pool[k].Event.Files[0]
					f.ID = fmt.Sprintf("r%d-%s", i, f.ID) // distinct across rounds
				}
				for k := range stores {
					s := (i + k) % len(stores)
					took, got, err := timedRound(sh.writers, perRound, func(k int) error { return stores[s].SaveFile(ctx, &pool[k]) })
					if err != nil {
						b.Fatal(err)
					}
					spent[s] += took
					lats[s] = append(lats[s], got...)
				}
				files += round
			}
			var sum []string
			for s, n := range names {
				rate := float64(files) / spent[s].Seconds()
				b.ReportMetric(rate, strings.Fields(n)[0]+"-files/s")
				p := percentiles(lats[s]) // sorts lats[s]
				sum = append(sum, fmt.Sprintf("%s %.0f files/s p50 %.2f ms p99 %.2f ms max %.2f ms",
					n, rate, p.P50Ms, p.P99Ms, float64(lats[s][len(lats[s])-1])/1e6))
			}
			b.ReportMetric(spent[1].Seconds()/spent[0].Seconds(), "log/sqlite")
			b.Log(strings.Join(sum, "; "))
		})
	}
}
