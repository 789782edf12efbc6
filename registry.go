package trove

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
)

// Factory makes a plugin from its options: the JSON of the config's
// "options" object (nil when absent). It only parses and checks options;
// resources are opened by Initialize.
type Factory func(options json.RawMessage) (Plugin, error)

var registry struct {
	sync.RWMutex
	factories map[string]Factory // guarded by the mutex
}

// Register makes a plugin available by name, the way database/sql drivers
// register: a plugin package calls it from init. It panics when name is
// empty, factory is nil, or name is registered twice.
func Register(name string, factory Factory) {
	registry.Lock()
	defer registry.Unlock()
	if name == "" || factory == nil {
		panic("trove: Register needs a name and a factory")
	}
	if _, dup := registry.factories[name]; dup {
		panic("trove: Register called twice for plugin " + name)
	}
	if registry.factories == nil {
		registry.factories = map[string]Factory{}
	}
	registry.factories[name] = factory
}

// pluginPackages names the package that registers each plugin this module
// ships, so that a program that forgot the import is told which one.
var pluginPackages = map[string]string{
	"storage-log":         "github.com/trovedb/trove/engine",
	"storage-memory":      "github.com/trovedb/trove/plugins/memory",
	"storage-json-file":   "github.com/trovedb/trove/plugins/jsonfile",
	"storage-sqlite":      "github.com/trovedb/trove/plugins/sqlite",
	"storage-file-system": "github.com/trovedb/trove/plugins/filesystem",
	"storage-s3":          "github.com/trovedb/trove/plugins/s3",
	"storage-postgres":    "github.com/trovedb/trove/plugins/postgres",
}

// Plugins lists the registered plugin names, sorted.
func Plugins() []string {
	registry.RLock()
	defer registry.RUnlock()
	names := make([]string, 0, len(registry.factories))
	for n := range registry.factories {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// NewPlugin makes a plugin by its registered name. An unknown name is
// ErrInvalid.
func NewPlugin(name string, options json.RawMessage) (Plugin, error) {
	registry.RLock()
	f, ok := registry.factories[name]
	registry.RUnlock()
	if !ok {
		if pkg, known := pluginPackages[name]; known {
			return nil, invalidf("storage plugin %q is not registered: import _ %q to register it (registered: %v)", name, pkg, Plugins())
		}
		return nil, invalidf("unknown storage plugin %q (registered: %v)", name, Plugins())
	}
	p, err := f(options)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %w", name, err)
	}
	return p, nil
}
