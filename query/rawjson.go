package query

import (
	"bytes"
	"unicode/utf8"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/internal/jsonscan"
)

// rawMatch answers, for a payload without a single backslash, whether the
// value at keys is the JSON string whose unescaped text is lit: exactly
// what index.LookupValue and a comparison of value keys answer, without
// decoding anything or allocating. Without a backslash no string of the
// payload holds an escape, so its text is the bytes between its quotes,
// and a string ends at the next quote: the walk finds it with
// bytes.IndexByte instead of looking at every byte of it, and checks
// nothing a stored payload (valid JSON) already passed. keys and lit must
// be plain. decided is false when the payload is not in the form expected:
// the caller then asks index.LookupValue.
func rawMatch(payload []byte, keys []string, lit []byte) (match, decided bool) {
	if len(keys) == 0 {
		return false, false
	}
	b := payload
	i := skipSpace(b, 0)
	for _, key := range keys {
		if i >= len(b) {
			return false, false
		}
		if b[i] != '{' {
			return false, true // not an object: LookupValue says missing
		}
		found := -1 // where the value of the last member named key starts
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == '}' {
			return false, true // an empty object
		}
		for {
			if i >= len(b) || b[i] != '"' {
				return false, false
			}
			n := bytes.IndexByte(b[i+1:], '"')
			if n < 0 {
				return false, false
			}
			name := b[i+1 : i+1+n]
			if i = skipSpace(b, i+2+n); i >= len(b) || b[i] != ':' {
				return false, false
			}
			i = skipSpace(b, i+1)
			if string(name) == key {
				found = i
			}
			var ok bool
			if i, ok = skipValue(b, i); !ok {
				return false, false
			}
			if i = skipSpace(b, i); i >= len(b) {
				return false, false
			}
			if b[i] == '}' {
				break
			}
			if b[i] != ',' {
				return false, false
			}
			i = skipSpace(b, i+1)
		}
		if found < 0 {
			return false, true
		}
		i = found
	}
	if b[i] != '"' {
		// A number, literal, object or array: never equal to a string
		// (LookupValue gives no key or another kind).
		return false, true
	}
	n := bytes.IndexByte(b[i+1:], '"')
	if n < 0 {
		return false, false
	}
	// The bytes between the quotes, compared with a plain lit, are equal
	// exactly when the text is: bytes that are not plain never equal a
	// plain string, and their text (invalid UTF-8 decodes to U+FFFD)
	// never does either.
	return bytes.Equal(b[i+1:i+1+n], lit), true
}

// skipSpace returns the index of the first byte of b from i on that is
// not JSON whitespace (len(b) when none).
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// skipValue returns the index past the JSON value starting at b[i], in
// text without a backslash; false when it does not end.
func skipValue(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	switch b[i] {
	case '"':
		n := bytes.IndexByte(b[i+1:], '"')
		if n < 0 {
			return 0, false
		}
		return i + 2 + n, true
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				n := bytes.IndexByte(b[i+1:], '"')
				if n < 0 {
					return 0, false
				}
				i += 2 + n
				continue
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1, true
				}
			}
			i++
		}
		return 0, false
	}
	// A number or a literal: up to what may follow a value.
	for i < len(b) {
		switch b[i] {
		case ',', '}', ']', ' ', '\n', '\r', '\t':
			return i, true
		}
		i++
	}
	return i, true
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
	s := jsonscan.New(payload)
	if s.Next() != jsonscan.BeginObject {
		return nil, false
	}
	for k := s.Next(); k != jsonscan.EndObject; k = s.Next() {
		if k != jsonscan.Key || s.Escaped() {
			return nil, false
		}
		key := s.RawText()
		s.Next()
		start := s.Offset()
		if !s.Skip() {
			return nil, false
		}
		for i, want := range keys {
			if string(key) == want {
				found[i] = [2]int{start, s.Offset() + len(s.Raw())}
			}
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
			if !plain(text) || bytes.IndexByte(text, '\\') >= 0 {
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
