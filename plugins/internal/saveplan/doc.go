// Package saveplan holds the save path the backends share: staging events
// (trove.Prepare at one instant) and planning a batch against what is
// stored — the version checks and idempotent retries documented on trove.EventStorage.SaveEvent (storage.go).
//
// Plan walks a batch in order and applies the version rule the engine
// applies too (trove.ClassifyVersion, with its conflict errors). For each
// event (id, version):
//   - version ≤ the latest stored: it must equal the stored version
//     (trove.SameEvent, createdAt compared only when the caller set it); it
//     is then a retry and its result is the stored event, else ErrConflict;
//   - version ≤ the latest counting the new versions earlier in the batch:
//     likewise against that earlier event;
//   - version = latest + 1: a new version; the Log's Append gives it its
//     position;
//   - anything else: ErrConflict (optimistic concurrency).
//
// Errors naming one event are a *trove.BatchError with its index; Unbatch
// gives the error a single-event call returns, and SaveOne is SaveEvent for
// a backend whose single save is a batch of one.
//
// The backend decides what Append does: record the event for a write after
// the plan (memory, jsonfile: nothing changes unless the whole batch
// passes), write it inside a transaction that a failure rolls back
// (sqlite), or nothing at all when only checking (transactions staging an
// event). Plan itself keeps no state and takes no lock; the caller holds
// whatever keeps the Log still while it runs.
package saveplan
