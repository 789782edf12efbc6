// Package sqlite is the embedded SQL storage backend, registered as
// "storage-sqlite": events, files and links in one SQLite database file. It
// serves all three roles (storage:events, storage:files, storage:links) and
// offers Transactional, BatchSaver, Subscriber, Replayer and
// trove.SchemaStore.
//
// Use it through the core:
//
//	import _ "github.com/trovedb/trove/plugins/sqlite"
//
//	storage:
//	  events: {plugin: storage-sqlite, options: {path: ./data/trove.db}}
//	  files:  {plugin: useEventStorage}
//	  links:  {plugin: useEventStorage}
//
// or directly with New(Options{Path: path}) followed by Initialize.
//
// # Driver
//
// The driver is modernc.org/sqlite: SQLite translated to Go, so the plugin
// builds without cgo and cross-compiles like any Go package — what an
// embeddable library wants. github.com/mattn/go-sqlite3 needs cgo and a C
// toolchain. github.com/ncruces/go-sqlite3 (SQLite compiled to WebAssembly,
// run by wazero) is the other pure-Go choice; measured on the same 2-core
// machine with WAL and synchronous=FULL, 100,000 rows inserted in
// transactions of 1,000, then 20,000 point lookups by (id, version) and a
// json_extract equality scan of all rows:
//
//	driver                  insert          point query   json_extract scan
//	modernc.org/sqlite      206,000 rows/s  17.1 µs       58 ms
//	ncruces/go-sqlite3      190,000 rows/s  15.8 µs       72 ms
//
// They are close; modernc is ahead on writes and JSON scans, needs no
// WebAssembly runtime, and is the most used pure-Go SQLite driver.
//
// # Database
//
// The database is an ordinary SQLite file, readable with the sqlite3 shell
// (sqlite3 trove.db '.schema', 'SELECT id, version, payload FROM events').
// Its tables (the full DDL is in migrations.go and SCHEMA.md):
//
//	schema_migrations   version, name, applied_at: every migration applied
//	schema_docs         each distinct schema document once (by sha256), with its identity
//	events              position (INTEGER PRIMARY KEY = the log position), id, version,
//	                    latest (1 on the id's latest version), created_at (TimeLayout text)
//	                    and created_ms (Unix milliseconds), producer, schema_id, schema_pk, payload, files, links, metadata (JSON text)
//	links               seq (save order), source_id, source_version, type, target_id,
//	                    target_version (0 = latest), metadata, own (saved with the event)
//	registered_schemas  the core's schema registry, in registration order
//	blobs, file_chunks  file bytes in chunks of Options.ChunkSize
//	files               id, content_type, filename, size, hash, blob_pk
//
// Indexes cover every filter and native sort: events by (schema_id,
// position), (producer, position), (created_ms, position), (id, version),
// and the latest versions (a partial index); links by source, by target and
// by (type, target).
//
// Migrations are numbered steps applied in order by Initialize, each in a
// transaction with its schema_migrations row; a database recording a step
// this build does not know is refused.
//
// Check verifies a database: SQLite's integrity and foreign-key checks,
// one latest row per id, versions 1..n, schema documents, and every file's
// chunks against its size and sha256.
//
// # Durability and connections
//
// The journal is WAL and synchronous is FULL: a save is durable when it
// returns. SQLite has a single writer, so the store has one write
// connection (BEGIN IMMEDIATE; a mutex orders writers in the process) and a
// pool of Options.Readers read connections (query_only), which in WAL mode
// read a consistent snapshot without waiting for the writer. Another
// process may open the same file; it waits up to Options.BusyTimeoutMS for
// the write lock. Subscribe wakes at once on commits made through this
// Store and polls every second for those of other processes.
//
// Unlike the directory backends, storage-sqlite does not refuse a second
// process: SQLite's own locking serializes the writers (positions stay
// dense, nothing is lost), and troved serve, import, export and check all
// work beside a running daemon. Each open store holds a shared flock(2) on
// Path-lock; Initialize removes the chunks of uploads a crash interrupted
// only when it gets that lock exclusive, that is when no other store has
// the database open — otherwise it would take an upload another process
// is streaming (large files are stored over several transactions) for a
// leftover. A store that opens while another runs that removal waits for
// it up to half a second and then fails with trove.ErrLocked.
//
// # Queries
//
// QueryEvents compiles the query with trove.EventQuery.Compile and turns
// every filter it can into SQL over the indexes — schema and producer IN
// lists, created_ms bounds, one row-value IN over links per link criterion,
// and per payload term json_extract equality with a bound value of the
// term's type (a TEXT value never equals a number, so the string "1" is not
// the number 1; numbers compare numerically, 1 = 1.0), or json_type for
// true, false and null (null matches only an explicit null). All values, JSON paths included, are bound parameters: a path is
// built as $."key"."key"; a key SQLite's path syntax cannot quote (one with a
// '"', '\' or a control character) is left out of the SQL, as are numbers
// not exactly representable as a double within ±2^53. The payload terms
// apply only where json_valid(payload) holds: SQLite's JSON functions fail
// on a document nested deeper than 1000 levels, so such a row stays a
// candidate instead of failing the query. Every row SQL returns
// is then checked with trove.CompiledQuery.MatchDecoded and the results sorted and
// paged with the same Query, so the answer is exactly the contract's. One
// statement in one read transaction reads the rows. When the query has a
// limit and no sort, or sorts on event columns only (createdAt, producer,
// schema, id, version, position — compared by SQLite exactly as the Query
// compares them, ties by position), the statement has that ORDER BY and
// the first offset matches are dropped as they stream (never held, and
// offset+limit is never computed, so no offset overflows), the next limit
// kept, and reading stops there; otherwise it has none, so
// SQLite picks the most selective index, and Go sorts. search and payload
// sorts are evaluated in Go.
//
// # Files
//
// SaveFile streams the bytes into file_chunks of a new blob, one chunk in
// memory at a time and one statement per chunk, hashing them; a last
// transaction records the files row, or, when the id exists, keeps the
// stored file (same hash) or reports ErrConflict, and drops the new blob.
// Blobs no file refers to (an upload a crash cut short) are removed by
// Initialize. GetFileData reads chunk by chunk and implements io.Seeker.
// DeleteFile (trove.FileDeleter) removes the files row and its blob in one
// transaction; a reader still open then fails at its next chunk.
//
// # Transactions
//
// A trove.Tx stages its events in memory, checking each against the
// database and the events staged before it; Commit writes them all in one
// SQLite transaction after checking them again. No SQLite lock is held
// between Tx calls, so an idle transaction blocks nobody.
//
// # Concurrency
//
// Every method is safe for concurrent use. Returned events are the caller's.
package sqlite
