package main

import (
	"context"
	"fmt"
	"os"
)

// openCtx opens name for reading, as os.Open does, but returns when ctx
// ends first (SIGINT, SIGTERM): opening a named pipe blocks until a
// writer opens its other end, and a signal must end the command also
// then. A file that opens after ctx ended is closed.
func openCtx(ctx context.Context, name string) (*os.File, error) {
	type opened struct {
		f   *os.File
		err error
	}
	done := make(chan opened, 1)
	go func() {
		f, err := os.Open(name)
		done <- opened{f, err}
	}()
	select {
	case o := <-done:
		return o.f, o.err
	case <-ctx.Done():
		go func() {
			if o := <-done; o.f != nil {
				o.f.Close()
			}
		}()
		return nil, fmt.Errorf("interrupted while opening %s: %w", name, ctx.Err())
	}
}
