package lifecycle

import (
	"fmt"

	"github.com/trovedb/trove"
)

// Mode says whether a store serves calls before Initialize.
type Mode int

const (
	// Strict stores refuse every call before Initialize.
	Strict Mode = iota
	// Lazy stores serve calls before Initialize.
	Lazy
)

// State is a store's life cycle; guarded by the store's lock.
type State struct {
	pkg     string
	mode    Mode
	open    bool          // Initialize succeeded
	closed  bool          // Shutdown was called
	changed chan struct{} // closed and replaced at Notify, closed at Close
}

// New returns the state of a new store of package pkg (it starts error
// texts).
func New(pkg string, mode Mode) State {
	return State{pkg: pkg, mode: mode, changed: make(chan struct{})}
}

// Initializing reports whether Initialize has work to do: false when the
// store is open already, ErrClosed after Close.
func (s *State) Initializing() (bool, error) {
	if s.closed {
		return false, fmt.Errorf("%s: initialize: %w", s.pkg, trove.ErrClosed)
	}
	return !s.open, nil
}

// Opened marks Initialize as done.
func (s *State) Opened() { s.open = true }

// IsOpen reports whether Initialize succeeded (and Close was not called).
func (s *State) IsOpen() bool { return s.open && !s.closed }

// Check returns the error a call of operation op gets now: ErrClosed after
// Close, an error before Initialize (Strict), else nil.
func (s *State) Check(op string) error {
	if s.closed {
		return fmt.Errorf("%s: %s: %w", s.pkg, op, trove.ErrClosed)
	}
	if !s.open && s.mode == Strict {
		return fmt.Errorf("%s: %s: store is not initialized", s.pkg, op)
	}
	return nil
}

// Close marks the store closed and wakes every subscriber for good. It
// reports false when the store was closed already.
func (s *State) Close() bool {
	if s.closed {
		return false
	}
	s.closed = true
	close(s.changed)
	return true
}

// Notify wakes the subscribers: the log grew. No-op after Close.
func (s *State) Notify() {
	if s.closed {
		return
	}
	close(s.changed)
	s.changed = make(chan struct{})
}

// Changed returns the channel closed at the next Notify or at Close.
func (s *State) Changed() <-chan struct{} { return s.changed }
