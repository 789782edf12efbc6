package main

import (
	"encoding/json"
	"flag"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

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

// The systemd unit's ExecStart, run as written (the binary these tests
// built, the example config with its directory moved somewhere writable,
// a free port), serves, logs JSON, and exits 0 on the unit's KillSignal.
func TestSystemdUnitCommand(t *testing.T) {
	unit, err := os.ReadFile("../../deploy/troved.service")
	if err != nil {
		t.Fatal(err)
	}
	var execStart []string
	for _, line := range strings.Split(string(unit), "\n") {
		if rest, ok := strings.CutPrefix(line, "ExecStart="); ok {
			execStart = strings.Fields(rest)
		}
		if rest, ok := strings.CutPrefix(line, "KillSignal="); ok && rest != "SIGTERM" {
			t.Fatalf("KillSignal=%s: troved stops cleanly on SIGTERM", rest)
		}
	}
	if len(execStart) < 2 || filepath.Base(execStart[0]) != "troved" || execStart[1] != "serve" {
		t.Fatalf("ExecStart %q", execStart)
	}
	example, err := os.ReadFile("../../deploy/troved.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := filepath.Join(t.TempDir(), "troved.yaml")
	if err := os.WriteFile(cfg, []byte(strings.Replace(string(example), "/var/lib/troved", dir, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	args := append(slices.Clone(execStart[1:]), "--addr", addr)
	for i, a := range args {
		if a == "/etc/troved.yaml" {
			args[i] = cfg
		}
	}
	cmd := exec.Command(troved, args...)
	var logs strings.Builder
	cmd.Stderr = &logs // read after Wait, or on failure after Kill
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(cmdDeadline)
	for {
		res, err := http.Get("http://" + addr + "/up")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("the unit's command did not serve:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, logs.String())
	}
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if !json.Valid([]byte(line)) {
			t.Fatalf("a log line that is not JSON: %s", line)
		}
	}
	if !strings.Contains(logs.String(), `"msg":"troved: stopped"`) {
		t.Fatalf("no stop in the log:\n%s", logs.String())
	}
}
