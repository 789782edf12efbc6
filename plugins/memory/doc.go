// Package memory is the reference storage backend, registered as
// "storage-memory": events, files and links held by one process, lost at
// Shutdown. It is the smallest faithful implementation of the storage
// contract and the backend the conformance kit (package storagetest) is
// first proven against; use it in tests, examples and programs that need no
// durability.
//
// Use it through the core:
//
//	import _ "github.com/trovedb/trove/plugins/memory"
//
//	core, err := trove.Open(ctx, trove.Config{Storage: trove.StorageConfig{
//		Events: trove.PluginConfig{Plugin: "storage-memory"},
//	}})
//
// or directly with New(Options{}) followed by Initialize.
//
// A Store serves all three roles (storage:events, storage:files,
// storage:links) and offers every optional capability: Transactional,
// BatchSaver, Subscriber, Replayer and trove.SchemaStore. Its options are
// Options, in JSON {"tempDir": "…"}; {} is fine.
//
// Semantics come from the root package: SaveEvent applies trove.Prepare and
// trove.SameEvent, QueryEvents evaluates the compiled trove.CompiledQuery (Match,
// Sort, Page) over every stored event, so this backend means by a query
// exactly what the contract says.
//
// Memory. Events and links live on the Go heap, one copy of each distinct
// schema document (interned). File bytes do not: SaveFile streams them into
// a private directory created by Initialize under Options.TempDir
// (os.TempDir() by default) and removed by Shutdown, hashing them on the
// way; GetFileData returns an *os.File. So a large file costs disk, not
// heap, and the store's memory stays proportional to its events.
//
// Concurrency. Every method is safe for concurrent use. One RWMutex guards
// the store: saves, SaveLink and commits take it exclusively, reads share
// it. Positions are assigned under the lock, so commit order is position
// order. Subscribe and Replay call their function without the lock held.
// Returned events are deep copies: callers may modify them.
package memory
