package main

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/trovedb/trove"
)

// The shipped example config loads, passes serve's checks, names every
// limit with its default, and runs a daemon once its directory is local.
func TestExampleConfig(t *testing.T) {
	const example = "../../deploy/troved.example.yaml"
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	var sf storeFlags
	sf.register(fs)
	if err := fs.Parse([]string{"--config", example}); err != nil {
		t.Fatal(err)
	}
	st, err := sf.resolve(fs)
	if err != nil {
		t.Fatalf("the example config: %v", err)
	}
	if err := st.file.checkServe(); err != nil {
		t.Fatalf("the example config fails serve's checks: %v", err)
	}
	if st.plugin != "storage-log" || st.file.HTTP.Addr != "127.0.0.1:3000" {
		t.Fatalf("example: plugin %s, addr %s", st.plugin, st.file.HTTP.Addr)
	}
	// Every limit is in the example, at its default.
	raw, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	lt := reflect.TypeOf(limits{})
	for i := range lt.NumField() {
		key := strings.Split(lt.Field(i).Tag.Get("json"), ",")[0]
		if !strings.Contains(string(raw), "\n  "+key+": ") {
			t.Errorf("the example config lacks limits.%s", key)
		}
	}
	opts := st.file.Limits.apiOptions()
	if opts.MaxBatchEvents != 100000 || opts.MaxIdentifierBytes != trove.DefaultMaxIdentifierBytes || st.file.Limits.SchemaCacheBytes != trove.DefaultSchemaCacheBytes {
		t.Errorf("example limits are not the defaults: %+v", opts)
	}

	// Served, with its directory moved somewhere writable.
	dir := t.TempDir()
	local := filepath.Join(t.TempDir(), "troved.yaml")
	if err := os.WriteFile(local, []byte(strings.Replace(string(raw), "/var/lib/troved", dir, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, "--config", local)
	status, body := d.do("POST", "/api/events", "application/json", strings.NewReader(noteJSON("from the example")))
	expect(t, status, body, 201)
	d.stop()
	if _, err := os.Stat(filepath.Join(dir, "LOCK")); err != nil {
		t.Fatalf("the store is not in the configured directory: %v", err)
	}
}

// A misspelled key is an error naming it, never a silent default.
func TestConfigUnknownKey(t *testing.T) {
	for body, key := range map[string]string{
		"limits:\n  maxBatchEvent: 5\n": "maxBatchEvent",
		"auth:\n  token: [x]\n":         "token",
		"htttp:\n  addr: x\n":           "htttp",
	} {
		cfg := filepath.Join(t.TempDir(), "c.yaml")
		if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		code, _, errs := runCLI(t, "", "serve", "--config", cfg, "--data", t.TempDir())
		if code == 0 || !strings.Contains(errs, `unknown key "`+key+`"`) {
			t.Fatalf("config %q: exit %d %s", body, code, errs)
		}
	}
}
