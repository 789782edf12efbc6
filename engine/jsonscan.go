package engine

// compactObject reports whether b is a JSON object that encoding/json
// accepts and that json.Compact would leave unchanged: no insignificant
// white space anywhere, nothing before or after the object. It is the fast
// path of staging: for such payloads trove.Prepare's compaction is a copy,
// so staging skips it. Anything else (also anything valid but not compact,
// or nested deeper than maxScanDepth) reports false and takes the slow path,
// which decides validity; so this function may only err towards false.
func compactObject(b []byte) bool {
	if len(b) < 2 || b[0] != '{' {
		return false
	}
	// stack[d] is the container at depth d: '{' or '['.
	var stackBuf [32]byte
	stack := append(stackBuf[:0], '{')
	i := 1
	// After '{' or ',' in an object: a key (or '}' right after '{').
	const (
		stKey   = iota // expecting a key, or '}' when empty is allowed
		stValue        // expecting a value
		stAfter        // expecting ',' or the closing bracket
	)
	st := stKey
	empty := true // the current container has no member yet
	for {
		if i >= len(b) {
			return false
		}
		c := b[i]
		switch st {
		case stKey:
			if c == '}' && empty {
				i++
				goto closed
			}
			if c != '"' {
				return false
			}
			n := scanString(b, i)
			if n < 0 {
				return false
			}
			i = n
			if i >= len(b) || b[i] != ':' {
				return false
			}
			i++
			st = stValue
		case stValue:
			switch {
			case c == '"':
				n := scanString(b, i)
				if n < 0 {
					return false
				}
				i = n
				st = stAfter
			case c == '{' || c == '[':
				if len(stack) >= maxScanDepth {
					return false
				}
				stack = append(stack, c)
				i++
				empty = true
				if c == '{' {
					st = stKey
					continue
				}
				if i < len(b) && b[i] == ']' {
					i++
					goto closed
				}
				st = stValue
				continue
			case c == '-' || (c >= '0' && c <= '9'):
				n := scanNumber(b, i)
				if n < 0 {
					return false
				}
				i = n
				st = stAfter
			case c == 't':
				if !hasPrefix(b[i:], "true") {
					return false
				}
				i += 4
				st = stAfter
			case c == 'f':
				if !hasPrefix(b[i:], "false") {
					return false
				}
				i += 5
				st = stAfter
			case c == 'n':
				if !hasPrefix(b[i:], "null") {
					return false
				}
				i += 4
				st = stAfter
			default:
				return false
			}
			empty = false
		case stAfter:
			top := stack[len(stack)-1]
			switch {
			case c == ',':
				i++
				if top == '{' {
					st = stKey
					empty = false
				} else {
					st = stValue
				}
			case (c == '}' && top == '{') || (c == ']' && top == '['):
				i++
				goto closed
			default:
				return false
			}
		}
		continue
	closed:
		stack = stack[:len(stack)-1]
		if len(stack) == 0 {
			return i == len(b)
		}
		st = stAfter
		empty = false
	}
}

// maxScanDepth bounds the nesting compactObject follows; deeper documents
// take the slow path (encoding/json has its own limit).
const maxScanDepth = 512

// scanString scans the JSON string starting with the quote at b[i] and
// returns the index after its closing quote, or -1 when it is not a string
// encoding/json accepts. Bytes ≥ 0x80 are copied verbatim by json.Compact
// and accepted by its scanner, so they are accepted here.
func scanString(b []byte, i int) int {
	i++
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			return i + 1
		case c < 0x20:
			return -1
		case c == '\\':
			i++
			if i >= len(b) {
				return -1
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if i+4 >= len(b) {
					return -1
				}
				for _, h := range b[i+1 : i+5] {
					if !isHex(h) {
						return -1
					}
				}
				i += 5
			default:
				return -1
			}
		default:
			i++
		}
	}
	return -1
}

// scanNumber scans the JSON number at b[i] and returns the index after it,
// or -1 when it is not a number encoding/json accepts.
func scanNumber(b []byte, i int) int {
	if b[i] == '-' {
		i++
		if i >= len(b) {
			return -1
		}
	}
	switch {
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		i++
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

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isHex(c byte) bool {
	return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func hasPrefix(b []byte, s string) bool {
	return len(b) >= len(s) && string(b[:len(s)]) == s
}
