package query

import (
	"bytes"
	"unicode/utf8"

	"github.com/trovedb/trove"
)

// rawMatch answers, for a payload without a single backslash, whether the
// value at keys is the JSON string whose unescaped text is lit: exactly
// what index.LookupValue and a comparison of value keys answer, without
// decoding anything or allocating. Without a backslash no string of the
// payload holds an escape, so its text is the bytes between its quotes.
// keys and lit must be plain. decided is false when the payload is not in
// the form expected: the caller then asks index.LookupValue.
func rawMatch(payload []byte, keys []string, lit []byte) (match, decided bool) {
	s := rawScanner{b: payload}
	for depth, key := range keys {
		s.ws()
		if !s.eat('{') {
			return false, true // not an object: LookupValue says missing
		}
		found := -1
		s.ws()
		if s.eat('}') {
			return false, true
		}
		for {
			s.ws()
			k, ok := s.str()
			if !ok {
				return false, false
			}
			s.ws()
			if !s.eat(':') {
				return false, false
			}
			s.ws()
			if string(k) == key {
				found = s.i
			}
			if !s.skip() {
				return false, false
			}
			s.ws()
			if s.eat(',') {
				continue
			}
			if s.eat('}') {
				break
			}
			return false, false
		}
		if found < 0 {
			return false, true
		}
		s.i = found
		if depth == len(keys)-1 {
			if s.peek() != '"' {
				// A number, literal, object or array: never equal to a
				// string (LookupValue gives no key or another kind).
				return false, s.skip()
			}
			v, ok := s.str()
			if !ok {
				return false, false
			}
			return bytes.Equal(v, lit), true
		}
	}
	return false, false
}

// rawScanner reads JSON that holds no backslash.
type rawScanner struct {
	b []byte
	i int
}

func (s *rawScanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *rawScanner) eat(c byte) bool {
	if s.peek() == c {
		s.i++
		return true
	}
	return false
}

func (s *rawScanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// str reads a string and returns the bytes between its quotes: its text
// when they are plain (see plain), which the caller checks where it
// matters. Compared with a plain string, they are equal exactly when the
// text is: bytes that are not plain never equal a plain string, and their
// text (invalid UTF-8 decodes to U+FFFD) never does either.
func (s *rawScanner) str() ([]byte, bool) {
	if !s.eat('"') {
		return nil, false
	}
	end := bytes.IndexByte(s.b[s.i:], '"')
	if end < 0 {
		return nil, false
	}
	v := s.b[s.i : s.i+end]
	s.i += end + 1
	return v, true
}

// plain reports whether b is valid UTF-8 without control characters or
// U+FFFD: the text of a JSON string whose bytes between the quotes are b
// (with no backslash) is then b itself.
func plain[T string | []byte](b T) bool {
	for _, r := range string(b) {
		if r < 0x20 || r == utf8.RuneError {
			return false
		}
	}
	return true
}

// skip skips one value.
func (s *rawScanner) skip() bool {
	switch c := s.peek(); {
	case c == '"':
		_, ok := s.str()
		return ok
	case c == '{' || c == '[':
		depth := 0
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case '"':
				end := bytes.IndexByte(s.b[s.i+1:], '"')
				if end < 0 {
					return false
				}
				s.i += end + 2
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					s.i++
					return true
				}
			}
			s.i++
		}
		return false
	case c == 't':
		return s.word("true")
	case c == 'f':
		return s.word("false")
	case c == 'n':
		return s.word("null")
	case c == '-' || c >= '0' && c <= '9':
		for s.i < len(s.b) && numberByte(s.b[s.i]) {
			s.i++
		}
		return true
	}
	return false
}

func numberByte(c byte) bool {
	return c == '+' || c == '-' || c == '.' || c == 'e' || c == 'E' || c >= '0' && c <= '9'
}

func (s *rawScanner) word(w string) bool {
	if len(s.b)-s.i >= len(w) && string(s.b[s.i:s.i+len(w)]) == w {
		s.i += len(w)
		return true
	}
	return false
}

// partialPayload decodes, of a payload object without a single backslash,
// only the members named in keys (plain ones), into an object that answers every lookup
// starting with one of them exactly as the whole decoded payload would (a
// repeated key: its last value, as a JSON decoder keeps). ok is false when
// the payload is not in that simple form; the caller then decodes it all.
func partialPayload(payload []byte, keys []string) (map[string]any, bool) {
	var spans [4][2]int
	if len(keys) > len(spans) {
		return nil, false
	}
	found := spans[:len(keys)]
	for i := range found {
		found[i] = [2]int{-1, -1}
	}
	s := rawScanner{b: payload}
	s.ws()
	if !s.eat('{') {
		return nil, false
	}
	s.ws()
	if !s.eat('}') {
		for {
			s.ws()
			k, ok := s.str()
			if !ok {
				return nil, false
			}
			s.ws()
			if !s.eat(':') {
				return nil, false
			}
			s.ws()
			start := s.i
			if !s.skip() {
				return nil, false
			}
			for i, key := range keys {
				if string(k) == key {
					found[i] = [2]int{start, s.i}
				}
			}
			s.ws()
			if s.eat(',') {
				continue
			}
			if s.eat('}') {
				break
			}
			return nil, false
		}
	}
	m := make(map[string]any, len(keys))
	for i, key := range keys {
		if found[i][0] < 0 {
			continue
		}
		raw := payload[found[i][0]:found[i][1]]
		switch raw[0] {
		case '"':
			text := raw[1 : len(raw)-1]
			if !plain(text) {
				return nil, false
			}
			m[key] = string(text)
		case 't':
			m[key] = true
		case 'f':
			m[key] = false
		case 'n':
			m[key] = nil
		default:
			v, err := trove.DecodePayload(raw)
			if err != nil {
				return nil, false
			}
			m[key] = v
		}
	}
	return m, true
}
