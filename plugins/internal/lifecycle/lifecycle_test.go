package lifecycle_test

import (
	"errors"
	"testing"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/plugins/internal/lifecycle"
)

func TestLifeCycle(t *testing.T) {
	for _, mode := range []lifecycle.Mode{lifecycle.Strict, lifecycle.Lazy} {
		s := lifecycle.New("test", mode)
		if err := s.Check("get"); (err == nil) != (mode == lifecycle.Lazy) || errors.Is(err, trove.ErrClosed) {
			t.Fatalf("mode %d before Initialize: %v", mode, err)
		}
		if todo, err := s.Initializing(); !todo || err != nil {
			t.Fatalf("first Initialize: %v %v", todo, err)
		}
		s.Opened()
		if todo, err := s.Initializing(); todo || err != nil {
			t.Fatalf("second Initialize: %v %v", todo, err)
		}
		if err := s.Check("get"); err != nil {
			t.Fatalf("open: %v", err)
		}
		ch := s.Changed()
		s.Notify()
		select {
		case <-ch:
		default:
			t.Fatal("Notify did not close the channel")
		}
		ch = s.Changed()
		if !s.Close() || s.Close() {
			t.Fatal("Close: want true once, then false")
		}
		select {
		case <-ch:
		default:
			t.Fatal("Close did not close the channel")
		}
		s.Notify() // no-op, no panic
		if err := s.Check("get"); !errors.Is(err, trove.ErrClosed) {
			t.Fatalf("after Close: %v", err)
		}
		if _, err := s.Initializing(); !errors.Is(err, trove.ErrClosed) {
			t.Fatalf("Initialize after Close: %v", err)
		}
	}
}
