package trove

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// TestSchemaRefsStayInside: a $ref (or $schema) to a file or a URL is
// refused with ErrInvalid naming the reference, without the file being
// opened: the FIFO below would block any open for reading forever, and the
// passwd file's contents never show in the error.
func TestSchemaRefsStayInside(t *testing.T) {
	c, _ := openFake(t)
	ctx := context.Background()
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	passwd, _ := os.ReadFile("/etc/passwd")
	for _, ref := range []string{
		"file:///etc/passwd",
		"file:///proc/self/fd/0",
		"file:///proc/self/fd/1",
		"file://" + fifo,
		"http://127.0.0.1:1/x",
		"https://example.invalid/schema.json",
		"/etc/passwd",
		"../../etc/passwd#/x",
	} {
		for _, doc := range []string{
			fmt.Sprintf(`{"$id":"x","$ref":%q}`, ref),
			fmt.Sprintf(`{"$id":"x","type":"object","properties":{"a":{"$ref":%q}}}`, ref),
			fmt.Sprintf(`{"$id":"x","$schema":%q}`, ref),
		} {
			_, err := c.CreateEvent(ctx, Event{Schema: MustSchema(doc), Payload: json.RawMessage(`{"a":1}`)})
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("%s: err = %v, want ErrInvalid", doc, err)
			}
			want := strings.TrimSuffix(strings.SplitN(ref, "#", 2)[0], "/x")
			if !strings.Contains(err.Error(), strings.TrimPrefix(want, "../../")) {
				t.Errorf("%s: error %q does not name the reference", doc, err)
			}
			if len(passwd) > 8 && strings.Contains(err.Error(), string(passwd[:8])) {
				t.Errorf("%s: error leaks the file: %q", doc, err)
			}
		}
		_, err := c.RegisterSchema(ctx, RegisteredSchema{ID: "r", Version: "1", Schema: json.RawMessage(fmt.Sprintf(`{"$ref":%q}`, ref))})
		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("register with $ref %s: %v", ref, err)
		}
	}
}

// TestSchemaRefsResolve: references inside the document, to registered
// schemas and to the standard metaschemas work.
func TestSchemaRefsResolve(t *testing.T) {
	c, _ := openFake(t)
	ctx := context.Background()
	inner := MustSchema(`{"$id":"inner","type":"object","properties":{"a":{"$ref":"#/$defs/pos"}},"$defs":{"pos":{"type":"integer","minimum":1}}}`)
	if _, err := c.CreateEvent(ctx, Event{Schema: inner, Payload: json.RawMessage(`{"a":2}`)}); err != nil {
		t.Fatalf("inner $ref: %v", err)
	}
	if _, err := c.CreateEvent(ctx, Event{Schema: inner, Payload: json.RawMessage(`{"a":0}`)}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("inner $ref, failing payload: %v", err)
	}
	if _, err := c.RegisterSchema(ctx, RegisteredSchema{ID: "address", Version: "1",
		Schema: json.RawMessage(`{"type":"object","required":["city"],"properties":{"city":{"type":"string"}}}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RegisterSchema(ctx, RegisteredSchema{ID: "https://example.com/zip", Version: "1",
		Schema: json.RawMessage(`{"$id":"https://example.com/zip","type":"string","pattern":"^[0-9]{5}$"}`)}); err != nil {
		t.Fatal(err)
	}
	order := MustSchema(`{"$id":"order","type":"object","properties":{"ship":{"$ref":"address"},"zip":{"$ref":"https://example.com/zip"}}}`)
	if _, err := c.CreateEvent(ctx, Event{Schema: order, Payload: json.RawMessage(`{"ship":{"city":"Oslo"},"zip":"01234"}`)}); err != nil {
		t.Fatalf("registry $ref: %v", err)
	}
	for _, p := range []string{`{"ship":{}}`, `{"zip":"x"}`} {
		if _, err := c.CreateEvent(ctx, Event{Schema: order, Payload: json.RawMessage(p)}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("registry $ref, failing payload %s: %v", p, err)
		}
	}
	// A newer registered version is what a reference resolves to next.
	if _, err := c.RegisterSchema(ctx, RegisteredSchema{ID: "address", Version: "2",
		Schema: json.RawMessage(`{"type":"object","required":["city","country"]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateEvent(ctx, Event{Schema: order, Payload: json.RawMessage(`{"ship":{"city":"Oslo"}}`)}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("registry $ref after a new version: %v", err)
	}
	// The standard metaschemas are shipped in the binary.
	meta := MustSchema(`{"$id":"meta","type":"object","properties":{"s":{"$ref":"https://json-schema.org/draft/2020-12/schema"}}}`)
	if _, err := c.CreateEvent(ctx, Event{Schema: meta, Payload: json.RawMessage(`{"s":{"type":"string"}}`)}); err != nil {
		t.Fatalf("metaschema $ref: %v", err)
	}
	if _, err := c.CreateEvent(ctx, Event{Schema: meta, Payload: json.RawMessage(`{"s":{"type":12}}`)}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("metaschema $ref, failing payload: %v", err)
	}
}

// TestSchemaCompileHoldsNoLock: while one document's compilation is stuck
// in its loader, others compile and validate.
func TestSchemaCompileHoldsNoLock(t *testing.T) {
	stuck, release := make(chan struct{}), make(chan struct{})
	v := &validators{capBytes: DefaultSchemaCacheBytes, resolve: func(url string) ([]byte, bool) {
		if strings.HasSuffix(url, "slow") {
			close(stuck)
			<-release
		}
		return nil, false
	}}
	done := make(chan error, 1)
	go func() { done <- v.validate("a", []byte(`{"$ref":"slow"}`), []byte(`{}`)) }()
	<-stuck
	if err := v.validate("b", []byte(`{"type":"object"}`), []byte(`{}`)); err != nil {
		t.Fatalf("validation beside a stuck compilation: %v", err)
	}
	close(release)
	if err := <-done; !errors.Is(err, ErrInvalid) {
		t.Fatalf("unresolved reference: %v", err)
	}
}

// TestValidateHugeNumbers: numbers of any exponent against numeric
// keywords neither panic nor take long, and get the right answer.
func TestValidateHugeNumbers(t *testing.T) {
	c, _ := openFake(t)
	ctx := context.Background()
	items := func(vals ...string) string { return `{"x":[` + strings.Join(vals, ",") + `]}` }
	many := func(n int, distinct bool) string {
		var v []string
		for i := range n {
			if distinct {
				v = append(v, fmt.Sprintf("%de9999999", i+1))
			} else {
				v = append(v, "1e9999999")
			}
		}
		return items(v...)
	}
	for _, c2 := range []struct {
		schema, payload string
		ok              bool
	}{
		{`{"minimum":0}`, `{"x":1e9999999}`, true},
		{`{"minimum":0}`, `{"x":-1e9999999}`, false},
		{`{"maximum":1e300}`, `{"x":1e9999999}`, false},
		{`{"exclusiveMinimum":0}`, `{"x":9e-9999999}`, true},
		{`{"exclusiveMaximum":0}`, `{"x":9e-9999999}`, false},
		{`{"minimum":1e-300}`, `{"x":9e-9999999}`, false},
		{`{"multipleOf":0.5}`, `{"x":1e9999999}`, true},
		{`{"multipleOf":3}`, `{"x":1e9999999}`, false},
		{`{"multipleOf":3}`, `{"x":3e9999999}`, true},
		{`{"multipleOf":2}`, `{"x":9e-9999999}`, false},
		{`{"type":"integer"}`, `{"x":1e9999999}`, true},
		{`{"type":"integer"}`, `{"x":9e-9999999}`, false},
		{`{"type":"integer"}`, `{"x":1e99999999999999999999}`, true},
		{`{"const":1e300}`, `{"x":1e9999999}`, false},
		{`{"enum":[1,2]}`, `{"x":1e-9999999}`, false},
		{`{"uniqueItems":true}`, many(25, true), true},
		{`{"uniqueItems":true}`, many(25, false), false},
		{`{"uniqueItems":true}`, many(5, true), true},
		{`{"uniqueItems":true}`, items("1e9999999", "10e9999998"), false},
		{`{"uniqueItems":true}`, items("1e9999999", "1e9999998", "-1e9999999", "9e-9999999", "9e-9999998"), true},
		{`{"items":{"minimum":0}}`, items("1e9999999", "1e-9999999", "0"), true},
	} {
		doc := `{"$id":"pm","type":"object","properties":{"x":` + c2.schema + `}}`
		_, err := c.CreateEvent(ctx, Event{Schema: MustSchema(doc), Payload: json.RawMessage(c2.payload)})
		if c2.ok && err != nil {
			t.Errorf("%s with %.60s: %v, want accepted", c2.schema, c2.payload, err)
		}
		if !c2.ok && !errors.Is(err, ErrInvalid) {
			t.Errorf("%s with %.60s: %v, want ErrInvalid", c2.schema, c2.payload, err)
		}
	}
	// A schema may not hold such numbers itself; a payload number with
	// too many digits for the validator is refused, never a hang.
	_, err := c.CreateEvent(ctx, Event{Schema: MustSchema(`{"$id":"pm","minimum":1e9999999}`), Payload: json.RawMessage(`{}`)})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "1e9999999") {
		t.Errorf("schema with a huge minimum: %v", err)
	}
	_, err = c.CreateEvent(ctx, Event{Schema: MustSchema(`{"$id":"pm","properties":{"x":{"minimum":0}}}`),
		Payload: json.RawMessage(`{"x":1` + strings.Repeat("3", 200000) + `}`)})
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("200001-digit number: %v", err)
	}
}

// TestSchemaCacheBounded: thousands of distinct schemas keep the cache
// within its cap; evicted documents compile again and still validate;
// schemas of refused events are not kept.
func TestSchemaCacheBounded(t *testing.T) {
	const capBytes = 256 << 10
	c, _ := openFakeWith(t, Config{SchemaCacheBytes: capBytes})
	ctx := context.Background()
	doc := func(i int) Schema {
		return MustSchema(fmt.Sprintf(`{"$id":"s%d","type":"object","required":["n"],"properties":{"n":{"type":"integer","minimum":%d},"pad":{"description":%q}}}`,
			i, i, strings.Repeat("p", 500)))
	}
	for i := range 3000 {
		if _, err := c.CreateEvent(ctx, Event{Schema: doc(i), Payload: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))}); err != nil {
			t.Fatal(err)
		}
		if b, _ := c.valid.cacheBytes(); b > capBytes {
			t.Fatalf("after %d schemas the cache holds %d bytes, over its cap %d", i+1, b, capBytes)
		}
	}
	b, n := c.valid.cacheBytes()
	if n == 0 || n >= 3000 || b == 0 {
		t.Fatalf("cache holds %d entries, %d bytes", n, b)
	}
	// The first schemas were evicted: they compile again, and validate.
	if _, err := c.CreateEvent(ctx, Event{Schema: doc(0), Payload: json.RawMessage(`{"n":5}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateEvent(ctx, Event{Schema: doc(1), Payload: json.RawMessage(`{"n":0}`)}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("recompiled schema lets a bad payload through: %v", err)
	}
	// Refused events leave nothing in the cache.
	c2, _ := openFakeWith(t, Config{})
	for i := range 100 {
		_, err := c2.CreateEvent(ctx, Event{Schema: doc(i), Payload: json.RawMessage(`{"n":-1}`)})
		if !errors.Is(err, ErrInvalid) {
			t.Fatal(err)
		}
	}
	if b, n := c2.valid.cacheBytes(); n != 0 || b != 0 {
		t.Fatalf("refused events left %d schemas (%d bytes) cached", n, b)
	}
	// A negative cap keeps nothing and still validates.
	c3, _ := openFakeWith(t, Config{SchemaCacheBytes: -1})
	if _, err := c3.CreateEvent(ctx, Event{Schema: doc(1), Payload: json.RawMessage(`{"n":1}`)}); err != nil {
		t.Fatal(err)
	}
	if _, n := c3.valid.cacheBytes(); n != 0 {
		t.Fatalf("a disabled cache holds %d entries", n)
	}
}

// TestSchemaCostEstimate keeps the cache's per-document estimate above
// the heap a compiled document really takes.
func TestSchemaCostEstimate(t *testing.T) {
	v := &validators{capBytes: -1}
	props := make([]string, 0, 200)
	for i := range 200 {
		props = append(props, fmt.Sprintf(`"p%d":{"type":"string","maxLength":%d,"pattern":"^[a-z]+$"}`, i, i+1))
	}
	doc := []byte(`{"type":"object","properties":{` + strings.Join(props, ",") + `}}`)
	const n = 50
	keep := make([]*compiled, 0, n)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range n {
		d := append([]byte(fmt.Sprintf(`{"$id":"c%d",`, i)), doc[1:]...)
		c, err := v.compile(d, false)
		if err != nil {
			t.Fatal(err)
		}
		keep = append(keep, c)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := int64(after.HeapAlloc-before.HeapAlloc) / n
	if est := keep[0].cost; est < per {
		t.Errorf("estimated %d bytes per compiled document, measured %d", est, per)
	}
	t.Logf("document %d bytes: estimate %d, measured %d per compiled schema", len(doc), keep[0].cost, per)
	runtime.KeepAlive(keep)
}

func openFakeWith(t *testing.T, cfg Config) (*Core, *fakePlugin) {
	registerFakes()
	fakeMade = nil
	cfg.Storage = StorageConfig{Events: PluginConfig{Plugin: "fake-events", Options: json.RawMessage(`{"name":"E"}`)}}
	c, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Shutdown(context.Background()) })
	return c, fakeMade[0]
}

// TestValidateNumberMessages: a failing numeric keyword names the
// payload's number as written and the schema's exactly when either is not
// a float64 (the library's float64 words said "got ∞" for 1e9999999 and
// "got 1, want 1" for 1.0000000000000000000000001 against maximum 1);
// ordinary numbers keep the library's words.
func TestValidateNumberMessages(t *testing.T) {
	c, _ := openFake(t)
	ctx := context.Background()
	for _, c2 := range []struct{ schema, payload, want string }{
		{`{"multipleOf":3}`, `{"x":1e9999999}`, "/x: multipleOf: got 1e9999999, want 3"},
		{`{"maximum":1e300}`, `{"x":1E+9999999}`, "/x: maximum: got 1E+9999999, want 1" + strings.Repeat("0", 39) + "…"},
		{`{"minimum":0}`, `{"x":-1e9999999}`, "/x: minimum: got -1e9999999, want 0"},
		{`{"exclusiveMaximum":0}`, `{"x":9e-9999999}`, "/x: exclusiveMaximum: got 9e-9999999, want 0"},
		{`{"exclusiveMinimum":0}`, `{"x":-9e-9999999}`, "/x: exclusiveMinimum: got -9e-9999999, want 0"},
		{`{"maximum":1}`, `{"x":1.0000000000000000000000001}`, "/x: maximum: got 1.0000000000000000000000001, want 1"},
		{`{"minimum":0.1}`, `{"x":0.0999999999999999999999}`, "/x: minimum: got 0.0999999999999999999999, want 0.1"},
		{`{"properties":{"y/~":{"items":{"maximum":0.30000000000000000000001}}}}`, `{"x":{"y/~":[0,0.30000000000000000000002]}}`,
			"/x/y~1~0/1: maximum: got 0.30000000000000000000002, want 0.30000000000000000000001"},
		{`{"minimum":0}`, `{"x":-1.5}`, "/x: minimum: got -1.5, want 0"},
		{`{"multipleOf":0.5}`, `{"x":0.3}`, "/x: multipleOf: got 0.3, want 0.5"},
		{`{"items":{"minimum":1}}`, `{"x":[5,1e-9999999,7]}`, "/x/1: minimum: got 1e-9999999, want 1"},
	} {
		doc := `{"$id":"pm","type":"object","properties":{"x":` + c2.schema + `}}`
		_, err := c.CreateEvent(ctx, Event{Schema: MustSchema(doc), Payload: json.RawMessage(c2.payload)})
		var ve *ValidationError
		if !errors.As(err, &ve) {
			t.Errorf("%s with %s: %v, want a ValidationError", c2.schema, c2.payload, err)
			continue
		}
		if len(ve.Causes) != 1 || ve.Causes[0].Path+": "+ve.Causes[0].Message != c2.want {
			t.Errorf("%s with %s: causes %+v, want %q", c2.schema, c2.payload, ve.Causes, c2.want)
		}
	}
}

func TestNumberAt(t *testing.T) {
	root := payloadRoot([]byte(`{"a":{"b/c":[1,2.50],"d~e":3e5},"":-0}`))()
	for ptr, want := range map[string]string{"/a/b~1c/1": "2.50", "/a/d~0e": "3e5", "/": "-0"} {
		if got, ok := numberAt(root, ptr); !ok || got != want {
			t.Errorf("numberAt(%q) = %q, %v; want %q", ptr, got, ok, want)
		}
	}
	for _, ptr := range []string{"", "/a", "/a/b~1c/2", "/a/b~1c/x", "/z", "a", "/a/b~1c/-1"} {
		if got, ok := numberAt(root, ptr); ok {
			t.Errorf("numberAt(%q) = %q, want none", ptr, got)
		}
	}
	if payloadRoot([]byte(`{`))() != nil {
		t.Error("a broken document decodes")
	}
}

// TestValidationCausesUnderReferences: a payload failing a schema reached
// through "$ref" (inside the document, or a registered schema) is told
// what failed there, not the reference's bare "validation failed";
// combinators keep their own line before their branches' failures.
func TestValidationCausesUnderReferences(t *testing.T) {
	c, _ := openFake(t)
	ctx := context.Background()
	if _, err := c.RegisterSchema(ctx, RegisteredSchema{ID: "address", Version: "1",
		Schema: json.RawMessage(`{"type":"object","required":["street"],"properties":{"zip":{"$ref":"#/$defs/zip"}},"$defs":{"zip":{"type":"string","maxLength":5}}}`)}); err != nil {
		t.Fatal(err)
	}
	for _, c2 := range []struct{ schema, payload, want string }{
		{`{"$defs":{"s":{"type":"object","required":["street"]}},"type":"object","properties":{"a":{"$ref":"#/$defs/s"}}}`,
			`{"a":{}}`, "/a: missing property 'street'"},
		{`{"type":"object","properties":{"a":{"$ref":"address"}}}`,
			`{"a":{"street":"x","zip":"123456"}}`, "/a/zip: maxLength: got 6, want 5"},
		{`{"$ref":"address"}`, `{}`, "/: missing property 'street'"},
		{`{"allOf":[{"$ref":"address"}]}`, `{}`, "/: allOf failed; /: missing property 'street'"},
		{`{"type":"object","properties":{"a/b":{"anyOf":[{"type":"string"},{"$ref":"#/$defs/n"}]}},"$defs":{"n":{"type":"number","minimum":1}}}`,
			`{"a/b":0}`, "/a~1b: anyOf failed; /a~1b: got number, want string; /a~1b: minimum: got 0, want 1"},
		{`{"type":"object","properties":{"x":{"type":"string"}}}`, `{"x":1}`, "/x: got number, want string"},
		{`{"$defs":{"a":{"$ref":"#/$defs/b"},"b":{"$ref":"#/$defs/a"}},"$ref":"#/$defs/a"}`, `{}`,
			`/: both /$ref/$ref/$ref and /$ref resolve to "#/$defs/a" causing reference cycle`},
	} {
		doc := `{"$id":"ref-causes",` + strings.TrimPrefix(c2.schema, "{")
		_, err := c.CreateEvent(ctx, Event{Schema: MustSchema(doc), Payload: json.RawMessage(c2.payload)})
		var ve *ValidationError
		if !errors.As(err, &ve) {
			t.Errorf("%s with %s: %v, want a ValidationError", c2.schema, c2.payload, err)
			continue
		}
		var got []string
		for _, cause := range ve.Causes {
			path := cause.Path
			if path == "" {
				path = "/"
			}
			got = append(got, path+": "+strings.ReplaceAll(cause.Message, "'", ""))
		}
		if strings.Join(got, "; ") != strings.ReplaceAll(c2.want, "'", "") {
			t.Errorf("%s with %s:\n got  %s\n want %s", c2.schema, c2.payload, strings.Join(got, "; "), c2.want)
		}
	}
}
