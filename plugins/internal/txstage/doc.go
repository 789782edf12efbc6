// Package txstage holds the transaction the backends share: a trove.Tx
// that stages events in memory and hands them to its store at Commit.
//
// SaveEvent prepares the event (saveplan.Stage at the store's clock) and
// asks the store to check the staged events with it, changing nothing, so
// a conflict is reported at once; the event is staged only when the check
// passes. Commit hands every staged event to the store, which re-checks
// them and saves all or none. Staged events are visible to nobody before
// Commit, and nothing of the store is held between calls. After Commit or
// Rollback every call but Rollback is ErrClosed.
//
// Errors naming one event are returned as that event's error
// (saveplan.Unbatch). A Tx is safe for concurrent use.
package txstage
