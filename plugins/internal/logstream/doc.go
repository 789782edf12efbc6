// Package logstream holds the subscription and replay loops the backends
// share, over a log read in pages by position.
//
// A backend supplies a Pager: a function that reads the next page of
// committed events after a position, in position order, and for Subscribe
// also a channel that is closed when the log grows or the store closes.
// The channel must be taken no later than the page is read (under the same
// lock, or before the read), so a commit in between is never missed.
//
// Subscribe delivers every event after from exactly once, in position
// order: first the catch-up, then each commit as it lands, with no gap and
// no duplicate, because each page starts after the last position
// delivered. It returns when ctx is done (ctx's error), when fn fails (that
// error), or when the pager fails — ErrClosed once the store has shut down.
// An error met while ctx is done is reported as ctx's error. A backend
// whose log can also grow without its signal (another process on the same
// database) sets a poll interval; 0 waits for the signal alone.
//
// Replay delivers the events after from up to end, the last position
// committed when it was called, and returns.
//
// fn always runs with no lock held, so it may call the store.
package logstream
