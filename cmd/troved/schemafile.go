package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/internal/fsutil"
)

// schemaFile keeps the schema registry in DIR/schemas.json for event
// storages that do not keep it themselves (trove.SchemaStore), so that
// registered schemas survive a restart with every persistent backend.
type schemaFile struct {
	path string
	core *trove.Core
	mu   sync.Mutex // serializes writes of the file
}

// openSchemaFile loads the registry file into core, when one is needed:
// it returns nil when the event storage keeps schemas itself or does not
// persist anything.
func openSchemaFile(ctx context.Context, core *trove.Core, st settings) (*schemaFile, error) {
	if _, ok := core.Events().(trove.SchemaStore); ok || !st.needsDataDir() {
		return nil, nil
	}
	sf := &schemaFile{path: filepath.Join(st.dataDir, "schemas.json"), core: core}
	b, err := os.ReadFile(sf.path)
	if errors.Is(err, os.ErrNotExist) {
		return sf, nil
	}
	if err != nil {
		return nil, fmt.Errorf("troved: schema registry: %w", err)
	}
	var list []trove.RegisteredSchema
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("troved: schema registry %s: %w", sf.path, err)
	}
	for _, s := range list {
		if _, err := core.RegisterSchema(ctx, s); err != nil {
			return nil, fmt.Errorf("troved: schema registry %s: %w", sf.path, err)
		}
	}
	return sf, nil
}

// save writes the whole registry, atomically.
func (sf *schemaFile) save(context.Context) error {
	sf.mu.Lock()
	defer sf.mu.Unlock()
	b, err := json.MarshalIndent(sf.core.Schemas(), "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteFileBytes(sf.path, b, 0o644)
}
