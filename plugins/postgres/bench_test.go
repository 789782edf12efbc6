package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/plugins/internal/backendtest"
	"github.com/trovedb/trove/plugins/postgres"
)

// openBench opens the store the shared benchmarks (backendtest) run on.
func openBench(tb testing.TB, dir string) backendtest.Store {
	return newStore(tb, schemaFor(dir))
}

func BenchmarkIngestBatch1000(b *testing.B) { backendtest.BenchIngestBatch1000(b, openBench) }

func BenchmarkSaveEvent(b *testing.B) { backendtest.BenchSaveEvent(b, openBench) }

// BenchmarkConcurrentSaves runs 1 and 64 writers of single events, each
// saving the next event once its last one returned, with small groups
// planned ahead of the head lock (ahead) and with every group planned
// under it (locked); it reports events/s and the p50 and p99 of one save
// in ms.
func BenchmarkConcurrentSaves(b *testing.B) {
	for _, run := range []struct {
		mode    string
		writers int
	}{{"ahead", 64}, {"locked", 64}, {"ahead", 1}, {"locked", 1}} {
		mode, writers := run.mode, run.writers
		b.Run(fmt.Sprintf("%s/writers=%d", mode, writers), func(b *testing.B) {
			s := open(b, schemaFor(b.TempDir()), func(o *postgres.Options) { o.MaxConns = 16 })
			if mode == "locked" {
				postgres.SetLockedOnly(s)
			}
			ctx := context.Background()
			if err := s.Initialize(ctx, nil); err != nil {
				b.Fatal(err)
			}
			defer s.Shutdown(context.Background())
			if _, err := s.SaveEvent(ctx, backendtest.Event(0)); err != nil { // the schema document
				b.Fatal(err)
			}
			var next atomic.Int64
			lat := make([][]time.Duration, writers)
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := next.Add(1)
						if i > int64(b.N) {
							return
						}
						t := time.Now()
						if _, err := s.SaveEvent(ctx, backendtest.Event(int(i))); err != nil {
							b.Error(err)
							return
						}
						lat[w] = append(lat[w], time.Since(t))
					}
				}()
			}
			wg.Wait()
			took := time.Since(start)
			b.StopTimer()
			var all []time.Duration
			for _, l := range lat {
				all = append(all, l...)
			}
			slices.Sort(all)
			b.ReportMetric(float64(b.N)/took.Seconds(), "events/s")
			b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}

func BenchmarkQuery100k(b *testing.B) { backendtest.BenchQuery100k(b, openBench) }

// BenchmarkCommitToSubscriber measures how long an event takes from its
// save returning in one store to its arrival at a subscriber of another
// store on the same database (NOTIFY on, as two troved processes run), and
// reports the p50 and p99 in ms.
func BenchmarkCommitToSubscriber(b *testing.B) {
	ctx := context.Background()
	schema := schemaFor(b.TempDir())
	writer, reader := open(b, schema), open(b, schema)
	for _, s := range []*postgres.Store{writer, reader} {
		if err := s.Initialize(ctx, nil); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Shutdown(context.Background()) })
	}
	arrived := make(chan time.Time, 1)
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go reader.Subscribe(sctx, 0, func(trove.Event) error {
		arrived <- time.Now()
		return nil
	})
	sc := trove.MustSchema(`{"$id":"lat","type":"object"}`)
	var lat []time.Duration
	b.ResetTimer()
	for i := range b.N {
		e, err := trove.Prepare(trove.Event{ID: trove.EventID{ID: fmt.Sprintf("lat-%d", i)}, Schema: sc, Payload: json.RawMessage(`{"n":1}`)}, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := writer.SaveEvent(ctx, e); err != nil {
			b.Fatal(err)
		}
		saved := time.Now()
		select {
		case at := <-arrived:
			lat = append(lat, max(at.Sub(saved), 0)) // it may arrive before SaveEvent returns
		case <-time.After(10 * time.Second):
			b.Fatal("the subscriber of the other store got nothing in 10 s")
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
