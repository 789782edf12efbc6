// Package postgres is the storage-postgres plugin: Trove on PostgreSQL (or
// what speaks its protocol), for events, files and links, with
// transactions, atomic batches, subscriptions, replay and a schema store.
// Several processes on one database are the scale-out deployment: each
// sees every other's writes, in one global order.
//
// # Options
//
// dsn (else the PG* environment variables), schema (default "trove"),
// maxConns, notify ("on" or "off"), pollMs, readDSN, replicaWaitMs,
// chunkSize, retries; see Options (DISTRIBUTED.md: what each is for beyond
// one server). Initialize creates the schema and applies the
// numbered migrations embedded from migrations/*.sql, under an advisory
// lock, recording each in schema_migrations; SCHEMA.md documents every
// table and index.
//
// # Positions
//
// Positions come from a one-row head table locked by every append
// transaction and updated in it, so appends commit one at a time in
// position order: positions are dense, a reader that sees position N sees
// every position below it, and a failed append gives its positions back.
// Saves of one Store are merged into one transaction by a committer
// goroutine (group commit); large groups are written with COPY, small
// ones with one INSERT from column arrays, and the next group's
// transaction begins (waiting on the head lock in the server) while the
// one before commits. A small group is planned before it takes the head
// lock and sent as one batch, so the lock is held for the server's work
// alone; a version another process took meanwhile sends it back to the
// locked path. See append.go and ahead.go.
//
// # Queries
//
// SQL narrows a query with indexes (btree on schema, producer, time and
// id+version; links both ways; payload equality through jsonb containment
// on a jsonb_path_ops GIN index; search through a tsvector of the
// reference analyzer's tokens with a GIN index), and every candidate is
// then evaluated in Go by the compiled trove.CompiledQuery, so results equal the
// reference semantics exactly. Position-ordered queries with a limit read
// candidates in keyset pages; with payload or search terms they first
// walk the log in position windows, read a payload term's matches by
// position buckets (a GIN index whose documents carry their position's
// bucket) when it proves uncommon, and hand over to the GIN index when the
// terms prove rare (walk.go); the next walk of the same filter starts from
// how common the last one found it (rates.go). Candidates are verified as the engine
// verifies its own (query.Matcher). A Store moves the GIN indexes' pending
// lists into them itself once its appends pause, and analyzes its tables
// after a bulk load (pending.go).
//
// # Check
//
// Check verifies a store without changing it: migrations, the head and
// dense positions, versions, every row and its index columns, links,
// schema documents and files (troved check).
//
// # Subscriptions
//
// Catch-up reads the log after the last position delivered; live
// delivery waits for a commit of this Store, a NOTIFY hint from another
// process (carrying only the head position) on a dedicated LISTEN
// connection that reconnects by itself, or the poll tick (pollMs), which
// also serves notify off.
//
// # Replicas
//
// With readDSN, gets, queries, links, file reads, replay and subscription
// catch-up go to a streaming replica once its pg_last_wal_replay_lsn() has
// reached the WAL position of this Store's last commit, or to the primary
// after replicaWaitMs: a Store never answers with less than it
// acknowledged. Appends of other processes reach a subscriber once the
// replica has them (within its lag plus the poll tick).
//
// Every method is safe for concurrent use.
package postgres
