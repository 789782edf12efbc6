package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/trovedb/trove"
	"github.com/trovedb/trove/plugins/postgres"
)

// checkPostgres runs postgres.Check on the database and schema in options
// (the PG* environment variables fill in what the dsn leaves out). It
// changes nothing: a schema that does not exist is an error, not created.
func checkPostgres(ctx context.Context, options json.RawMessage) (string, error) {
	var o postgres.Options
	d := json.NewDecoder(bytes.NewReader(options))
	d.DisallowUnknownFields()
	if err := d.Decode(&o); err != nil && len(options) > 0 {
		return "", fmt.Errorf("%w: storage-postgres options: %v", trove.ErrInvalid, err)
	}
	rep, err := postgres.Check(ctx, o)
	summary := fmt.Sprintf("head %d, %d events, %d versions, %d links (%d to events not stored), %d files, %d schemas, migration %d",
		rep.Head, rep.Events, rep.Versions, rep.Links, rep.Dangling, rep.Files, rep.Schemas, rep.Migration)
	return summary, withProblems(err, rep.Problems)
}

// postgresWhere names a storage-postgres store: its schema, database and
// server.
func postgresWhere(options json.RawMessage) string {
	var o postgres.Options
	_ = json.Unmarshal(options, &o)
	schema := o.Schema
	if schema == "" {
		schema = postgres.DefaultSchema
	}
	where := "schema " + schema
	if cfg, err := pgxpool.ParseConfig(o.DSN); err == nil {
		c := cfg.ConnConfig
		where += fmt.Sprintf(" of database %s on %s:%d", c.Database, c.Host, c.Port)
	}
	return where
}
