package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/trovedb/trove/engine"
	"github.com/trovedb/trove/plugins/jsonfile"
	"github.com/trovedb/trove/plugins/postgres"
	"github.com/trovedb/trove/plugins/sqlite"

	// Storage plugins, registered by their init functions.
	_ "github.com/trovedb/trove/plugins/filesystem"
	_ "github.com/trovedb/trove/plugins/memory"
	_ "github.com/trovedb/trove/plugins/s3"
)

// defaultStorage is the plugin --storage names when neither the flag nor a
// config file picks one.
const defaultStorage = engine.Name

// storageKind is what troved knows of one plugin when --storage names it:
// its default options under the data directory, whether it keeps data
// across restarts, and its integrity check.
type storageKind struct {
	// options returns the plugin's options with its data under dir.
	options func(dir string) any
	// persistent plugins keep data across restarts; for them troved keeps
	// the schema registry in dir when the plugin does not.
	persistent bool
	// check verifies the stored data under options and summarizes what it
	// checked; nil when the plugin has no checker. On damage the error
	// wraps trove.ErrCorrupt and names every problem.
	check func(ctx context.Context, options json.RawMessage) (string, error)
	// where names the store for messages when it is not under a local
	// path (a database); nil: the directory or path of its options.
	where func(options json.RawMessage) string
}

// storageKinds is the one table of plugins --storage can name: those that
// serve events with nothing but a local path (storage-postgres: the PG*
// environment). The others (storage-s3 and
// storage-file-system serve files only) are configured with --config.
func storageKinds() map[string]storageKind {
	dirOption := func(dir string) any { return map[string]string{"directory": dir} }
	return map[string]storageKind{
		engine.Name:   {options: dirOption, persistent: true, check: checkEngine},
		jsonfile.Name: {options: dirOption, persistent: true, check: checkJSONFile},
		sqlite.Name: {options: func(dir string) any {
			return map[string]string{"path": filepath.Join(dir, "trove.db")}
		}, persistent: true, check: checkSQLite},
		"storage-memory": {options: func(string) any { return map[string]any{} }},
		// The database comes from the PG* environment variables; a config
		// file gives the dsn and the other options.
		postgres.Name: {options: func(string) any { return map[string]any{} }, persistent: true, check: checkPostgres, where: postgresWhere},
	}
}

// checkEngine runs engine.Check on the storage-log directory in options.
func checkEngine(ctx context.Context, options json.RawMessage) (string, error) {
	var o struct {
		Directory string `json:"directory"`
	}
	if err := json.Unmarshal(options, &o); err != nil || o.Directory == "" {
		return "", fmt.Errorf("storage-log options name no directory")
	}
	rep, err := engine.Check(ctx, o.Directory)
	summary := fmt.Sprintf("%d segments (%d segment indexes), %d blocks, %d records, %d events, %d WAL entries, %d files",
		rep.Segments, rep.SegIndexes, rep.Blocks, rep.Records, rep.Events, rep.WALEntries, rep.Files)
	problems := rep.Problems
	for _, r := range rep.Repairable {
		problems = append(problems, "repairable: "+r)
	}
	return summary, withProblems(err, problems)
}

// checkJSONFile runs jsonfile.Check on the directory in options.
func checkJSONFile(ctx context.Context, options json.RawMessage) (string, error) {
	var o struct {
		Directory string `json:"directory"`
	}
	if err := json.Unmarshal(options, &o); err != nil || o.Directory == "" {
		return "", fmt.Errorf("storage-json-file options name no directory")
	}
	rep, err := jsonfile.Check(ctx, o.Directory)
	summary := fmt.Sprintf("%d events, %d versions, %d links, %d files, %d schemas",
		rep.Events, rep.Versions, rep.Links, rep.Files, rep.Schemas)
	return summary, withProblems(err, rep.Problems)
}

// checkSQLite runs sqlite.Check on the database path in options.
func checkSQLite(ctx context.Context, options json.RawMessage) (string, error) {
	var o struct {
		Path string `json:"path"`
	}
	if err := json.Unmarshal(options, &o); err != nil || o.Path == "" {
		return "", fmt.Errorf("storage-sqlite options name no path")
	}
	rep, err := sqlite.Check(ctx, o.Path)
	summary := fmt.Sprintf("%d events, %d versions, %d links, %d files, %d schemas",
		rep.Events, rep.Versions, rep.Links, rep.Files, rep.Schemas)
	return summary, withProblems(err, rep.Problems)
}

// withProblems adds a checker's list of problems to its error.
func withProblems(err error, problems []string) error {
	if err == nil || len(problems) == 0 {
		return err
	}
	return fmt.Errorf("%w\n  %s", err, strings.Join(problems, "\n  "))
}
