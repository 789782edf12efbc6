package main

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

// TestConfigCoreLimits: the core's limits in the config file's limits
// section reach trove.Config.
func TestConfigCoreLimits(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "trove.yaml")
	if err := os.WriteFile(cfg, []byte("limits:\n  schemaCacheBytes: 1048576\n  maxIdentifierBytes: 64\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var sf storeFlags
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	sf.register(fs)
	if err := fs.Parse([]string{"--config", cfg, "--data", dir, "--storage", "storage-memory"}); err != nil {
		t.Fatal(err)
	}
	st, err := sf.resolve(fs)
	if err != nil {
		t.Fatal(err)
	}
	if st.storage.SchemaCacheBytes != 1<<20 || st.storage.MaxIdentifierBytes != 64 {
		t.Fatalf("core limits: %+v", st.storage)
	}
}
