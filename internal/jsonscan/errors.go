package jsonscan

import (
	"errors"
	"strconv"
)

// The sentinel errors: every error a Scanner reports is a *SyntaxError
// wrapping one of them, so errors.Is tells the problem and the
// SyntaxError's Offset tells where it is.
var (
	// ErrUnexpectedEnd: the input ends inside a value.
	ErrUnexpectedEnd = errors.New("unexpected end")
	// ErrWantKey: an object holds something other than a string where a
	// key belongs (after '{' or ',').
	ErrWantKey = errors.New("want a key")
	// ErrWantColon: a key is not followed by ':'.
	ErrWantColon = errors.New("want ':'")
	// ErrWantValue: something other than a value where a value belongs.
	ErrWantValue = errors.New("want a value")
	// ErrTrailing: more than white space after the top-level value.
	ErrTrailing = errors.New("data after the value")
	// ErrWantObjectEnd: an object member is followed by neither ',' nor
	// '}'.
	ErrWantObjectEnd = errors.New("want ',' or the end of the object")
	// ErrWantArrayEnd: an array element is followed by neither ',' nor
	// ']'.
	ErrWantArrayEnd = errors.New("want ',' or the end of the array")
	// ErrDepth: a container would open more than MaxDepth levels deep.
	ErrDepth = errors.New("nested deeper than " + strconv.Itoa(MaxDepth))
	// ErrNumber: a number that is not in JSON's grammar (01, 1., .5, -,
	// 1e, +1).
	ErrNumber = errors.New("bad number")
	// ErrUnterminated: a string without its closing quote.
	ErrUnterminated = errors.New("unterminated string")
	// ErrControl: a byte below 0x20 inside a string.
	ErrControl = errors.New("control character in a string")
	// ErrEscape: a backslash followed by a character JSON does not
	// escape.
	ErrEscape = errors.New("bad escape")
	// ErrUnicodeEscape: \u not followed by four hex digits.
	ErrUnicodeEscape = errors.New(`bad \u escape`)
	// ErrSurrogate (strict scanners only): a \u escape of a UTF-16
	// surrogate that is not a high surrogate followed by a low one.
	ErrSurrogate = errors.New("unpaired surrogate in a string")
	// ErrUTF8 (strict scanners only): a string value holding invalid
	// UTF-8.
	ErrUTF8 = errors.New("invalid UTF-8 in a string")
	// ErrKeyUTF8 (strict scanners only): an object key holding invalid
	// UTF-8.
	ErrKeyUTF8 = errors.New("invalid UTF-8 in a key")
)

// SyntaxError is a problem in the input and where it is.
type SyntaxError struct {
	// Offset is the byte offset of the problem: the offending byte, the
	// backslash of a bad escape, the quote of an unterminated string, the
	// first byte of a bad number, or the input's length when it ends
	// early.
	Offset int
	// Err is one of the package's sentinel errors.
	Err error
}

// Error reads "JSON at offset 12: want a key".
func (e *SyntaxError) Error() string {
	return "JSON at offset " + strconv.Itoa(e.Offset) + ": " + e.Err.Error()
}

// Unwrap returns the sentinel error.
func (e *SyntaxError) Unwrap() error { return e.Err }
