package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/trovedb/trove/engine"

	// Storage plugins, registered by their init functions.
	_ "github.com/trovedb/trove/plugins/filesystem"
	_ "github.com/trovedb/trove/plugins/jsonfile"
	_ "github.com/trovedb/trove/plugins/memory"
	_ "github.com/trovedb/trove/plugins/s3"
	_ "github.com/trovedb/trove/plugins/sqlite"
)

// defaultStorage is the plugin --storage names when neither the flag nor a
// config file picks one.
const defaultStorage = engine.PluginName

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
}

// storageKinds is the one table of plugins --storage can name: those that
// serve events with nothing but a local path. The others (storage-s3 and
// storage-file-system serve files only) are configured with --config.
func storageKinds() map[string]storageKind {
	dirOption := func(dir string) any { return map[string]string{"directory": dir} }
	return map[string]storageKind{
		engine.PluginName:   {options: dirOption, persistent: true, check: checkEngine},
		"storage-json-file": {options: dirOption, persistent: true},
		"storage-sqlite": {options: func(dir string) any {
			return map[string]string{"path": filepath.Join(dir, "trove.db")}
		}, persistent: true},
		"storage-memory": {options: func(string) any { return map[string]any{} }},
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
	summary := fmt.Sprintf("%d segments, %d blocks, %d records, %d events, %d WAL entries",
		rep.Segments, rep.Blocks, rep.Records, rep.Events, rep.WALEntries)
	if err != nil && len(rep.Problems) > 0 {
		return summary, fmt.Errorf("%w\n  %s", err, strings.Join(rep.Problems, "\n  "))
	}
	return summary, err
}
