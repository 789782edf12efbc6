package trove

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// withProcs runs the test with GOMAXPROCS at n, so that batches are
// checked by several workers on any machine.
func withProcs(t *testing.T, n int) {
	old := runtime.GOMAXPROCS(n)
	t.Cleanup(func() { runtime.GOMAXPROCS(old) })
}

// wantBatchError checks that err is the error of event i of events,
// exactly as that event alone gets it from CreateEvent.
func wantBatchError(t *testing.T, c *Core, events []Event, err error, i int) {
	t.Helper()
	var be *BatchError
	if !errors.As(err, &be) || be.Index != i {
		t.Fatalf("err = %v, want the error of event %d", err, i)
	}
	_, alone := c.CreateEvent(context.Background(), events[i])
	if alone == nil {
		t.Fatalf("event %d passes alone", i)
	}
	if want := fmt.Sprintf("event %d: %v", i, alone); err.Error() != want {
		t.Fatalf("err = %q, want %q", err, want)
	}
	if errors.Is(alone, ErrInvalid) != errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v: ErrInvalid differs from the event's own error", err)
	}
	var ve, veAlone *ValidationError
	if errors.As(alone, &veAlone) {
		if !errors.As(err, &ve) || !reflect.DeepEqual(ve, veAlone) {
			t.Fatalf("validation error %+v, want %+v", ve, veAlone)
		}
	}
}

// TestCreateEventsReportsFirstFailure: large batches, checked in
// parallel, report the first failing event in batch order with the
// error it gets alone, save nothing, and store no file.
func TestCreateEventsReportsFirstFailure(t *testing.T) {
	withProcs(t, 4)
	c, p := openFake(t)
	ctx := context.Background()
	notObject := json.RawMessage(`[]`)
	noStatus := json.RawMessage(`{"traceId":"t","amount":"x"}`)
	badMeta := json.RawMessage(`{"a":1,"a":2}`)
	for _, tc := range []struct {
		name string
		n    int
		bad  map[int]func(*Event)
		want int
	}{
		{"middle", 1000, map[int]func(*Event){500: func(e *Event) { e.Payload = noStatus }}, 500},
		{"last", 1000, map[int]func(*Event){999: func(e *Event) { e.Payload = noStatus }}, 999},
		{"first", 1000, map[int]func(*Event){0: func(e *Event) { e.Payload = notObject }}, 0},
		{"several", 1000, map[int]func(*Event){
			310: func(e *Event) { e.Metadata = badMeta },
			300: func(e *Event) { e.Payload = noStatus },
			301: func(e *Event) { e.Payload = notObject },
			900: func(e *Event) { e.Payload = notObject },
		}, 300},
		{"chunk edge", 1000, map[int]func(*Event){parallelCheckChunk: func(e *Event) { e.Payload = noStatus }}, parallelCheckChunk},
		{"bad file", 1000, map[int]func(*Event){640: func(e *Event) { e.Files = []EventFile{{ID: "f", Data: "%%%"}} }}, 640},
		{"smallest parallel", parallelCheckMin, map[int]func(*Event){parallelCheckMin - 1: func(e *Event) { e.Payload = noStatus }}, parallelCheckMin - 1},
		{"sequential", parallelCheckMin - 1, map[int]func(*Event){parallelCheckMin - 2: func(e *Event) { e.Payload = noStatus }}, parallelCheckMin - 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			events := benchBatch(tc.n)
			for i, f := range tc.bad {
				f(&events[i])
			}
			// An event with an inline file before the failure.
			events[1].Files = []EventFile{{ID: "f1", Data: "aGVsbG8="}}
			for range 20 {
				before := len(p.events)
				_, err := c.CreateEvents(ctx, events)
				wantBatchError(t, c, events, err, tc.want)
				if len(p.events) != before {
					t.Fatal("a failing batch saved events")
				}
			}
		})
	}
}

// TestCreateEventsParallelSavesInOrder: a large batch, checked in
// parallel, is saved whole, in order, with each event's inline files.
func TestCreateEventsParallelSavesInOrder(t *testing.T) {
	withProcs(t, 4)
	c, p := openFake(t)
	events := benchBatch(1000)
	for i := 0; i < len(events); i += 97 {
		events[i].Files = []EventFile{{ID: fmt.Sprintf("f%d", i), Data: "aGVsbG8="}, {ID: "r", IsReference: true, Data: "s3://b/k"}}
	}
	before := len(p.events)
	out, err := c.CreateEvents(context.Background(), events)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(events) || len(p.events) != before+len(events) {
		t.Fatalf("saved %d events (%d returned), want %d", len(p.events)-before, len(out), len(events))
	}
	for i, e := range out {
		if string(e.Payload) != string(events[i].Payload) {
			t.Fatalf("event %d: payload %s, want %s", i, e.Payload, events[i].Payload)
		}
		if i%97 == 0 {
			if len(e.Files) != 2 || e.Files[0].ID != fmt.Sprintf("f%d", i) || e.Files[0].Size != 5 || e.Files[0].Data != "" || e.Files[1].Data != "s3://b/k" {
				t.Fatalf("event %d: files %+v", i, e.Files)
			}
		} else if len(e.Files) != 0 {
			t.Fatalf("event %d: files %+v", i, e.Files)
		}
	}
}

// TestCreateEventsValidatorPanic: a panic inside the validator, in a
// batch checked in parallel, becomes the error it is for the event alone,
// and the first failing event in batch order is still the one reported.
func TestCreateEventsValidatorPanic(t *testing.T) {
	withProcs(t, 4)
	c, p := openFake(t)
	c.valid.run = func(s *jsonschema.Schema, inst any) error {
		if m, ok := inst.(map[string]any); ok && m["status"] == "boom" {
			panic(fmt.Sprintf("boom at %v", m["traceId"]))
		}
		return s.Validate(inst)
	}
	ctx := context.Background()
	boom := func(n int) json.RawMessage {
		return json.RawMessage(fmt.Sprintf(`{"status":"boom","traceId":"t%d"}`, n))
	}
	events := benchBatch(1000)
	events[400].Payload = boom(400)
	events[800].Payload = boom(800)
	before := len(p.events)
	for range 20 {
		_, err := c.CreateEvents(ctx, events)
		wantBatchError(t, c, events, err, 400)
		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("err = %v, want ErrInvalid", err)
		}
	}
	events[399].Payload = json.RawMessage(`{"traceId":"t"}`)
	for range 20 {
		_, err := c.CreateEvents(ctx, events)
		wantBatchError(t, c, events, err, 399)
	}
	if len(p.events) != before {
		t.Fatal("a failing batch saved events")
	}
}
