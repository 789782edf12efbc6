package index

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"strings"

	"github.com/trovedb/trove"
)

// Term kinds: the first byte of a term's value key, so that values of
// different JSON types never share a posting list.
const (
	KindNull   = 'z'
	KindBool   = 'b'
	KindNumber = 'n'
	KindString = 's'
)

// NormalizeNumber returns the canonical spelling of a JSON number
// (trove.CanonicalNumber), so that numerically equal numbers (1, 1.0, 1e0)
// share one term: an integer of at most 18 digits in plain base 10, any
// other number in scientific form with its exact exponent (0.5 is "5e-1",
// 1e999999 is "1e999999"). It takes time linear in s and returns false
// when s is not a JSON number.
func NormalizeNumber(s string) (string, bool) {
	if plainInteger(s) {
		return s, true
	}
	return trove.CanonicalNumber(s)
}

// plainInteger reports whether s is an integer that is its own canonical
// form: at most 18 digits, no leading zero, not -0.
func plainInteger[T string | []byte](s T) bool {
	digits := s
	if len(digits) > 0 && digits[0] == '-' {
		digits = digits[1:]
	}
	if len(digits) == 0 || len(digits) > trove.PlainIntegerDigits || digits[0] == '0' && (len(digits) > 1 || len(s) > 1) {
		return false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return false
		}
	}
	return true
}

// ValueKey returns the term value key of a query scalar (nil, bool, string or
// json.Number, as trove.PayloadTerm holds). It returns false for anything
// else.
func ValueKey(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return string(KindNull), true
	case bool:
		if x {
			return string(KindBool) + "1", true
		}
		return string(KindBool) + "0", true
	case string:
		return string(KindString) + x, true
	case json.Number:
		n, ok := NormalizeNumber(string(x))
		if !ok {
			return "", false
		}
		return string(KindNumber) + n, true
	}
	return "", false
}

// Terms calls fn with every scalar of a JSON object reached through objects
// only (arrays are not descended, as payload equality never looks into
// them): its dotted path and its value key. Malformed JSON ends the walk
// early; the index is a superset filter, so nothing is lost by that beyond
// the terms not emitted (queries verify every candidate).
func Terms(payload []byte, fn func(path, value string)) {
	s := scanner{b: payload}
	s.ws()
	if s.peek() != '{' {
		return
	}
	s.object("", fn)
}

type scanner struct {
	b   []byte
	i   int
	bad bool
}

func (s *scanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// object reads {…} at s.i; prefix is the path of the object ("" at the root).
func (s *scanner) object(prefix string, fn func(path, value string)) {
	s.i++ // '{'
	s.ws()
	if s.peek() == '}' {
		s.i++
		return
	}
	for !s.bad {
		s.ws()
		key, ok := s.str()
		if !ok {
			s.bad = true
			return
		}
		s.ws()
		if s.peek() != ':' {
			s.bad = true
			return
		}
		s.i++
		s.ws()
		path := key
		if prefix != "" {
			path = prefix + "." + key
		}
		s.value(path, fn)
		s.ws()
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return
		default:
			s.bad = true
			return
		}
	}
}

func (s *scanner) value(path string, fn func(path, value string)) {
	switch c := s.peek(); {
	case c == '{':
		s.object(path, fn)
	case c == '[':
		s.skipArray()
	case c == '"':
		v, ok := s.str()
		if !ok {
			s.bad = true
			return
		}
		fn(path, string(KindString)+v)
	case c == 't' && s.lit("true"):
		fn(path, string(KindBool)+"1")
	case c == 'f' && s.lit("false"):
		fn(path, string(KindBool)+"0")
	case c == 'n' && s.lit("null"):
		fn(path, string(KindNull))
	case c == '-' || c >= '0' && c <= '9':
		start := s.i
		for s.i < len(s.b) && strings.IndexByte("+-0123456789.eE", s.b[s.i]) >= 0 {
			s.i++
		}
		n, ok := NormalizeNumber(string(s.b[start:s.i]))
		if !ok {
			s.bad = true
			return
		}
		fn(path, string(KindNumber)+n)
	default:
		s.bad = true
	}
}

func (s *scanner) lit(w string) bool {
	if strings.HasPrefix(string(s.b[s.i:min(len(s.b), s.i+len(w))]), w) {
		s.i += len(w)
		return true
	}
	return false
}

// str reads a JSON string at s.i and returns it unescaped.
func (s *scanner) str() (string, bool) {
	if s.peek() != '"' {
		return "", false
	}
	start := s.i
	s.i++
	escaped := false
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case '\\':
			escaped = true
			s.i += 2
			continue
		case '"':
			s.i++
			if !escaped {
				return string(s.b[start+1 : s.i-1]), true
			}
			var v string
			if json.Unmarshal(s.b[start:s.i], &v) != nil {
				return "", false
			}
			return v, true
		}
		s.i++
	}
	return "", false
}

// skipArray skips […] at s.i, strings and nesting included.
func (s *scanner) skipArray() {
	depth := 0
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case '[', '{':
			depth++
		case ']', '}':
			depth--
			if depth == 0 {
				s.i++
				return
			}
		case '"':
			if _, ok := s.str(); !ok {
				s.bad = true
				return
			}
			continue
		}
		s.i++
	}
	s.bad = true
}

// LookupValue finds the scalar at keys in a JSON object, following objects
// only and taking the last occurrence of a repeated key (as a JSON decoder
// does), and returns its value key (see ValueKey). ok is false when a key is
// missing, a step is not an object, or the value is an object or an array.
// It answers exactly what trove.PayloadTerm.Match asks, without decoding the
// payload.
func LookupValue(payload []byte, keys []string) (value string, ok bool) {
	s := scanner{b: payload}
	for depth, key := range keys {
		s.ws()
		if s.peek() != '{' {
			return "", false
		}
		s.i++
		found := -1
		s.ws()
		if s.peek() == '}' {
			return "", false
		}
		for {
			s.ws()
			k, ok := s.str()
			if !ok {
				return "", false
			}
			s.ws()
			if s.peek() != ':' {
				return "", false
			}
			s.i++
			s.ws()
			if k == key {
				found = s.i
			}
			if !s.skipValue() {
				return "", false
			}
			s.ws()
			if s.peek() == ',' {
				s.i++
				continue
			}
			if s.peek() == '}' {
				break
			}
			return "", false
		}
		if found < 0 {
			return "", false
		}
		s.i = found
		if depth == len(keys)-1 {
			var out string
			got := false
			switch c := s.peek(); c {
			case '{', '[':
				return "", false
			default:
				s.value("", func(_, v string) { out, got = v, true })
			}
			return out, got && !s.bad
		}
	}
	return "", false
}

// skipValue skips one JSON value at s.i.
func (s *scanner) skipValue() bool {
	switch c := s.peek(); {
	case c == '{' || c == '[':
		s.skipArray() // skips any container, strings and nesting included
	case c == '"':
		if _, ok := s.str(); !ok {
			return false
		}
	case c == 't':
		return s.lit("true")
	case c == 'f':
		return s.lit("false")
	case c == 'n':
		return s.lit("null")
	case c == '-' || c >= '0' && c <= '9':
		for s.i < len(s.b) && strings.IndexByte("+-0123456789.eE", s.b[s.i]) >= 0 {
			s.i++
		}
	default:
		return false
	}
	return !s.bad
}

// walker is Terms without allocations on the hot path: the path and the
// value key are built in reusable buffers and handed to fn as bytes, valid
// only during the call.
type walker struct {
	scanner
	path []byte
	val  []byte
	fn   func(path, value []byte)
}

// TermWriter extracts a payload's terms ahead of AddBatch, so that a caller
// can do that work on its own goroutine (Doc.Terms). Its zero value is
// ready; it is not safe for concurrent use.
type TermWriter struct{ w walker }

// Append appends the terms of payload (a JSON object) to dst in the
// encoding Doc.Terms holds, and returns the extended slice.
func (t *TermWriter) Append(dst, payload []byte) []byte {
	walkTerms(payload, &t.w, func(path, value []byte) {
		dst = binary.AppendUvarint(dst, uint64(len(path)))
		dst = append(dst, path...)
		dst = binary.AppendUvarint(dst, uint64(len(value)))
		dst = append(dst, value...)
	})
	t.w.fn = nil
	return dst
}

var errTerms = errors.New("index: malformed extracted terms")

// eachTerm calls fn with every term of an encoding TermWriter.Append made.
func eachTerm(b []byte, fn func(path, value []byte)) error {
	for len(b) > 0 {
		var f [2][]byte
		for k := range f {
			n, w := binary.Uvarint(b)
			if w <= 0 || n > uint64(len(b)-w) {
				return errTerms
			}
			f[k], b = b[w:w+int(n)], b[w+int(n):]
		}
		fn(f[0], f[1])
	}
	return nil
}

func walkTerms(payload []byte, buf *walker, fn func(path, value []byte)) {
	*buf = walker{scanner: scanner{b: payload}, path: buf.path[:0], val: buf.val[:0], fn: fn}
	buf.ws()
	if buf.peek() != '{' {
		return
	}
	buf.object()
}

// rawStr reads a JSON string at w.i and appends its unescaped bytes to dst.
func (w *walker) rawStr(dst []byte) ([]byte, bool) {
	if w.peek() != '"' {
		return dst, false
	}
	start := w.i
	w.i++
	escaped := false
	for w.i < len(w.b) {
		switch w.b[w.i] {
		case '\\':
			escaped = true
			w.i += 2
			continue
		case '"':
			w.i++
			if !escaped {
				return append(dst, w.b[start+1:w.i-1]...), true
			}
			var v string
			if json.Unmarshal(w.b[start:w.i], &v) != nil {
				return dst, false
			}
			return append(dst, v...), true
		}
		w.i++
	}
	return dst, false
}

func (w *walker) object() {
	w.i++ // '{'
	w.ws()
	if w.peek() == '}' {
		w.i++
		return
	}
	for !w.bad {
		w.ws()
		base := len(w.path)
		if base > 0 {
			w.path = append(w.path, '.')
		}
		var ok bool
		if w.path, ok = w.rawStr(w.path); !ok {
			w.bad = true
			return
		}
		w.ws()
		if w.peek() != ':' {
			w.bad = true
			return
		}
		w.i++
		w.ws()
		w.value()
		w.path = w.path[:base]
		w.ws()
		switch w.peek() {
		case ',':
			w.i++
		case '}':
			w.i++
			return
		default:
			w.bad = true
			return
		}
	}
}

func (w *walker) value() {
	switch c := w.peek(); {
	case c == '{':
		w.object()
	case c == '[':
		w.skipArray()
	case c == '"':
		var ok bool
		if w.val, ok = w.rawStr(append(w.val[:0], KindString)); !ok {
			w.bad = true
			return
		}
		w.fn(w.path, w.val)
	case c == 't' && w.lit("true"):
		w.fn(w.path, append(w.val[:0], KindBool, '1'))
	case c == 'f' && w.lit("false"):
		w.fn(w.path, append(w.val[:0], KindBool, '0'))
	case c == 'n' && w.lit("null"):
		w.fn(w.path, append(w.val[:0], KindNull))
	case c == '-' || c >= '0' && c <= '9':
		start := w.i
		plain := true // an integer of ≤ 18 digits is its own canonical form
		for w.i < len(w.b) && strings.IndexByte("+-0123456789.eE", w.b[w.i]) >= 0 {
			if b := w.b[w.i]; b == '.' || b == 'e' || b == 'E' || b == '+' || (b == '-' && w.i != start) {
				plain = false
			}
			w.i++
		}
		raw := w.b[start:w.i]
		if plain && plainInteger(raw) {
			w.fn(w.path, append(append(w.val[:0], KindNumber), raw...))
			return
		}
		var ok bool
		if w.val, ok = trove.AppendCanonicalNumber(append(w.val[:0], KindNumber), string(raw)); !ok {
			w.bad = true
			return
		}
		w.fn(w.path, w.val)
	default:
		w.bad = true
	}
}
