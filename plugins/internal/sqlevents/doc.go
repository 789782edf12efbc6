// Package sqlevents holds what the SQL backends (storage-postgres on pgx,
// storage-sqlite on database/sql) share once a row is read: the event
// columns decoded (files, links and metadata JSON), the schema documents
// cached by key and resolved into events, link and registered-schema rows
// read into their types, and a query's order rendered as SQL.
//
// Each dialect keeps its own statements and scanning of dialect-typed
// columns (positions, times); what follows the scan is here, so both
// backends decode a row the same way and name a bad one with the same
// *trove.CorruptionError.
//
// Rows is the part of pgx.Rows and *sql.Rows the readers use; errors are
// wrapped with the text the caller gives ("postgres: links of x"), so the
// messages stay each backend's own.
package sqlevents
