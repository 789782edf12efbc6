package saveplan_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/plugins/internal/saveplan"
)

var schema = trove.MustSchema(`{"$id":"t+v1","type":"object"}`)

// log holds stored versions per id; Append numbers new events.
type log struct {
	stored map[string][]trove.Event
	last   uint64
}

func (l *log) Latest(_ context.Context, id string) (int, error) { return len(l.stored[id]), nil }
func (l *log) Stored(_ context.Context, id trove.EventID) (trove.Event, error) {
	return l.stored[id.ID][id.Version-1], nil
}
func (l *log) Append(context.Context, trove.Event) (uint64, error) { l.last++; return l.last, nil }

func ev(id string, version int, payload string) trove.Event {
	return trove.Event{ID: trove.EventID{ID: id, Version: version}, Schema: schema, Payload: json.RawMessage(payload)}
}

func TestPlan(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	stored, err := saveplan.StageAll([]trove.Event{ev("a", 1, `{"x":1}`)}, now)
	if err != nil {
		t.Fatal(err)
	}
	a1 := stored[0].Event
	a1.Position = 1
	cases := []struct {
		name      string
		batch     []trove.Event
		fresh     int   // new events
		failAt    int   // index of the failing event, -1 none
		wantErr   error // with failAt
		positions []uint64
	}{
		{"new id", []trove.Event{ev("b", 0, `{}`)}, 1, -1, nil, []uint64{2}},
		{"retry of stored", []trove.Event{ev("a", 1, `{"x":1}`)}, 0, -1, nil, []uint64{1}},
		{"stored with other content", []trove.Event{ev("a", 1, `{"x":2}`)}, 0, 0, trove.ErrConflict, nil},
		{"next version", []trove.Event{ev("a", 2, `{"x":2}`)}, 1, -1, nil, []uint64{2}},
		{"skipped version", []trove.Event{ev("a", 3, `{}`)}, 0, 0, trove.ErrConflict, nil},
		{"twice in batch", []trove.Event{ev("b", 1, `{}`), ev("b", 1, `{}`)}, 1, -1, nil, []uint64{2, 2}},
		{"twice in batch, other content", []trove.Event{ev("b", 1, `{}`), ev("b", 1, `{"y":1}`)}, 0, 1, trove.ErrConflict, nil},
		{"versions in batch", []trove.Event{ev("a", 2, `{}`), ev("a", 3, `{}`), ev("c", 0, `{}`)}, 3, -1, nil, []uint64{2, 3, 4}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, err := saveplan.StageAll(c.batch, now)
			if err != nil {
				t.Fatal(err)
			}
			out, fresh, err := saveplan.Plan(context.Background(), "test", st, &log{stored: map[string][]trove.Event{"a": {a1}}, last: 1})
			if c.failAt >= 0 {
				var be *trove.BatchError
				if !errors.As(err, &be) || be.Index != c.failAt || !errors.Is(err, c.wantErr) {
					t.Fatalf("got %v, want a BatchError at %d wrapping %v", err, c.failAt, c.wantErr)
				}
				if !errors.Is(saveplan.Unbatch(err), c.wantErr) {
					t.Fatalf("Unbatch lost the error: %v", saveplan.Unbatch(err))
				}
				return
			}
			if err != nil || len(fresh) != c.fresh {
				t.Fatalf("got %d new (%v), want %d", len(fresh), err, c.fresh)
			}
			for i, e := range out {
				if e.Position != c.positions[i] {
					t.Fatalf("event %d: position %d, want %d", i, e.Position, c.positions[i])
				}
			}
		})
	}
}

func TestStageAllNamesTheBadEvent(t *testing.T) {
	_, err := saveplan.StageAll([]trove.Event{ev("a", 0, `{}`), ev("b", -1, `{}`)}, time.Now())
	var be *trove.BatchError
	if !errors.As(err, &be) || be.Index != 1 || !errors.Is(err, trove.ErrInvalid) {
		t.Fatalf("got %v, want a BatchError at 1 wrapping ErrInvalid", err)
	}
}

func TestPickVersion(t *testing.T) {
	vs := []string{"v1", "v2", "v3"}
	cases := []struct {
		version int
		want    string
		ok      bool
	}{{0, "v3", true}, {1, "v1", true}, {3, "v3", true}, {4, "", false}, {-1, "", false}}
	for _, c := range cases {
		got, ok := saveplan.PickVersion(vs, trove.EventID{ID: "x", Version: c.version})
		if got != c.want || ok != c.ok {
			t.Errorf("version %d: %q %v, want %q %v", c.version, got, ok, c.want, c.ok)
		}
	}
	if _, ok := saveplan.PickVersion([]string(nil), trove.EventID{ID: "x"}); ok {
		t.Error("no versions: found one")
	}
}

// SaveAll commits the staged events at the instant now gives; a bad event
// or a context already done commits nothing.
func TestSaveAll(t *testing.T) {
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	var committed []saveplan.Staged
	commit := func(_ context.Context, st []saveplan.Staged) ([]trove.Event, error) {
		committed = st
		out := make([]trove.Event, len(st))
		for i := range st {
			out[i] = st[i].Event
		}
		return out, nil
	}
	out, err := saveplan.SaveAll(context.Background(), []trove.Event{ev("a", 0, `{}`), ev("b", 0, `{}`)}, func() time.Time { return at }, commit)
	if err != nil || len(out) != 2 || len(committed) != 2 || !out[1].CreatedAt.Equal(at) || out[1].ID.ID != "b" {
		t.Fatalf("SaveAll: %+v, %v", out, err)
	}
	committed = nil
	_, err = saveplan.SaveAll(context.Background(), []trove.Event{ev("a", 0, `{}`), ev("b", -1, `{}`)}, time.Now, commit)
	var be *trove.BatchError
	if !errors.As(err, &be) || be.Index != 1 || committed != nil {
		t.Fatalf("bad event: %v (committed %d)", err, len(committed))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := saveplan.SaveAll(ctx, []trove.Event{ev("a", 0, `{}`)}, time.Now, commit); !errors.Is(err, context.Canceled) || committed != nil {
		t.Fatalf("done context: %v (committed %d)", err, len(committed))
	}
}
