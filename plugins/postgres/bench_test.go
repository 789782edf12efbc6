package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
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
