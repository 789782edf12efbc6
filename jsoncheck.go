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

// keySetFrom is the member count from which an object's keys are checked
// for repeats through a map instead of by comparing each new key with the
// ones before.
const keySetFrom = 16

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

type keyRef struct {
	off, n int  // in the document, or in the checker's unescaped keys
	esc    bool // the key is in keys (it held escapes)
}

type objFrame struct {
	keys int // index of its first key in jsonChecker.refs
	text int // length of jsonChecker.keys when it opened
	set  map[string]struct{}
}

type jsonChecker struct {
	b      []byte
	refs   []keyRef
	keys   []byte // unescaped text of keys that held escapes
	frames []objFrame
}

// checkers keeps jsonCheckers with their buffers, so that checking a
// typical document allocates nothing.
var checkers = sync.Pool{New: func() any { return new(jsonChecker) }}

// checkJSONText runs a pooled checker over b.
func checkJSONText(b []byte) (compact bool, err error) {
	c := checkers.Get().(*jsonChecker)
	compact, err = c.check(b)
	c.b = nil
	clear(c.frames[:cap(c.frames)]) // drop key sets
	if cap(c.refs) > 1<<12 || cap(c.keys) > 1<<16 || cap(c.frames) > 1<<10 {
		return compact, err // too big to keep
	}
	checkers.Put(c)
	return compact, err
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (c *jsonChecker) fail(i int, format string, args ...any) error {
	return fmt.Errorf("JSON at offset %d: "+format, append([]any{i}, args...)...)
}

func (c *jsonChecker) key(r keyRef) []byte {
	if r.esc {
		return c.keys[r.off : r.off+r.n]
	}
	return c.b[r.off : r.off+r.n]
}

// check scans b once: the strict scanner checks the grammar, UTF-8,
// surrogates and depth; the checker the keys of each object.
func (c *jsonChecker) check(b []byte) (compact bool, err error) {
	c.b = b
	c.refs, c.frames, c.keys = c.refs[:0], c.frames[:0], c.keys[:0]
	s := jsonscan.NewStrict(b)
	for {
		switch s.Next() {
		case jsonscan.End:
			return s.Compact(), nil
		case jsonscan.Invalid:
			return false, s.Err()
		case jsonscan.BeginObject:
			c.frames = append(c.frames, objFrame{keys: len(c.refs), text: len(c.keys)})
		case jsonscan.EndObject:
			c.closeObject()
		case jsonscan.Key:
			if err := c.addKey(&s); err != nil {
				return false, err
			}
		}
	}
}

func (c *jsonChecker) closeObject() {
	f := c.frames[len(c.frames)-1]
	c.frames = c.frames[:len(c.frames)-1]
	c.refs = c.refs[:f.keys]
	c.keys = c.keys[:f.text]
}

// addKey records the key s is at, refusing a repeat within the current
// object.
func (c *jsonChecker) addKey(s *jsonscan.Scanner) error {
	start := s.Offset()
	var r keyRef
	if s.Escaped() {
		off := len(c.keys)
		c.keys = s.AppendText(c.keys)
		r = keyRef{off: off, n: len(c.keys) - off, esc: true}
	} else {
		r = keyRef{off: start + 1, n: len(s.RawText())}
	}
	f := &c.frames[len(c.frames)-1]
	k := c.key(r)
	if f.set != nil {
		if _, dup := f.set[string(k)]; dup {
			return c.fail(start, "duplicate key %q", k)
		}
		f.set[string(k)] = struct{}{}
	} else {
		for _, o := range c.refs[f.keys:] {
			if string(c.key(o)) == string(k) {
				return c.fail(start, "duplicate key %q", k)
			}
		}
		if len(c.refs)-f.keys+1 >= keySetFrom {
			f.set = make(map[string]struct{}, 2*keySetFrom)
			for _, o := range c.refs[f.keys:] {
				f.set[string(c.key(o))] = struct{}{}
			}
			f.set[string(k)] = struct{}{}
		}
	}
	c.refs = append(c.refs, r)
	return nil
}
