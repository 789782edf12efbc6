// Package jsonscan is Trove's one JSON tokenizer: a fast scanner of the
// tokens of a JSON document held in a byte slice, on which every part of
// Trove that reads JSON without decoding it is built (the strict check of
// client JSON, payload term extraction and lookups, the search index's
// documents, the query's raw payload checks).
//
// # Reading tokens
//
// New (or NewStrict) makes a Scanner of one JSON value; each Next reads one
// token and returns its Kind:
//
//	s := jsonscan.New(payload)
//	for {
//		switch s.Next() {
//		case jsonscan.Invalid:
//			return s.Err() // a *SyntaxError
//		case jsonscan.End:
//			return nil // the value is complete, nothing but white space follows
//		case jsonscan.Key:
//			// s.RawText() / s.AppendText(buf): the member's key
//		case jsonscan.String, jsonscan.Number, jsonscan.True, jsonscan.False, jsonscan.Null:
//			// s.Raw(): the token as in the input
//		case jsonscan.BeginObject, jsonscan.EndObject, jsonscan.BeginArray, jsonscan.EndArray:
//			// s.Depth(): the containers open after the token
//		}
//	}
//
// Keys come as Key tokens, string values as String tokens, so that a
// consumer needs no state of its own to tell them apart. The punctuation
// between tokens (':', ',') and white space are checked by Next and never
// returned. The grammar is RFC 8259's, exactly as encoding/json accepts it
// (json.Valid agrees on every input; the package's fuzz target holds it to
// that), with encoding/json's nesting limit, MaxDepth.
//
// Skip, after a BeginObject or BeginArray, reads up to the end of that
// container, checking it as Next does: "skip the value of this key" is
// Next then Skip. A copy of the Scanner is a saved position: restoring it
// reads again from there (lookups that must find the last of repeated keys
// use it).
//
// # Strings and numbers
//
// Nothing is decoded unless asked for. Raw returns the token's bytes, a
// string's quotes included; RawText a string's bytes between its quotes.
// Escaped reports whether the string holds a backslash: when it does not,
// RawText is its text, with no copy. AppendText (or AppendUnquoted on
// RawText) decodes a string as encoding/json does: escapes resolved,
// surrogate pairs joined, invalid UTF-8 and lone surrogate escapes replaced
// by U+FFFD. Numbers are returned as their text (Raw), checked against
// JSON's number grammar but not converted: converting is the consumer's
// choice (float64, an exact canonical form, a comparison of texts).
//
// # Strict scanning
//
// New follows encoding/json, which takes bytes ≥ 0x80 in strings as they
// are and accepts "\ud800". NewStrict also refuses, in keys and string
// values, invalid UTF-8 (ErrUTF8, ErrKeyUTF8) and a \u escape of a
// surrogate that is not a high one followed by a low one (ErrSurrogate):
// what Trove refuses in any JSON a client sends (RFC 8259 §8.1, I-JSON RFC
// 7493 §2.1). The strict scanner's strings are then valid UTF-8 once
// decoded, and AppendText replaces nothing.
//
// Compact reports whether the scanner has skipped any white space: at End,
// whether json.Compact would leave the document unchanged.
//
// Keys is the rest of Trove's strict check: fed the BeginObject, EndObject
// and Key tokens of a document, it finds an object naming one key twice
// (compared after unescaping). trove.CheckJSON runs it beside a strict
// scanner; index.TermWriter.AppendChecked runs it in the walk that
// extracts a payload's terms, so that staging checks and extracts in one
// pass.
//
// # Errors
//
// A syntax error makes the scanner Invalid for good; Err returns a
// *SyntaxError holding the byte offset of the problem and one of the
// sentinel errors (ErrUnexpectedEnd, ErrWantKey, ErrNumber, …), to test
// with errors.Is. Its text reads "JSON at offset 12: want a key", the form
// Trove's API shows clients.
//
// # Costs and ownership
//
// A Scanner is a value of a dozen words and allocates nothing, except a
// few words for nesting deeper than 64 levels and the *SyntaxError of a
// failed scan. It reads its input in place: Raw and RawText alias it, and
// the input must not change while the scanner is used. Strings are
// scanned eight bytes at a time. A Scanner is not safe for concurrent
// use; distinct Scanners of the same input are.
package jsonscan
