package backendtest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/trovedb/trove"
)

// BenchEvents is the number of events the query benchmarks run over.
const BenchEvents = 100_000

var benchSchemas = func() []trove.Schema {
	out := make([]trove.Schema, 10)
	for i := range out {
		out[i] = trove.MustSchema(fmt.Sprintf(`{"$id":"bench.s%d+v1","type":"object"}`, i))
	}
	return out
}()

// Event is event i of the benchmark data: 10 schemas, 5 producers, a
// payload with 7 statuses, one createdAt per second.
func Event(i int) trove.Event {
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	return trove.Event{
		ID:        trove.EventID{ID: fmt.Sprintf("ev-%08d", i)},
		CreatedAt: base.Add(time.Duration(i) * time.Second),
		Producer:  fmt.Sprintf("p%d", i%5),
		Schema:    benchSchemas[i%10],
		Payload:   json.RawMessage(fmt.Sprintf(`{"n":%d,"status":"s%d","title":"document %d","author":{"name":"author %d"}}`, i, i%7, i, i%100)),
	}
}

// BenchIngestBatch1000 saves batches of 1000 events.
func BenchIngestBatch1000(b *testing.B, open Opener) {
	s := open(b, b.TempDir())
	ctx := context.Background()
	next := 0
	b.ResetTimer()
	for range b.N {
		batch := make([]trove.Event, 1000)
		for j := range batch {
			batch[j] = Event(next)
			next++
		}
		if _, err := s.SaveEvents(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(next)/b.Elapsed().Seconds(), "events/s")
}

// BenchSaveEvent saves one event at a time.
func BenchSaveEvent(b *testing.B, open Opener) {
	s := open(b, b.TempDir())
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.SaveEvent(ctx, Event(i)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchQuery100k ingests BenchEvents events, reopens the store and runs
// BenchQueries on it.
func BenchQuery100k(b *testing.B, open Opener) {
	dir := b.TempDir()
	s := open(b, dir)
	ctx := context.Background()
	start := time.Now()
	for i := 0; i < BenchEvents; i += 5000 {
		batch := make([]trove.Event, 5000)
		for j := range batch {
			batch[j] = Event(i + j)
		}
		if _, err := s.SaveEvents(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("ingested %d events in %v", BenchEvents, time.Since(start))
	s.Shutdown(ctx)
	start = time.Now()
	s = open(b, dir)
	b.Logf("reopened in %v", time.Since(start))
	BenchQueries(b, s)
}

// BenchQueries runs the query sub-benchmarks over a store holding the
// first BenchEvents events.
func BenchQueries(b *testing.B, s trove.EventStorage) {
	ctx := context.Background()
	queries := []struct {
		name string
		q    trove.EventQuery
	}{
		{"Schema/limit100", trove.EventQuery{Schema: []string{"bench.s3+v1"}, Limit: trove.Limit(100)}},
		{"Schema/all", trove.EventQuery{Schema: []string{"bench.s3+v1"}}},
		{"SchemaProducer/all", trove.EventQuery{Schema: []string{"bench.s3+v1"}, Producer: []string{"p3"}}},
		{"Payload/limit100", trove.EventQuery{Payload: map[string]any{"status": "s4"}, Limit: trove.Limit(100)}},
		{"SchemaPayload/all", trove.EventQuery{Schema: []string{"bench.s3+v1"}, Payload: map[string]any{"author.name": "author 13"}}},
		{"TimeRange/1h", trove.EventQuery{TimeRange: &trove.TimeRange{Start: "2025-01-01T10:00:00Z", End: "2025-01-01T10:59:59.999Z"}}},
		{"SortCreatedAtDesc/limit10", trove.EventQuery{Schema: []string{"bench.s3+v1"}, Sort: []trove.SortField{{Field: "createdAt", Direction: "desc"}}, Limit: trove.Limit(10)}},
	}
	for _, q := range queries {
		b.Run(q.name, func(b *testing.B) {
			n := 0
			for range b.N {
				out, err := s.QueryEvents(ctx, q.q)
				if err != nil {
					b.Fatal(err)
				}
				n = len(out)
			}
			b.ReportMetric(float64(n), "results")
		})
	}
	b.Run("GetEvent", func(b *testing.B) {
		for i := range b.N {
			if _, err := s.GetEvent(ctx, trove.EventID{ID: fmt.Sprintf("ev-%08d", (i*7919)%BenchEvents)}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
