package main

import (
	"context"
	"encoding/json"
	"path/filepath"

	// Storage plugins, registered by their init functions.
	_ "github.com/trovedb/trove/plugins/jsonfile"
	_ "github.com/trovedb/trove/plugins/memory"
)

// defaultStorage is the plugin --storage names when neither the flag nor a
// config file picks one.
const defaultStorage = "storage-memory"

// storageKind is what troved knows of one plugin when --storage names it:
// its default options under the data directory, whether it keeps data
// across restarts, and its integrity check.
type storageKind struct {
	// options returns the plugin's options with its data under dir.
	options func(dir string) any
	// persistent plugins keep data across restarts; for them troved keeps
	// the schema registry in dir when the plugin does not.
	persistent bool
	// check verifies the stored data under options; nil when the plugin
	// has no checker. It returns an error wrapping trove.ErrCorrupt on
	// damage.
	check func(ctx context.Context, options json.RawMessage) error
}

// storageKinds is the one table of plugins troved knows by name.
func storageKinds() map[string]storageKind {
	dirOption := func(dir string) any { return map[string]string{"directory": dir} }
	return map[string]storageKind{
		"storage-log":         {options: dirOption, persistent: true},
		"storage-json-file":   {options: dirOption, persistent: true},
		"storage-file-system": {options: dirOption, persistent: true},
		"storage-sqlite": {options: func(dir string) any {
			return map[string]string{"path": filepath.Join(dir, "trove.db")}
		}, persistent: true},
		"storage-memory": {options: func(string) any { return map[string]any{} }},
	}
}
