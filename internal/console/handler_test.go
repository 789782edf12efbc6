package console_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trovedb/trove/internal/console"
)

// assetFiles reads the asset directory from disk: the embedded tree is a
// copy of it.
func assetFiles(t testing.TB) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir("assets")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("assets", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = b
	}
	return files
}

func serve(method, target string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "http://troved.test/", nil)
	// The target is set as a raw path so that any bytes reach the handler,
	// as they would from a client that does not clean its paths.
	req.URL.Path = target
	req.URL.RawPath = ""
	w := httptest.NewRecorder()
	console.Handler().ServeHTTP(w, req)
	return w
}

func TestHandler(t *testing.T) {
	files := assetFiles(t)
	for _, c := range []struct {
		method, path string
		status       int
		file, ctype  string
	}{
		{"GET", "/", 200, "index.html", "text/html; charset=utf-8"},
		{"HEAD", "/", 200, "", "text/html; charset=utf-8"},
		{"GET", "/console/console.js", 200, "console.js", "text/javascript; charset=utf-8"},
		{"GET", "/console/console.css", 200, "console.css", "text/css; charset=utf-8"},
		{"GET", "/console/favicon.svg", 200, "favicon.svg", "image/svg+xml"},
		{"GET", "/console/index.html", 200, "index.html", "text/html; charset=utf-8"},
		{"POST", "/", 405, "", ""},
		{"DELETE", "/console/console.js", 405, "", ""},
		{"GET", "/index.html", 404, "", ""},
		{"GET", "/console/", 404, "", ""},
		{"GET", "/console", 404, "", ""},
		{"GET", "/console/nope.js", 404, "", ""},
		{"GET", "/console/../console.go", 404, "", ""},
		{"GET", "/console/./console.js", 404, "", ""},
		{"GET", "/console//console.js", 404, "", ""},
		{"GET", "/console/.hidden", 404, "", ""},
		{"GET", "/console/assets/console.js", 404, "", ""},
		{"GET", "/console/console.js/", 404, "", ""},
		{"GET", "/console/\x00", 404, "", ""},
		{"GET", "/api/stats", 404, "", ""},
	} {
		w := serve(c.method, c.path)
		if w.Code != c.status {
			t.Errorf("%s %q: %d, want %d", c.method, c.path, w.Code, c.status)
			continue
		}
		if c.status == 405 && w.Header().Get("Allow") != "GET, HEAD" {
			t.Errorf("%s %q: Allow %q", c.method, c.path, w.Header().Get("Allow"))
		}
		if c.status != 200 {
			continue
		}
		if got := w.Header().Get("Content-Type"); got != c.ctype {
			t.Errorf("%s %q: Content-Type %q, want %q", c.method, c.path, got, c.ctype)
		}
		for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy"} {
			if w.Header().Get(h) == "" {
				t.Errorf("%s %q: no %s", c.method, c.path, h)
			}
		}
		if c.method == "HEAD" && w.Body.Len() != 0 {
			t.Errorf("HEAD %q has a body", c.path)
		}
		if c.file != "" && !bytes.Equal(w.Body.Bytes(), files[c.file]) {
			t.Errorf("%s %q: body is not assets/%s", c.method, c.path, c.file)
		}
	}
	// Nothing on the page names another origin: the one absolute URL in
	// the assets is the SVG namespace, which is no request.
	for _, name := range []string{"index.html", "console.css", "console.js"} {
		text := strings.ReplaceAll(string(files[name]), `"http://www.w3.org/2000/svg"`, "")
		for _, scheme := range []string{"http:", "https:", "ws:", "wss:", "url("} {
			if strings.Contains(text, scheme) {
				t.Errorf("assets/%s names %s", name, scheme)
			}
		}
	}
}

// FuzzHandler: any path is answered without a panic, and a 200 is only
// ever one of the embedded files, whole.
func FuzzHandler(f *testing.F) {
	for _, p := range []string{"/", "/console/console.js", "/console/../x", "/console/%2e%2e", "/console/\xff", "/console/a/b", "//", "/console/.."} {
		f.Add("GET", p)
	}
	f.Add("HEAD", "/console/favicon.svg")
	f.Add("PUT", "/")
	files := assetFiles(f)
	f.Fuzz(func(t *testing.T, method, path string) {
		if method == "" || strings.ContainsAny(method, " \t\r\n") {
			method = "GET"
		}
		req := httptest.NewRequest("GET", "http://troved.test/", nil)
		req.Method = method
		req.URL.Path = path
		w := httptest.NewRecorder()
		console.Handler().ServeHTTP(w, req)
		switch w.Code {
		case 200:
			if method != "GET" && method != "HEAD" {
				t.Fatalf("%s %q answered 200", method, path)
			}
			name := "index.html"
			if path != "/" {
				name = strings.TrimPrefix(path, "/console/")
			}
			want, ok := files[name]
			if !ok || (path != "/" && !strings.HasPrefix(path, "/console/")) {
				t.Fatalf("%q served, not an asset", path)
			}
			if method == "GET" && !bytes.Equal(w.Body.Bytes(), want) {
				t.Fatalf("%q: body is not assets/%s", path, name)
			}
		case 404, 405:
		default:
			t.Fatalf("%s %q: status %d", method, path, w.Code)
		}
	})
}

func TestCheckResult(t *testing.T) {
	dir := t.TempDir()
	if _, ok, err := console.ReadCheckResult(dir); ok || err != nil {
		t.Fatalf("no check yet: ok %v, err %v", ok, err)
	}
	want := console.CheckResult{At: time.Date(2026, 3, 4, 5, 6, 7, 8e6, time.UTC), OK: false,
		Summary: "1 problem", Problems: []string{"segment 3: bad checksum", "<b>html</b>"}}
	if err := console.WriteCheckResult(dir, want); err != nil {
		t.Fatal(err)
	}
	got, ok, err := console.ReadCheckResult(dir)
	if err != nil || !ok || !got.At.Equal(want.At) || got.Summary != want.Summary || strings.Join(got.Problems, "|") != strings.Join(want.Problems, "|") {
		t.Fatalf("read back %+v, %v, %v", got, ok, err)
	}
	// Bad files are an error, never a result.
	for name, body := range map[string]string{
		"empty": "", "not json": "check ok", "array": "[]", "wrong type": `{"ok":"yes"}`, "bad time": `{"at":"yesterday"}`,
		"too big": `{"summary":"` + strings.Repeat("x", 1<<20) + `"}`, "truncated": `{"ok":true,`,
	} {
		if err := os.WriteFile(filepath.Join(dir, console.CheckFile), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if r, ok, err := console.ReadCheckResult(dir); err == nil || ok {
			t.Errorf("%s: read as %+v, ok %v, err %v", name, r, ok, err)
		}
	}
	// A directory in the file's place is an error too.
	if err := os.Remove(filepath.Join(dir, console.CheckFile)); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, console.CheckFile), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := console.ReadCheckResult(dir); err == nil || ok {
		t.Errorf("a directory: ok %v, err %v", ok, err)
	}
	// Writing into a directory that does not exist fails and creates nothing.
	missing := filepath.Join(dir, "missing")
	if err := console.WriteCheckResult(missing, want); err == nil {
		t.Error("wrote into a missing directory")
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing directory: %v", err)
	}
}

// FuzzReadCheckResult: any file content is read as a result or refused
// with an error, without a panic; a result read back writes and reads back
// the same.
func FuzzReadCheckResult(f *testing.F) {
	for _, s := range []string{`{"at":"2026-01-02T03:04:05Z","ok":true,"summary":"fine"}`, `{"problems":["a","b"]}`, `{`, `null`, `{"at":1}`, "\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, console.CheckFile), body, 0o644); err != nil {
			t.Fatal(err)
		}
		r, ok, err := console.ReadCheckResult(dir)
		if err != nil {
			if ok {
				t.Fatal("ok with an error")
			}
			return
		}
		if !ok {
			t.Fatal("a file read as no check")
		}
		if err := console.WriteCheckResult(dir, r); err != nil {
			t.Fatal(err)
		}
		again, ok, err := console.ReadCheckResult(dir)
		a, _ := json.Marshal(r)
		b, _ := json.Marshal(again)
		if err != nil || !ok || !bytes.Equal(a, b) {
			t.Fatalf("%s read back as %s (%v)", a, b, err)
		}
	})
}
