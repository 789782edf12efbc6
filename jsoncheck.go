package trove

import (
	"fmt"
	"sync"

	"github.com/trovedb/trove/internal/jsonscan"
)

// JSON from clients is checked strictly before anything stores it, so that
// every backend keeps the same document and every client can read it back
// (RFC 8259 §8.1, I-JSON RFC 7493 §2): a string (or key) holding invalid
// UTF-8, or an escaped surrogate without its pair ("\ud800"), and an object
// naming one key twice ({"d":1,"d":2}, at any depth, keys compared after
// unescaping) are ErrInvalid.

// maxJSONDepth bounds nesting, as encoding/json does.
const maxJSONDepth = jsonscan.MaxDepth

// CheckJSON reports whether b is one JSON value that Trove accepts from a
// client: valid JSON (surrounding white space allowed) with only valid
// UTF-8 and paired surrogates in its strings, and no object with a
// repeated key. Errors wrap ErrInvalid and give the byte offset.
func CheckJSON(b []byte) error {
	if _, err := checkJSONText(b); err != nil {
		return invalidf("%v", err)
	}
	return nil
}

// checkJSONObject is CheckJSON for a value that must be an object; compact
// reports whether json.Compact would leave b unchanged.
func checkJSONObject(b []byte) (compact bool, err error) {
	i := 0
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	if i == len(b) || b[i] != '{' {
		return false, fmt.Errorf("must be a JSON object")
	}
	return checkJSONText(b)
}

// CheckJSONObject is checkJSONObject for storage backends with a fast path
// for payloads that are already compact: err wraps ErrInvalid.
func CheckJSONObject(b []byte) (compact bool, err error) {
	compact, err = checkJSONObject(b)
	if err != nil {
		return false, invalidf("%v", err)
	}
	return compact, nil
}

// jsonChecker is the strict scanner's check of a document plus the
// repeated-key check of its objects.
type jsonChecker struct {
	keys jsonscan.Keys
}

// checkers keeps jsonCheckers with their buffers, so that checking a
// typical document allocates nothing.
var checkers = sync.Pool{New: func() any { return new(jsonChecker) }}

// checkJSONText runs a pooled checker over b.
func checkJSONText(b []byte) (compact bool, err error) {
	c := checkers.Get().(*jsonChecker)
	compact, err = c.check(b)
	c.keys.Reset(nil)
	if c.keys.Big() {
		return compact, err // too big to keep
	}
	checkers.Put(c)
	return compact, err
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (c *jsonChecker) fail(i int, format string, args ...any) error {
	return fmt.Errorf("JSON at offset %d: "+format, append([]any{i}, args...)...)
}

// check scans b once: the strict scanner checks the grammar, UTF-8,
// surrogates and depth; the checker the keys of each object.
func (c *jsonChecker) check(b []byte) (compact bool, err error) {
	c.keys.Reset(b)
	s := jsonscan.NewStrict(b)
	for {
		switch s.Next() {
		case jsonscan.End:
			return s.Compact(), nil
		case jsonscan.Invalid:
			return false, s.Err()
		case jsonscan.BeginObject:
			c.keys.Open()
		case jsonscan.EndObject:
			c.keys.Close()
		case jsonscan.Key:
			if k, ok := c.keys.Key(&s); !ok {
				return false, c.fail(s.Offset(), "duplicate key %q", k)
			}
		}
	}
}
