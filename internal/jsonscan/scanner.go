package jsonscan

import (
	"encoding/binary"
	"math/bits"
	"unicode/utf8"
)

// MaxDepth is the deepest nesting of objects and arrays a Scanner accepts,
// encoding/json's limit.
const MaxDepth = 10000

// Kind is the kind of a token.
type Kind uint8

// Token kinds.
const (
	// Invalid: the input is not JSON; Err tells why and where. A scanner
	// stays Invalid once it is.
	Invalid Kind = iota
	// End: the top-level value is complete and nothing but white space
	// follows it. A scanner stays at End once it is.
	End
	BeginObject // '{'
	EndObject   // '}'
	BeginArray  // '['
	EndArray    // ']'
	// Key: an object member's key, a string (the ':' after it is checked
	// by the next call of Next).
	Key
	String // a string value
	Number // a number, as its text
	True   // true
	False  // false
	Null   // null
)

var kindNames = [...]string{"Invalid", "End", "BeginObject", "EndObject", "BeginArray", "EndArray", "Key", "String", "Number", "True", "False", "Null"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(?)"
}

// What the scanner expects next.
const (
	stValue      = iota // a value
	stKey               // a key (after ',' in an object)
	stColon             // ':' then a value (after a key)
	stFirstKey          // a key or '}' (just after '{')
	stFirstValue        // a value or ']' (just after '[')
	stAfter             // ',' or the end of the container, or the end of the input at depth 0
	stEnd               // nothing: End was returned
	stInvalid           // nothing: Invalid was returned
)

// Scanner reads the tokens of one JSON value held in a byte slice. Its
// zero value scans an empty input (Invalid: unexpected end); New and
// NewStrict make one for an input. A Scanner is a small value: it may
// live on the stack, and a copy of it is a saved position (see Next).
type Scanner struct {
	b      []byte
	i      int // next byte to read
	start  int // the current token is b[start:end]
	end    int
	kind   Kind
	esc    bool // the current string holds a backslash
	st     uint8
	strict bool
	spaced bool // white space was skipped
	obj    bool // the innermost open container is an object
	depth  int
	lo     uint64   // bit d: the container at depth d+1 (d < 64) is an object
	hi     []uint64 // the same for depths past 64
	err    *SyntaxError
}

// New returns a scanner of b with encoding/json's rules: RFC 8259's
// grammar, bytes ≥ 0x80 in strings taken as they are (valid UTF-8 or
// not), \u escapes of lone surrogates accepted, MaxDepth.
func New(b []byte) Scanner {
	return Scanner{b: b}
}

// NewStrict returns a scanner of b that also refuses what RFC 8259 §8.1
// and I-JSON (RFC 7493 §2.1) refuse in strings: invalid UTF-8 (ErrUTF8,
// ErrKeyUTF8) and a \u escape of a surrogate that is not half of a
// high-low pair (ErrSurrogate).
func NewStrict(b []byte) Scanner {
	return Scanner{b: b, strict: true}
}

// Kind returns the current token's kind (Invalid before the first Next).
func (s *Scanner) Kind() Kind { return s.kind }

// Offset returns the byte offset of the current token's first byte (the
// opening quote of a string).
func (s *Scanner) Offset() int { return s.start }

// Raw returns the current token as it is in the input: a string or key
// with its quotes, a number's text, a literal, a bracket. It aliases the
// input.
func (s *Scanner) Raw() []byte { return s.b[s.start:s.end:s.end] }

// RawText returns the bytes between the quotes of the current Key or
// String token, aliasing the input: its text when Escaped is false.
func (s *Scanner) RawText() []byte { return s.b[s.start+1 : s.end-1 : s.end-1] }

// Escaped reports whether the current Key or String token holds a
// backslash, so that its text (AppendText) differs from its RawText.
func (s *Scanner) Escaped() bool { return s.esc }

// AppendText appends the text of the current Key or String token to dst,
// decoded as encoding/json decodes it (invalid UTF-8 and lone surrogate
// escapes become U+FFFD), and returns the extended slice.
func (s *Scanner) AppendText(dst []byte) []byte {
	return AppendUnquoted(dst, s.RawText())
}

// Depth returns the number of containers open after the current token: 1
// after the top-level BeginObject, 0 after its EndObject.
func (s *Scanner) Depth() int { return s.depth }

// Compact reports whether no white space has been skipped so far: at End,
// whether json.Compact would leave the input unchanged.
func (s *Scanner) Compact() bool { return !s.spaced }

// Err returns the error that made the scanner Invalid, a *SyntaxError, or
// nil.
func (s *Scanner) Err() error {
	if s.err == nil {
		return nil
	}
	return s.err
}

// fail makes the scanner Invalid. It is kept out of line: the paths that
// call it are rare, and the ones that do not stay small.
//
//go:noinline
func (s *Scanner) fail(i int, err error) Kind {
	s.err = &SyntaxError{Offset: i, Err: err}
	s.kind, s.st, s.start, s.end = Invalid, stInvalid, i, i
	return Invalid
}

// space returns the index of the first byte from i on that is not JSON
// white space.
func (s *Scanner) space(i int) int {
	b := s.b
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			s.spaced = true
			i++
		default:
			return i
		}
	}
	return i
}

// Next reads the next token and returns its kind. The grammar between
// tokens (':', ',', white space, the input's end) is checked here and not
// reported as tokens. A syntax error returns Invalid, and Invalid again
// on every later call.
//
// A copy of the scanner (saved := *s) taken after any token can be
// restored (*s = saved) to read again from there, as long as the scanner
// has not since closed the container the copy was taken in.
func (s *Scanner) Next() Kind {
	b := s.b
	i := s.i
	st := s.st
	// One loop for the token and the punctuation before it, so that a
	// token costs one call (and one of str for a string).
	for {
		if i < len(b) && b[i] <= ' ' {
			i = s.space(i)
		}
		switch st {
		case stAfter:
			if s.depth == 0 {
				if i < len(b) {
					return s.fail(i, ErrTrailing)
				}
				s.i, s.st, s.kind, s.start, s.end = i, stEnd, End, i, i
				return End
			}
			if i >= len(b) {
				return s.fail(i, ErrUnexpectedEnd)
			}
			switch c := b[i]; {
			case c == ',':
				i++
				st = stValue
				if s.obj {
					st = stKey
				}
				continue
			case c == '}' && s.obj:
				return s.close(i, EndObject)
			case c == ']' && !s.obj:
				return s.close(i, EndArray)
			case s.obj:
				return s.fail(i, ErrWantObjectEnd)
			default:
				return s.fail(i, ErrWantArrayEnd)
			}
		case stColon:
			if i >= len(b) || b[i] != ':' {
				return s.fail(i, ErrWantColon)
			}
			i++
			st = stValue
			continue
		case stFirstKey:
			if i < len(b) && b[i] == '}' {
				return s.close(i, EndObject)
			}
			st = stKey
			continue
		case stFirstValue:
			if i < len(b) && b[i] == ']' {
				return s.close(i, EndArray)
			}
			st = stValue
			continue
		case stKey:
			if i >= len(b) {
				return s.fail(i, ErrUnexpectedEnd)
			}
			if b[i] != '"' {
				return s.fail(i, ErrWantKey)
			}
			end := s.str(i, true)
			if end < 0 {
				return Invalid
			}
			s.kind, s.start, s.end = Key, i, end
			if end < len(b) && b[end] == ':' { // compact: the ':' is read now
				s.st, s.i = stValue, end+1
			} else {
				s.st, s.i = stColon, end
			}
			return Key
		case stValue:
			if i >= len(b) {
				return s.fail(i, ErrUnexpectedEnd)
			}
			var k Kind
			end := i
			switch c := b[i]; c {
			case '"':
				if end = s.str(i, false); end < 0 {
					return Invalid
				}
				k = String
			case '{':
				return s.open(i, true)
			case '[':
				return s.open(i, false)
			case 't':
				if len(b)-i < 4 || string(b[i:i+4]) != "true" {
					return s.fail(i, ErrWantValue)
				}
				k, end = True, i+4
			case 'f':
				if len(b)-i < 5 || string(b[i:i+5]) != "false" {
					return s.fail(i, ErrWantValue)
				}
				k, end = False, i+5
			case 'n':
				if len(b)-i < 4 || string(b[i:i+4]) != "null" {
					return s.fail(i, ErrWantValue)
				}
				k, end = Null, i+4
			default:
				if c != '-' && (c < '0' || c > '9') {
					return s.fail(i, ErrWantValue)
				}
				if end = numberEnd(b, i); end < 0 {
					return s.fail(i, ErrNumber)
				}
				k = Number
			}
			s.kind, s.st, s.start, s.end, s.i = k, stAfter, i, end, end
			return k
		case stEnd:
			return End
		default:
			return Invalid
		}
	}
}

// close reads the '}' or ']' at b[i].
func (s *Scanner) close(i int, k Kind) Kind {
	s.depth--
	d := s.depth - 1
	switch {
	case d < 0:
	case d < 64:
		s.obj = s.lo>>d&1 != 0
	default:
		d -= 64
		s.obj = s.hi[d/64]>>(d%64)&1 != 0
	}
	s.kind, s.st, s.start, s.end, s.i = k, stAfter, i, i+1, i+1
	return k
}

// open reads the '{' or '[' at b[i].
func (s *Scanner) open(i int, obj bool) Kind {
	d := s.depth
	if d >= MaxDepth {
		return s.fail(i, ErrDepth)
	}
	if d < 64 {
		if obj {
			s.lo |= 1 << d
		} else {
			s.lo &^= 1 << d
		}
	} else {
		d -= 64
		for len(s.hi) <= d/64 {
			s.hi = append(s.hi, 0)
		}
		if obj {
			s.hi[d/64] |= 1 << (d % 64)
		} else {
			s.hi[d/64] &^= 1 << (d % 64)
		}
	}
	s.depth++
	s.obj = obj
	s.start, s.end, s.i = i, i+1, i+1
	if obj {
		s.kind, s.st = BeginObject, stFirstKey
		return BeginObject
	}
	s.kind, s.st = BeginArray, stFirstValue
	return BeginArray
}

// numberEnd returns the index past the JSON number at b[i], or -1 when
// b[i:] does not start with one.
func numberEnd(b []byte, i int) int {
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i++
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return -1
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return -1
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	return i
}

// Byte classes inside a string.
const (
	cPlain   = iota // nothing to check
	cQuote          // '"'
	cEscape         // '\\'
	cControl        // below 0x20
	cHigh           // 0x80 and above, in a strict scanner
)

// strClass and strictClass give each byte's class in a string, for New's
// scanners and NewStrict's.
var strClass, strictClass = func() (t, strict [256]uint8) {
	for c := range t {
		switch {
		case c < 0x20:
			t[c] = cControl
		case c == '"':
			t[c] = cQuote
		case c == '\\':
			t[c] = cEscape
		}
		strict[c] = t[c]
		if c >= 0x80 {
			strict[c] = cHigh
		}
	}
	return t, strict
}()

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// special returns a mask of the 8 bytes of x (little endian) whose
// lowest set bit is the top bit of the first byte below 0x20, '"', '\\'
// or, when high is highs, 0x80 or above; it is 0 when there is none. (A
// borrow may set bits of bytes past the first, never before it.)
func special(x, high uint64) uint64 {
	lt := (x - 0x20*ones) &^ x // a byte < 0x20
	q := x ^ '"'*ones
	q = (q - ones) &^ q // a byte == '"'
	e := x ^ '\\'*ones
	e = (e - ones) &^ e // a byte == '\\'
	return (lt|q|e)&highs | x&high
}

// str checks the string whose quote is at b[i] and returns the index past
// its closing quote and sets s.esc, or fails and returns -1.
func (s *Scanner) str(i int, key bool) int {
	b := s.b
	start := i
	i++
	esc := false
	high, class := uint64(0), &strClass
	if s.strict {
		high, class = highs, &strictClass
	}
	for {
		// Eight bytes at a time up to the first that needs a look, then
		// (near the input's end) one at a time.
		for len(b)-i >= 8 {
			if m := special(binary.LittleEndian.Uint64(b[i:]), high); m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
			i += 8
		}
		if len(b)-i < 8 {
			for i < len(b) && class[b[i]] == cPlain {
				i++
			}
		}
		if i >= len(b) {
			s.fail(start, ErrUnterminated)
			return -1
		}
		if b[i] == '"' {
			s.esc = esc
			return i + 1
		}
		switch class[b[i]] {
		case cControl:
			s.fail(i, ErrControl)
			return -1
		case cHigh:
			// A run of multi-byte runes.
			for i < len(b) && b[i] >= utf8.RuneSelf {
				r, n := utf8.DecodeRune(b[i:])
				if r == utf8.RuneError && n <= 1 {
					if key {
						s.fail(i, ErrKeyUTF8)
					} else {
						s.fail(i, ErrUTF8)
					}
					return -1
				}
				i += n
			}
			continue
		}
		// A backslash.
		esc = true
		if i+1 >= len(b) {
			s.fail(i, ErrUnterminated)
			return -1
		}
		switch b[i+1] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			i += 2
			continue
		case 'u':
		default:
			s.fail(i, ErrEscape)
			return -1
		}
		r := hex4(b, i+2)
		if r < 0 {
			s.fail(i, ErrUnicodeEscape)
			return -1
		}
		i += 6
		if !s.strict || r < 0xD800 || r > 0xDFFF {
			continue
		}
		lo := -1
		if r < 0xDC00 && i+1 < len(b) && b[i] == '\\' && b[i+1] == 'u' {
			lo = hex4(b, i+2)
		}
		if lo < 0xDC00 || lo > 0xDFFF {
			s.fail(i-6, ErrSurrogate)
			return -1
		}
		i += 6
	}
}

// hex4 returns the value of the four hex digits at b[i:], or -1.
func hex4(b []byte, i int) int {
	if len(b)-i < 4 {
		return -1
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
			return -1
		}
	}
	return v
}

// Skip reads past the end of the container the current token opened, when
// it is BeginObject or BeginArray, so that the next token follows the
// whole value; after any other token it does nothing. It returns false
// when the scanner is Invalid.
func (s *Scanner) Skip() bool {
	if s.kind != BeginObject && s.kind != BeginArray {
		return s.kind != Invalid
	}
	for d := s.depth; s.depth >= d; {
		if s.Next() == Invalid {
			return false
		}
	}
	return true
}
