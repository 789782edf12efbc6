// Package lifecycle holds the open/closed life cycle the storage plugins
// share, and the signal that wakes subscribers when the log grows.
//
// A State lives inside the store's lock-guarded fields; every method is
// called with that lock held (write lock for Initializing, Opened, Notify
// and Close; read lock is enough for Check and Changed). The life cycle:
//
//   - New: not open. Initializing tells Initialize whether to do its work:
//     after Close it is ErrClosed, once open there is nothing to do (a
//     second Initialize is a no-op). Opened marks success.
//   - Check gates every other call: ErrClosed after Close (the error names
//     the operation); before Opened, an error saying the store is not
//     initialized — unless the State was made with Lazy, for a store that
//     serves calls without Initialize (storage-memory keeps its events on
//     the heap and needs Initialize only for file bytes).
//   - Close is Shutdown's: it reports whether this is the first call (a
//     second Shutdown is a no-op) and closes the change signal for good, so
//     every waiting subscriber wakes, reads again and meets ErrClosed.
//
// Changed returns the channel closed at the next Notify (a commit) or at
// Close; take it no later than reading the log (see logstream).
package lifecycle
