package engine

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trovedb/trove"
)

// TestSealBackpressure holds the first seal on its goroutine and checks
// that appends stop once the unsealed part reaches twice SegmentSize (the
// writer waits for the seal), then resume when the seal completes, with
// every event saved.
func TestSealBackpressure(t *testing.T) {
	const segSize = 16 << 10
	st := openStore(t, t.TempDir(), Options{SegmentSize: segSize, BlockSize: 1 << 10, SearchIndex: "off"})
	held := make(chan struct{})
	release := make(chan struct{})
	var releaseOnce sync.Once
	unhold := func() { releaseOnce.Do(func() { close(release) }) }
	defer st.Close()
	defer unhold() // before Close, which waits for the seal
	var once sync.Once
	st.hook = func(p string) {
		if p == "seal:writing" {
			once.Do(func() {
				close(held)
				<-release
			})
		}
	}
	const total, per = 4000, 10
	var acked atomic.Int64
	saved := make(chan error, 1)
	go func() {
		for i := 0; i < total; i += per {
			evs := make([]trove.Event, 0, per)
			for j := i; j < i+per; j++ {
				evs = append(evs, testEvent(j))
			}
			if _, err := st.SaveEvents(context.Background(), evs); err != nil {
				saved <- err
				return
			}
			acked.Add(per)
		}
		saved <- nil
	}()
	<-held
	for st.Stats()["seal_waits"] == 0 {
		select {
		case err := <-saved:
			t.Fatalf("all %d events were saved while the seal was held (err %v): no backpressure", total, err)
		default:
			time.Sleep(time.Millisecond)
		}
	}
	// The writer waits now: nothing more is committed until the seal goes
	// on. (The writer published its last group before it began to wait;
	// the saver may not have counted that group's answer yet, so the
	// store's last position is compared, not the answers.)
	stalled := int64(st.Last())
	time.Sleep(50 * time.Millisecond)
	if got := int64(st.Last()); got != stalled || got >= total || acked.Load() > got {
		t.Fatalf("%d events committed while the writer should wait (%d when it began to, %d answered)", got, stalled, acked.Load())
	}
	// At most the held seal's segment plus two more are unsealed.
	if size := stalled * int64(len(testEvent(0).Payload)); size > 3*segSize {
		t.Fatalf("%d events (%d payload bytes) acknowledged before the writer waited; want at most about %d bytes", stalled, size, 3*segSize)
	}
	unhold()
	if err := <-saved; err != nil {
		t.Fatal(err)
	}
	checkEvents(t, st, total)
}
