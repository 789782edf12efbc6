// Package storagetest is the conformance kit for Trove storage backends.
// Every backend's tests call it in one line:
//
//	func TestConformance(t *testing.T) {
//		storagetest.Run(t, storagetest.Backend{
//			Open: func(t testing.TB, dir string) trove.Plugin { return mybackend.New(dir) },
//			Persistent: true,
//		})
//	}
//
// Run enforces the storage contract (the doc comments of the
// trove package's storage, query, search and event types) on the plugin:
// save defaults and ids, idempotent retries, version conflicts and gaps,
// get, every query filter alone and combined, sorting, paging, invalid
// queries, read-your-writes, files (including one larger than 64 MiB that
// must stream in and out without the heap growing by its size), links,
// transactions, batches, subscriptions, replay, the schema store,
// concurrency, persistence across a reopen and ErrClosed after Shutdown.
// Through a trove.Core over the backend (trove.WithPlugin; a backend that
// serves files only gets a small event storage of the kit's), it checks
// that a refused event or batch leaves no file behind while a file that
// existed before stays (trove.FileDeleter).
// Then a model test saves thousands of random events and compares hundreds
// of random queries with a brute-force evaluator written from the contract
// alone (it does not use trove.CompiledQuery), seeded, the seed printed on failure.
//
// Each subtest runs on a fresh store: a new temporary directory, Open,
// Initialize(ctx, nil), and Shutdown when the subtest ends. What a backend
// does not offer — a role missing from Capabilities, an optional interface
// it does not implement, persistence — is skipped with a message
// "not applicable: <plugin> has no <feature>" (visible with go test -v), and
// Run logs one line saying what was tested and what was not.
//
// The package imports testing and is meant for tests only.
package storagetest
