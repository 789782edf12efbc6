package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/trovedb/trove"
)

// migration is one versioned step of the database schema. Applied steps are
// recorded in schema_migrations; a step never changes once released: later
// changes are new steps.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations are applied in order by Initialize, each in its own
// transaction together with its schema_migrations row.
var migrations = []migration{{
	version: 1,
	name:    "events, schemas, links, files",
	sql: `
CREATE TABLE schema_docs (
	schema_pk INTEGER PRIMARY KEY,
	hash      TEXT NOT NULL UNIQUE,   -- sha256 hex of doc
	identity  TEXT NOT NULL,          -- "$id", or the reference's "id"
	doc       TEXT NOT NULL           -- the compacted schema document
);

CREATE TABLE events (
	position   INTEGER PRIMARY KEY,   -- the global log position
	id         TEXT    NOT NULL,
	version    INTEGER NOT NULL,
	latest     INTEGER NOT NULL,      -- 1 for the id's latest version, else 0
	created_at TEXT    NOT NULL,      -- YYYY-MM-DDTHH:MM:SS.sssZ, for people
	created_ms INTEGER NOT NULL,      -- the same instant in Unix milliseconds, for queries
	producer   TEXT    NOT NULL,
	schema_id  TEXT    NOT NULL,      -- schema identity, as queried
	schema_pk  INTEGER NOT NULL REFERENCES schema_docs(schema_pk),
	payload    TEXT    NOT NULL,      -- JSON object
	files      TEXT,                  -- JSON array of file metadata, or NULL
	links      TEXT,                  -- JSON array of the links saved with the event, or NULL
	metadata   TEXT,                  -- JSON object, or NULL
	UNIQUE (id, version)
);
CREATE INDEX events_schema   ON events (schema_id, position);
CREATE INDEX events_producer ON events (producer, position);
CREATE INDEX events_created  ON events (created_ms, position);
CREATE INDEX events_latest   ON events (position) WHERE latest = 1;

CREATE TABLE links (
	seq            INTEGER PRIMARY KEY, -- save order
	source_id      TEXT    NOT NULL,
	source_version INTEGER NOT NULL,
	type           TEXT    NOT NULL,
	target_id      TEXT    NOT NULL,
	target_version INTEGER NOT NULL,    -- 0: the target's latest version
	metadata       TEXT,                -- JSON object, or NULL
	own            INTEGER NOT NULL     -- 1: saved with the event, 0: added by SaveLink
);
CREATE INDEX links_source ON links (source_id, source_version, seq);
CREATE INDEX links_target ON links (target_id, seq);
CREATE INDEX links_type   ON links (type, target_id);

CREATE TABLE registered_schemas (
	seq     INTEGER PRIMARY KEY,       -- registration order
	id      TEXT NOT NULL,
	version TEXT NOT NULL,
	doc     TEXT NOT NULL,
	UNIQUE (id, version)
);

CREATE TABLE blobs (
	blob_pk    INTEGER PRIMARY KEY,
	chunk_size INTEGER NOT NULL
);
CREATE TABLE file_chunks (
	blob_pk INTEGER NOT NULL,
	n       INTEGER NOT NULL,          -- chunk number from 0
	data    BLOB    NOT NULL,
	PRIMARY KEY (blob_pk, n)
) WITHOUT ROWID;
CREATE TABLE files (
	id           TEXT PRIMARY KEY,
	content_type TEXT NOT NULL,
	filename     TEXT NOT NULL,
	size         INTEGER NOT NULL,
	hash         TEXT NOT NULL,        -- sha256:<hex>
	blob_pk      INTEGER NOT NULL REFERENCES blobs(blob_pk)
);
`,
}}

// migrate creates schema_migrations when missing and applies every step not
// yet recorded. A database recording a step this code does not know was
// written by a newer Trove and is refused.
func migrate(ctx context.Context, db *sql.DB, now time.Time) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER PRIMARY KEY,
	name       TEXT NOT NULL,
	applied_at TEXT NOT NULL
)`); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	var have int
	if err := db.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	latest := migrations[len(migrations)-1].version
	if have > latest {
		return fmt.Errorf("%w: sqlite: database schema version %d is newer than this build knows (%d)", trove.ErrInvalid, have, latest)
	}
	for _, m := range migrations {
		if m.version <= have {
			continue
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("sqlite: migrate %d: %w", m.version, err)
		}
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			tx.Rollback()
			return fmt.Errorf("sqlite: migrate %d (%s): %w", m.version, m.name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			m.version, m.name, trove.FormatTime(now)); err != nil {
			tx.Rollback()
			return fmt.Errorf("sqlite: migrate %d: %w", m.version, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("sqlite: migrate %d: %w", m.version, err)
		}
	}
	return nil
}
