package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/trovedb/trove"
)

// troved --help, troved help and every command's --help list what they
// should; --version works.
func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		code, out, _ := runBinary(t, "", args...)
		if code != 0 {
			t.Fatalf("troved %v: exit %d", args, code)
		}
		for c := range commands {
			if !strings.Contains(out, "\n  "+c+" ") {
				t.Fatalf("troved %v does not list %s:\n%s", args, c, out)
			}
		}
	}
	for _, c := range []string{"serve", "import", "export", "check"} {
		code, out, errs := runBinary(t, "", c, "--help")
		if code != 0 || !strings.Contains(errs+out, "usage: troved "+c) || !strings.Contains(errs+out, "-data") {
			t.Fatalf("troved %s --help: exit %d\n%s%s", c, code, out, errs)
		}
		code, out, _ = runBinary(t, "", "help", c)
		if code != 0 || !strings.Contains(out, "usage: troved "+c) {
			t.Fatalf("troved help %s: exit %d\n%s", c, code, out)
		}
	}
	// A mistake is told once, with the usage, and exits 2.
	for _, c := range []struct {
		args    []string
		mistake string
	}{
		{[]string{"--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"serve", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"import", "--bogus", "-"}, "flag provided but not defined: -bogus"},
		{[]string{"export", "--from", "x"}, `invalid value "x" for flag -from`},
		{[]string{"check", "--bogus"}, "flag provided but not defined: -bogus"},
	} {
		code, _, errs := runBinary(t, "", c.args...)
		if code != 2 || strings.Count(errs, c.mistake) != 1 || !strings.Contains(errs, "usage: troved ") {
			t.Fatalf("troved %v: exit %d, stderr:\n%s", c.args, code, errs)
		}
	}
	for _, args := range [][]string{{"--version"}, {"version"}} {
		code, out, _ := runBinary(t, "", args...)
		if code != 0 || !strings.HasPrefix(out, "troved ") {
			t.Fatalf("troved %v: exit %d %q", args, code, out)
		}
	}
}

// An online backup of a daemon while writers run: the export loads into
// an empty store that passes check and holds exactly a prefix of the
// daemon's log, links and files included.
func TestOnlineBackup(t *testing.T) {
	data := t.TempDir()
	d := startDaemon(t, "--data", data)
	var wg sync.WaitGroup
	var stop atomic.Bool
	var saved atomic.Int64
	for w := range 4 {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				body := `{"schema":` + noteSchema + `,"payload":{"text":"w` + fmt.Sprint(w, "-", i) + `"},"files":[{"id":"f` + fmt.Sprint(w, "-", i) + `","data":"aGVsbG8="}]}`
				status, b := d.do("POST", "/api/events", "application/json", strings.NewReader(body))
				if status != http.StatusCreated {
					t.Errorf("save: %d %s", status, b)
					return
				}
				var e trove.Event
				_ = json.Unmarshal(b, &e)
				if i%5 == 0 {
					status, b = d.do("POST", "/api/events/"+e.ID.ID+"/links", "application/json", strings.NewReader(`{"type":"seen","targetEvent":{"id":"x"}}`))
					if status != http.StatusCreated {
						t.Errorf("link: %d %s", status, b)
						return
					}
				}
				saved.Add(1)
			}
		})
	}
	for saved.Load() < 50 {
		if t.Failed() {
			break
		}
	}
	code, export, errs := runBinary(t, "", "export", "--url", d.url)
	stop.Store(true)
	wg.Wait()
	if code != 0 || !strings.Contains(errs, "exported") {
		t.Fatalf("export --url: exit %d %s", code, errs)
	}
	copyDir := t.TempDir()
	code, out, errs := runBinary(t, export, "import", "--data", copyDir, "-")
	if code != 0 {
		t.Fatalf("import of the online backup: exit %d %s %s", code, out, errs)
	}
	if code, out, errs := runBinary(t, "", "check", "--data", copyDir); code != 0 {
		t.Fatalf("check of the copy: exit %d %s %s", code, out, errs)
	}
	d.stop()
	// The copy holds the daemon's first N events exactly, with their
	// files and links.
	code, full, errs := runBinary(t, "", "export", "--data", data)
	if code != 0 {
		t.Fatalf("export of the original: %d %s", code, errs)
	}
	code, copied, errs := runBinary(t, "", "export", "--data", copyDir)
	if code != 0 {
		t.Fatalf("export of the copy: %d %s", code, errs)
	}
	fullLines, copyLines := eventLines(full), eventLines(copied)
	if len(copyLines) < 50 || len(copyLines) > len(fullLines) {
		t.Fatalf("the copy holds %d events, the original %d", len(copyLines), len(fullLines))
	}
	for i, l := range copyLines {
		if l != fullLines[i] {
			t.Fatalf("event %d of the copy differs:\n%s\n%s", i+1, l, fullLines[i])
		}
	}
	if !strings.Contains(copied, `{"fileData":"aGVsbG8="}`) || !strings.Contains(copied, `{"link":`) {
		t.Fatal("the copy lacks files or links")
	}
	// A cut stream is refused.
	cut := export[:strings.LastIndex(strings.TrimSuffix(export, "\n"), "\n")+1]
	if code, _, errs := runBinary(t, cut, "import", "--data", t.TempDir(), "-"); code != 1 || !strings.Contains(errs, "no end line") {
		t.Fatalf("import of a cut export: exit %d %s", code, errs)
	}
}

func eventLines(export string) []string {
	var out []string
	for _, l := range strings.Split(export, "\n") {
		if strings.HasPrefix(l, `{"id":`) {
			out = append(out, l)
		}
	}
	return out
}

// export --url against a daemon with auth: the token is needed, and an
// error answer is reported.
func TestOnlineBackupAuth(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "trove.yaml")
	if err := os.WriteFile(cfg, []byte("auth:\n  tokens: [\"0123456789abcdef0123\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, "--data", t.TempDir(), "--config", cfg)
	if code, _, errs := runBinary(t, "", "export", "--url", d.url); code != 1 || !strings.Contains(errs, "401") {
		t.Fatalf("export --url without the token: exit %d %s", code, errs)
	}
	if code, out, errs := runBinary(t, "", "export", "--url", d.url, "--token", "0123456789abcdef0123"); code != 0 || !strings.Contains(out, `{"end":`) {
		t.Fatalf("export --url with the token: exit %d %s", code, errs)
	}
	if code, _, _ := runBinary(t, "", "export", "--url", "ftp://x"); code != 2 {
		t.Fatalf("export --url with a bad URL: exit %d", code)
	}
}

// A storage-log store whose segment is damaged no longer opens; export
// --salvage writes every intact event, says what it skipped, and loads.
func TestExportSalvage(t *testing.T) {
	data := t.TempDir()
	cfg := filepath.Join(t.TempDir(), "trove.yaml")
	opts := fmt.Sprintf("storage:\n  events: {plugin: storage-log, options: {directory: %q, segmentSize: 16384}}\n", data)
	if err := os.WriteFile(cfg, []byte(opts), 0o600); err != nil {
		t.Fatal(err)
	}
	var in strings.Builder
	for i := range 3000 {
		in.WriteString(noteJSON(fmt.Sprintf("note %d with some words to fill the segment", i)) + "\n")
	}
	if code, out, errs := runBinary(t, in.String(), "import", "--config", cfg, "-"); code != 0 {
		t.Fatalf("import: %d %s %s", code, out, errs)
	}
	segs, _ := filepath.Glob(filepath.Join(data, "segments", "*.seg"))
	if len(segs) < 2 {
		t.Fatalf("%d segments", len(segs))
	}
	fi, _ := os.Stat(segs[0])
	f, err := os.OpenFile(segs[0], os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{0xff, 0xff, 0xff}, fi.Size()-3); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if code, _, _ := runBinary(t, "", "export", "--config", cfg); code != 1 {
		t.Fatalf("export of the damaged store: exit %d, want 1", code)
	}
	code, out, errs := runBinary(t, "", "export", "--salvage", "--config", cfg)
	if code != 0 || !strings.Contains(errs, "skipped: segment "+segs[0]) || !strings.Contains(errs, "salvaged ") {
		t.Fatalf("export --salvage: exit %d\n%s", code, errs)
	}
	n := len(eventLines(out))
	if n == 0 || n >= 3000 {
		t.Fatalf("salvaged %d of 3000 events", n)
	}
	if code, imported, errs := runBinary(t, out, "import", "--data", t.TempDir(), "-"); code != 0 || !strings.HasPrefix(imported, fmt.Sprintf("imported %d events", n)) {
		t.Fatalf("import of the salvage: exit %d %s %s", code, imported, errs)
	}
	// storage-sqlite: an intact database salvages whole.
	sq := []string{"--storage", "storage-sqlite", "--data", t.TempDir()}
	if code, _, errs := runBinary(t, in.String(), append([]string{"import", "-"}, sq...)...); code != 0 {
		t.Fatalf("import into sqlite: %s", errs)
	}
	code, out, errs = runBinary(t, "", append([]string{"export", "--salvage"}, sq...)...)
	if code != 0 || len(eventLines(out)) != 3000 || !strings.Contains(errs, "nothing was skipped") {
		t.Fatalf("salvage of sqlite: exit %d, %d events, %s", code, len(eventLines(out)), errs)
	}
	if code, _, errs := runBinary(t, "", "export", "--salvage", "--storage", "storage-memory"); code != 2 || !strings.Contains(errs, "storage-memory") {
		t.Fatalf("salvage of memory: exit %d %s", code, errs)
	}
}
