-- The whole schema of storage-postgres, version 1. SCHEMA.md describes
-- every table and index.

-- The global log head: one row, the last position given out. Every append
-- transaction locks it first (SELECT ... FOR UPDATE) and moves it, so
-- appends commit one at a time, positions are dense, and a rollback gives
-- its positions back.
CREATE TABLE head (
	id       integer PRIMARY KEY CHECK (id = 1),
	position bigint  NOT NULL
);
INSERT INTO head (id, position) VALUES (1, 0);

CREATE TABLE schema_docs (
	schema_pk bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	hash      text NOT NULL UNIQUE,   -- sha256 hex of doc
	identity  text NOT NULL,          -- "$id", or the reference's "id"
	doc       text NOT NULL           -- the compacted schema document
);

CREATE TABLE events (
	position      bigint   PRIMARY KEY,  -- the global log position, from head
	id            text     NOT NULL,
	version       integer  NOT NULL,
	latest        boolean  NOT NULL,     -- the id's latest version
	created_ms    bigint   NOT NULL,     -- createdAt in Unix milliseconds
	producer      text     NOT NULL,
	schema_id     text     NOT NULL,     -- schema identity, as queried
	schema_pk     bigint   NOT NULL,     -- the schema_docs row (written first, never deleted)
	payload       text     NOT NULL,     -- the JSON object as saved
	payload_jsonb jsonb,                 -- the same for indexing; NULL when jsonb cannot hold it
	search_text   text,                  -- the payload's search tokens, space-separated; NULL when too large
	search_tsv    tsvector GENERATED ALWAYS AS (array_to_tsvector(string_to_array(search_text, ' '))) STORED,
	files         text,                  -- JSON array of file metadata, or NULL
	links         text,                  -- JSON array of the links saved with the event, or NULL
	metadata      text,                  -- JSON object, or NULL
	UNIQUE (id, version)
);
CREATE INDEX events_schema   ON events (schema_id, position);
CREATE INDEX events_producer ON events (producer, position);
CREATE INDEX events_created  ON events (created_ms, position);
CREATE INDEX events_payload  ON events USING gin (payload_jsonb jsonb_path_ops);
CREATE INDEX events_payload_unindexed ON events (position) WHERE payload_jsonb IS NULL;
CREATE INDEX events_search   ON events USING gin (search_tsv);
CREATE INDEX events_search_unindexed ON events (position) WHERE search_tsv IS NULL;

CREATE TABLE links (
	seq            bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- save order
	source_id      text    NOT NULL,
	source_version integer NOT NULL,
	type           text    NOT NULL,
	target_id      text    NOT NULL,
	target_version integer NOT NULL,     -- 0: the target's latest version
	metadata       text,                 -- JSON object, or NULL
	own            boolean NOT NULL      -- saved with the event (in events.links)
);
CREATE INDEX links_source ON links (source_id, source_version, seq);
CREATE INDEX links_target ON links (target_id, seq);
CREATE INDEX links_type   ON links (type, target_id);

CREATE TABLE registered_schemas (
	seq     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- registration order
	id      text NOT NULL,
	version text NOT NULL,
	doc     text NOT NULL,
	UNIQUE (id, version)
);

CREATE TABLE files (
	id           text PRIMARY KEY,
	content_type text   NOT NULL,
	filename     text   NOT NULL,
	size         bigint NOT NULL,
	hash         text   NOT NULL,        -- sha256:<hex>
	chunk_size   integer NOT NULL
);
CREATE TABLE file_chunks (
	file_id text    NOT NULL REFERENCES files (id),
	n       integer NOT NULL,            -- chunk number from 0
	data    bytea   NOT NULL,
	PRIMARY KEY (file_id, n)
);
