package trove

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// benchBatch builds n events over ten schemas shaped like the bench
// dataset's: each schema checks three properties of a payload of about
// a dozen.
func benchBatch(n int) []Event {
	schemas := make([]Schema, 10)
	for i := range schemas {
		schemas[i] = MustSchema(fmt.Sprintf(`{"$id":"bench.s%d+v1.0.0","type":"object","required":["status","traceId"],`+
			`"properties":{"status":{"type":"string"},"traceId":{"type":"string"},"amount":{"type":"number"}}}`, i))
	}
	words := strings.Fields("alpha beta gamma delta storage log write read index query segment payload schema version")
	r := rand.New(rand.NewPCG(1, 2))
	events := make([]Event, n)
	for i := range events {
		var msg []string
		for range 6 + r.IntN(9) {
			msg = append(msg, words[r.IntN(len(words))])
		}
		p, err := json.Marshal(map[string]any{
			"status": []string{"ok", "pending", "failed"}[r.IntN(3)], "traceId": fmt.Sprintf("%032x", r.Uint64()),
			"seq": i, "amount": float64(r.IntN(1_000_000)) / 100, "count": r.IntN(50),
			"user":    map[string]any{"name": "ada", "region": "eu-west", "tier": "gold"},
			"tags":    []string{words[r.IntN(len(words))], words[r.IntN(len(words))]},
			"message": strings.Join(msg, " "), "kind": "bench", "retries": r.IntN(4), "ok": r.IntN(10) > 0,
		})
		if err != nil {
			panic(err)
		}
		events[i] = Event{
			Producer: fmt.Sprintf("producer-%d", r.IntN(8)),
			Schema:   schemas[r.IntN(len(schemas))],
			Payload:  p,
			Metadata: json.RawMessage(fmt.Sprintf(`{"ip":"10.0.0.%d","agent":"bench/1"}`, r.IntN(256))),
		}
	}
	return events
}

// BenchmarkValidateEvent validates one event at a time (schemas cached).
func BenchmarkValidateEvent(b *testing.B) {
	c, _ := openFakeWithB(b)
	events := benchBatch(1000)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := c.ValidateEvent(events[i%len(events)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCreateEvents1000 saves 1,000-event batches to the in-memory
// fake storage (emptied between batches); one op is a batch.
func BenchmarkCreateEvents1000(b *testing.B) {
	c, p := openFakeWithB(b)
	events := benchBatch(1000)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.CreateEvents(ctx, events); err != nil {
			b.Fatal(err)
		}
		p.mu.Lock()
		p.events = p.events[:0]
		p.mu.Unlock()
	}
	b.ReportMetric(float64(b.N*len(events))/b.Elapsed().Seconds(), "events/s")
}

func openFakeWithB(b *testing.B) (*Core, *fakePlugin) {
	registerFakes()
	fakeMade = nil
	c, err := Open(context.Background(), Config{Storage: StorageConfig{Events: PluginConfig{Plugin: "fake-events", Options: json.RawMessage(`{"name":"E"}`)}}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Shutdown(context.Background()) })
	return c, fakeMade[0]
}
