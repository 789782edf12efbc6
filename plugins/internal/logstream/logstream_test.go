package logstream_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/plugins/internal/logstream"
)

// memLog is a log whose pages hold at most 3 events.
type memLog struct {
	mu      sync.Mutex
	events  []trove.Event
	closed  bool
	changed chan struct{}
}

func newLog() *memLog { return &memLog{changed: make(chan struct{})} }

func (l *memLog) append(n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for range n {
		l.events = append(l.events, trove.Event{Position: uint64(len(l.events) + 1)})
	}
	close(l.changed)
	l.changed = make(chan struct{})
}

func (l *memLog) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	close(l.changed)
}

func (l *memLog) page(_ context.Context, from, end uint64) ([]trove.Event, <-chan struct{}, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, nil, fmt.Errorf("test: %w", trove.ErrClosed)
	}
	var out []trove.Event
	for _, e := range l.events {
		if e.Position > from && len(out) < 3 && (end == 0 || e.Position <= end) {
			out = append(out, e)
		}
	}
	return out, l.changed, nil
}

func TestSubscribeCatchUpThenLiveThenClosed(t *testing.T) {
	l := newLog()
	l.append(5)
	var got []uint64
	seen := make(chan uint64, 100)
	done := make(chan error)
	go func() {
		done <- logstream.Subscribe(context.Background(), 1, 0, l.page, func(e trove.Event) error {
			got = append(got, e.Position)
			seen <- e.Position
			return nil
		})
	}()
	for p := range seen {
		if p == 5 {
			break
		}
	}
	l.append(4)
	for p := range seen {
		if p == 9 {
			break
		}
	}
	l.close()
	if err := <-done; !errors.Is(err, trove.ErrClosed) {
		t.Fatalf("after close: %v, want ErrClosed", err)
	}
	if fmt.Sprint(got) != "[2 3 4 5 6 7 8 9]" {
		t.Fatalf("delivered %v, want 2..9 once each", got)
	}
}

func TestSubscribeStops(t *testing.T) {
	l := newLog()
	l.append(4)
	stop := errors.New("stop")
	n := 0
	err := logstream.Subscribe(context.Background(), 0, 0, l.page, func(e trove.Event) error {
		if n++; n == 2 {
			return stop
		}
		return nil
	})
	if err != stop || n != 2 {
		t.Fatalf("fn's error: got %v after %d events", err, n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := logstream.Subscribe(ctx, 4, 0, l.page, func(trove.Event) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: got %v", err)
	}
}

func TestReplayStopsAtEnd(t *testing.T) {
	l := newLog()
	l.append(10)
	for _, c := range []struct {
		from, end uint64
		want      string
	}{
		{0, 7, "[1 2 3 4 5 6 7]"},
		{3, 10, "[4 5 6 7 8 9 10]"},
		{7, 7, "[]"},
		{0, 0, "[]"},
	} {
		got := []uint64{}
		err := logstream.Replay(context.Background(), c.from, c.end, l.page, func(e trove.Event) error {
			got = append(got, e.Position)
			return nil
		})
		if err != nil || fmt.Sprint(got) != c.want {
			t.Errorf("Replay(%d, %d) = %v (%v), want %s", c.from, c.end, got, err, c.want)
		}
	}
}
