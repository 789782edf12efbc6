// Package trove is an embeddable event store: events with a JSON payload
// validated by a JSON Schema, attached files, and typed links to other
// events, kept behind three storage interfaces — EventStorage, FileStorage
// and LinkStorage — that every backend implements the same way.
//
// The package holds the data model (Event, EventID, EventFile, EventLink,
// Schema), the storage interfaces and the optional capabilities a backend may
// offer (Transactional, BatchSaver, Subscriber, Replayer, SchemaStore,
// FileDeleter), the
// sentinel errors (ErrNotFound, ErrConflict, ErrInvalid, ErrClosed,
// ErrCorrupt, ErrLocked), queries (EventQuery, compiled by Compile into a Query that
// backends use to evaluate filters exactly), the plugin registry (Register,
// database/sql style) and the Core, which validates events against their
// schemas, routes each role to its plugin, and takes back the files of a
// request it refuses (FileDeleter):
//
//	import _ "github.com/trovedb/trove/plugins/memory"
//
//	core, err := trove.Open(ctx, trove.Config{Storage: trove.StorageConfig{
//		Events: trove.PluginConfig{Plugin: "storage-memory"},
//	}})
//	ev, err := core.CreateEvent(ctx, trove.Event{
//		Schema:  trove.MustSchema(`{"$id":"note+v1","type":"object"}`),
//		Payload: json.RawMessage(`{"text":"hello"}`),
//	})
//
// Client JSON is checked strictly (CheckJSON: valid UTF-8, paired
// surrogates, no repeated key), numbers are compared exactly whatever
// their size (NumberCompare, CanonicalNumber), and schema references stay
// inside the document, the registry and the bundled metaschemas; Config
// holds the core's limits (SchemaCacheBytes, MaxIdentifierBytes).
//
// This package is a leaf: it imports no backend.
package trove
