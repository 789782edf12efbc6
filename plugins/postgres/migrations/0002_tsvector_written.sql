-- The search tokens are written straight into search_tsv (the appender
-- sends the tsvector, its lexemes sorted and distinct) instead of being
-- sent as text and turned into a tsvector by a generated column: the
-- conversion cost every insert, and search_text was kept only to feed it.
-- Both are metadata changes; the stored tsvectors stay as they are.
ALTER TABLE events ALTER COLUMN search_tsv DROP EXPRESSION;
ALTER TABLE events DROP COLUMN search_text;

-- Schema and producer together, in position order: a query naming both
-- reads its matches in order instead of walking one index and testing
-- the other column.
CREATE INDEX events_schema_producer ON events (schema_id, producer, position);
