package trove

import (
	"fmt"
	"sync"
	"unicode/utf8"
)

// JSON from clients is checked strictly before anything stores it, so that
// every backend keeps the same document and every client can read it back
// (RFC 8259 §8.1, I-JSON RFC 7493 §2): a string (or key) holding invalid
// UTF-8, or an escaped surrogate without its pair ("\ud800"), and an object
// naming one key twice ({"d":1,"d":2}, at any depth, keys compared after
// unescaping) are ErrInvalid.

// maxJSONDepth bounds nesting, as encoding/json does.
const maxJSONDepth = 10000

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

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

func (c *jsonChecker) fail(i int, format string, args ...any) error {
	return fmt.Errorf("JSON at offset %d: "+format, append([]any{i}, args...)...)
}

func (c *jsonChecker) key(r keyRef) []byte {
	if r.esc {
		return c.keys[r.off : r.off+r.n]
	}
	return c.b[r.off : r.off+r.n]
}

// check scans b once.
func (c *jsonChecker) check(b []byte) (compact bool, err error) {
	c.b = b
	c.refs, c.frames, c.keys = c.refs[:0], c.frames[:0], c.keys[:0]
	compact = true
	var stack [64]byte
	containers := stack[:0] // '{' or '['
	i := 0
	const (
		stValue = iota // a value is expected
		stKey          // a key (or '}' when the object is empty) is expected
		stAfter        // ',' or the container's end is expected
	)
	st := stValue
	empty := false // the container just opened
	for {
		if i < len(b) && isSpace(b[i]) {
			i, compact = skipSpace(b, i), false
		}
		if i >= len(b) {
			if len(containers) == 0 && st == stAfter {
				return compact, nil
			}
			return false, c.fail(i, "unexpected end")
		}
		ch := b[i]
		switch st {
		case stKey:
			if ch == '}' && empty {
				i++
				containers = containers[:len(containers)-1]
				c.closeObject()
				st, empty = stAfter, false
				continue
			}
			if ch != '"' {
				return false, c.fail(i, "want a key")
			}
			start := i
			n, esc, err := c.str(i, true)
			if err != nil {
				return false, err
			}
			if err := c.addKey(start, n, esc); err != nil {
				return false, err
			}
			i = n
			if i < len(b) && isSpace(b[i]) {
				i, compact = skipSpace(b, i), false
			}
			if i >= len(b) || b[i] != ':' {
				return false, c.fail(i, "want ':'")
			}
			i++
			st, empty = stValue, false
		case stValue:
			switch {
			case ch == '{' || ch == '[':
				if len(containers) >= maxJSONDepth {
					return false, c.fail(i, "nested deeper than %d", maxJSONDepth)
				}
				containers = append(containers, ch)
				i++
				empty = true
				if ch == '{' {
					c.frames = append(c.frames, objFrame{keys: len(c.refs), text: len(c.keys)})
					st = stKey
					continue
				}
				if i < len(b) && isSpace(b[i]) {
					i, compact = skipSpace(b, i), false
				}
				if i < len(b) && b[i] == ']' {
					i++
					containers = containers[:len(containers)-1]
					st, empty = stAfter, false
					continue
				}
				continue
			case ch == '"':
				n, _, err := c.str(i, false)
				if err != nil {
					return false, err
				}
				i = n
			case ch == '-' || ch >= '0' && ch <= '9':
				n := numberEnd(b, i)
				if n < 0 {
					return false, c.fail(i, "bad number")
				}
				i = n
			case ch == 't' && hasPrefixAt(b, i, "true"):
				i += 4
			case ch == 'f' && hasPrefixAt(b, i, "false"):
				i += 5
			case ch == 'n' && hasPrefixAt(b, i, "null"):
				i += 4
			default:
				return false, c.fail(i, "want a value")
			}
			st, empty = stAfter, false
		case stAfter:
			if len(containers) == 0 {
				return false, c.fail(i, "data after the value")
			}
			top := containers[len(containers)-1]
			switch {
			case ch == ',':
				i++
				if top == '{' {
					st = stKey
				} else {
					st = stValue
				}
			case ch == '}' && top == '{', ch == ']' && top == '[':
				i++
				containers = containers[:len(containers)-1]
				if top == '{' {
					c.closeObject()
				}
			default:
				return false, c.fail(i, "want ',' or the end of the %s", map[byte]string{'{': "object", '[': "array"}[top])
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

// addKey records the key whose string spans b[start:end], refusing a
// repeat within the current object.
func (c *jsonChecker) addKey(start, end int, esc bool) error {
	var r keyRef
	if esc {
		off := len(c.keys)
		c.keys = appendUnescaped(c.keys, c.b[start+1:end-1])
		r = keyRef{off: off, n: len(c.keys) - off, esc: true}
	} else {
		r = keyRef{off: start + 1, n: end - start - 2}
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

// str checks the string whose quote is at b[i] and returns the index past
// its closing quote and whether it holds escapes.
func (c *jsonChecker) str(i int, key bool) (end int, esc bool, err error) {
	b := c.b
	start := i
	i++
	for i < len(b) {
		ch := b[i]
		// Plain ASCII text, the common case, in a tight loop.
		for ch >= 0x20 && ch < utf8.RuneSelf && ch != '"' && ch != '\\' {
			i++
			if i == len(b) {
				return 0, false, c.fail(start, "unterminated string")
			}
			ch = b[i]
		}
		switch {
		case ch == '"':
			return i + 1, esc, nil
		case ch < 0x20:
			return 0, false, c.fail(i, "control character in a string")
		case ch == '\\':
			esc = true
			if i+1 >= len(b) {
				return 0, false, c.fail(i, "unterminated string")
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				r, ok := hex4(b, i+2)
				if !ok {
					return 0, false, c.fail(i, "bad \\u escape")
				}
				i += 6
				switch {
				case r >= 0xD800 && r < 0xDC00:
					lo, ok := -1, false
					if i+1 < len(b) && b[i] == '\\' && b[i+1] == 'u' {
						lo, ok = hex4(b, i+2)
					}
					if !ok || lo < 0xDC00 || lo > 0xDFFF {
						return 0, false, c.fail(i-6, "unpaired surrogate in a string")
					}
					i += 6
				case r >= 0xDC00 && r <= 0xDFFF:
					return 0, false, c.fail(i-6, "unpaired surrogate in a string")
				}
			default:
				return 0, false, c.fail(i, "bad escape")
			}
		case ch < utf8.RuneSelf:
			i++
		default:
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n <= 1 {
				what := "string"
				if key {
					what = "key"
				}
				return 0, false, c.fail(i, "invalid UTF-8 in a %s", what)
			}
			i += n
		}
	}
	return 0, false, c.fail(start, "unterminated string")
}

func hex4(b []byte, i int) (int, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	v := 0
	for _, h := range b[i : i+4] {
		switch {
		case h >= '0' && h <= '9':
			v = v<<4 | int(h-'0')
		case h >= 'a' && h <= 'f':
			v = v<<4 | int(h-'a'+10)
		case h >= 'A' && h <= 'F':
			v = v<<4 | int(h-'A'+10)
		default:
			return 0, false
		}
	}
	return v, true
}

// appendUnescaped appends the text of a checked JSON string's contents s
// (between the quotes) to dst.
func appendUnescaped(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		if s[i] != '\\' {
			dst = append(dst, s[i])
			i++
			continue
		}
		switch s[i+1] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, _ := hex4(s, i+2)
			if r >= 0xD800 && r < 0xDC00 {
				lo, _ := hex4(s, i+8)
				r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
				i += 6
			}
			dst = utf8.AppendRune(dst, rune(r))
			i += 6
			continue
		default: // '"', '\\', '/'
			dst = append(dst, s[i+1])
		}
		i += 2
	}
	return dst
}

// numberEnd returns the index past the JSON number at b[i], or -1.
func numberEnd(b []byte, i int) int {
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return -1
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return -1
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	return i
}

func hasPrefixAt(b []byte, i int, s string) bool {
	return len(b)-i >= len(s) && string(b[i:i+len(s)]) == s
}
