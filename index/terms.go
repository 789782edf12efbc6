package index

import (
	"encoding/binary"
	"encoding/json"
	"errors"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/trovedb/trove"
	"github.com/trovedb/trove/internal/jsonscan"
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

// LookupValue finds the scalar at keys in a JSON object, following objects
// only and taking the last occurrence of a repeated key (as a JSON decoder
// does), and returns its value key (see ValueKey). ok is false when a key is
// missing, a step is not an object, or the value is an object or an array.
// It answers exactly what trove.PayloadTerm.Match asks, without decoding the
// payload.
func LookupValue(payload []byte, keys []string) (value string, ok bool) {
	if len(keys) == 0 {
		return "", false
	}
	s := jsonscan.New(payload)
	k := s.Next()
	var text []byte // an escaped key's text
	for _, key := range keys {
		if k != jsonscan.BeginObject {
			return "", false
		}
		var found jsonscan.Scanner // at the last member named key
		hit := false
		for k = s.Next(); k != jsonscan.EndObject; k = s.Next() {
			if k != jsonscan.Key {
				return "", false
			}
			if s.Escaped() {
				text = s.AppendText(text[:0])
				if string(text) == key {
					found, hit = s, true
				}
			} else if string(s.RawText()) == key {
				found, hit = s, true
			}
			s.Next()
			if !s.Skip() {
				return "", false
			}
		}
		if !hit {
			return "", false
		}
		s = found
		k = s.Next()
	}
	switch k {
	case jsonscan.String:
		return string(appendText(append(text[:0], KindString), &s)), true
	case jsonscan.Number:
		n, ok := NormalizeNumber(string(s.Raw()))
		return string(KindNumber) + n, ok
	case jsonscan.True:
		return string(KindBool) + "1", true
	case jsonscan.False:
		return string(KindBool) + "0", true
	case jsonscan.Null:
		return string(KindNull), true
	}
	return "", false // an object, an array, or malformed
}

// appendText appends the text of the string s is at: its bytes as they
// are when it has no escapes, else as encoding/json decodes it.
func appendText(dst []byte, s *jsonscan.Scanner) []byte {
	if s.Escaped() {
		return s.AppendText(dst)
	}
	return append(dst, s.RawText()...)
}

// walker finds a payload's terms: every scalar of the JSON object reached
// through objects only (arrays are not descended, as payload equality
// never looks into them), as its dotted path and its value key. The path
// and the value key are built in reusable buffers and handed to fn as
// bytes, valid only during the call. Malformed JSON ends the walk early;
// the index is a superset filter, so nothing is lost by that beyond the
// terms not emitted (queries verify every candidate).
type walker struct {
	path []byte
	val  []byte
	fn   func(path, value []byte) // takes each term; nil: they are encoded into out
	out  []byte                   // the encoded terms (TermWriter)
	keys jsonscan.Keys            // AppendChecked's repeated-key check
}

// TermWriter extracts a payload's terms ahead of AddBatch, so that a caller
// can do that work on its own goroutine (Doc.Terms). Its zero value is
// ready; it is not safe for concurrent use.
type TermWriter struct{ w walker }

// Append appends the terms of payload (a JSON object) to dst in the
// encoding Doc.Terms holds, and returns the extended slice.
func (t *TermWriter) Append(dst, payload []byte) []byte {
	t.w.out = dst
	walkTerms(payload, &t.w, nil)
	dst, t.w.out = t.w.out, nil
	if cap(t.w.path) > maxKeptScratch || cap(t.w.val) > maxKeptScratch {
		t.w.path, t.w.val = nil, nil // a rare huge key or value: not kept
	}
	return dst
}

// maxKeptScratch is the largest scratch buffer a TermWriter keeps between
// payloads.
const maxKeptScratch = 64 << 10

// AppendChecked is Append for a payload as a client sent it, in the same
// pass as the check a fast path needs: ok reports that payload is a JSON
// object trove.CheckJSONObject accepts as compact (valid JSON and UTF-8,
// no repeated key, no insignificant white space). When it is not, dst is
// returned as it was: the caller checks and compacts the payload the slow
// way, then extracts its terms with Append.
func (t *TermWriter) AppendChecked(dst, payload []byte) (out []byte, ok bool) {
	mark := len(dst)
	w := &t.w
	w.path, w.val = w.path[:0], w.val[:0]
	w.fn, w.out = nil, dst
	w.keys.Reset(payload)
	s := jsonscan.NewStrict(payload)
	ok = s.Next() == jsonscan.BeginObject && w.checkedObject(&s) && s.Next() == jsonscan.End && s.Compact()
	dst, w.out = w.out, nil
	w.keys.Reset(nil)
	if w.keys.Big() {
		w.keys = jsonscan.Keys{}
	}
	if cap(w.path) > maxKeptScratch || cap(w.val) > maxKeptScratch {
		w.path, w.val = nil, nil
	}
	if !ok {
		return dst[:mark], false
	}
	return dst, true
}

// checkedObject is object for AppendChecked: it checks the keys of the
// object s has just opened and of every object inside it, arrays
// included, and reports false on anything the strict check refuses.
func (w *walker) checkedObject(s *jsonscan.Scanner) bool {
	w.keys.Open()
	for {
		switch s.Next() {
		case jsonscan.EndObject:
			w.keys.Close()
			return true
		case jsonscan.Key:
		default:
			return false
		}
		if _, ok := w.keys.Key(s); !ok {
			return false
		}
		base := len(w.path)
		if base > 0 {
			w.path = append(w.path, '.')
		}
		w.path = appendText(w.path, s)
		var ok bool
		switch s.Next() {
		case jsonscan.BeginObject:
			ok = w.checkedObject(s)
		case jsonscan.BeginArray:
			ok = w.checkedSkip(s)
		default:
			ok = w.scalar(s)
		}
		w.path = w.path[:base]
		if !ok {
			return false
		}
	}
}

// checkedSkip reads up to the end of the array s has just opened,
// checking the keys of the objects in it.
func (w *walker) checkedSkip(s *jsonscan.Scanner) bool {
	for d := s.Depth(); s.Depth() >= d; {
		switch s.Next() {
		case jsonscan.Invalid:
			return false
		case jsonscan.BeginObject:
			w.keys.Open()
		case jsonscan.EndObject:
			w.keys.Close()
		case jsonscan.Key:
			if _, ok := w.keys.Key(s); !ok {
				return false
			}
		}
	}
	return true
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

// nextTermField splits the first field (a path or a value) off terms that
// eachTerm accepts.
func nextTermField(b []byte) (field, rest []byte) {
	n, w := binary.Uvarint(b)
	return b[w : w+int(n)], b[w+int(n):]
}

// walkTerms hands the terms of payload to fn, or encodes them into w.out
// when fn is nil.
func walkTerms(payload []byte, w *walker, fn func(path, value []byte)) {
	w.path, w.val, w.fn = w.path[:0], w.val[:0], fn
	s := jsonscan.New(payload)
	if s.Next() == jsonscan.BeginObject {
		w.object(&s)
	}
}

// object walks the members of the object s has just opened; false when
// the payload turns out malformed.
func (w *walker) object(s *jsonscan.Scanner) bool {
	for {
		switch s.Next() {
		case jsonscan.EndObject:
			return true
		case jsonscan.Key:
		default:
			return false
		}
		base := len(w.path)
		if base > 0 {
			w.path = append(w.path, '.')
		}
		w.path = appendText(w.path, s)
		ok := w.value(s)
		w.path = w.path[:base]
		if !ok {
			return false
		}
	}
}

// value walks the value of the member whose key s has just read.
func (w *walker) value(s *jsonscan.Scanner) bool {
	switch s.Next() {
	case jsonscan.BeginObject:
		return w.object(s)
	case jsonscan.BeginArray:
		return s.Skip()
	}
	return w.scalar(s)
}

// scalar emits the term of the scalar s has just read; false when s is at
// anything else.
func (w *walker) scalar(s *jsonscan.Scanner) bool {
	switch s.Kind() {
	case jsonscan.String:
		w.val = appendText(append(w.val[:0], KindString), s)
	case jsonscan.True:
		w.val = append(w.val[:0], KindBool, '1')
	case jsonscan.False:
		w.val = append(w.val[:0], KindBool, '0')
	case jsonscan.Null:
		w.val = append(w.val[:0], KindNull)
	case jsonscan.Number:
		raw := s.Raw()
		if plainInteger(raw) { // an integer of ≤ 18 digits is its own canonical form
			w.val = append(append(w.val[:0], KindNumber), raw...)
			break
		}
		var ok bool
		if w.val, ok = trove.AppendCanonicalNumber(append(w.val[:0], KindNumber), string(raw)); !ok {
			return false
		}
	default:
		return false
	}
	if w.fn != nil {
		w.fn(w.path, w.val)
		return true
	}
	w.out = binary.AppendUvarint(w.out, uint64(len(w.path)))
	w.out = append(w.out, w.path...)
	w.out = binary.AppendUvarint(w.out, uint64(len(w.val)))
	w.out = append(w.out, w.val...)
	return true
}

// pathMemo remembers the postings of the paths the index met while adding
// a run of events, by the rank of the term in its event: events of one
// shape list the same paths in the same order, so the rank finds a path's
// postings with one comparison of its bytes instead of two map lookups of
// its text. It is valid only while the index's lock is held (reset at each
// Add and AddBatch): between them other code may change the postings.
type pathMemo struct {
	slots []pathSlot
}

// pathSlot is what the memo knows of one path.
type pathSlot struct {
	path []byte
	hot  bool                       // past the guard: hashed postings (hotHead)
	vals map[string]*roaring.Bitmap // its exact postings; nil: look them up
}

func (m *pathMemo) reset() { m.slots = m.slots[:0] }

// at returns the slot of path, the k-th term of its event; k is at most
// the number of slots (a run's terms are ranked 0, 1, 2, … in order).
func (m *pathMemo) at(k int, path []byte, s *state) *pathSlot {
	if k < len(m.slots) && string(m.slots[k].path) == string(path) {
		return &m.slots[k]
	}
	k = min(k, len(m.slots)) // a slot is checked by its path, whatever its rank
	if k == len(m.slots) {
		if k < cap(m.slots) {
			m.slots = m.slots[:k+1] // keeps the slot's path buffer
		} else {
			m.slots = append(m.slots, pathSlot{})
		}
	}
	slot := &m.slots[k]
	slot.path = append(slot.path[:0], path...)
	slot.hot = s.hot[string(path)]
	slot.vals = nil
	if !slot.hot {
		slot.vals = s.terms[string(path)]
	}
	return slot
}

// setHot records that path went past the guard.
func (m *pathMemo) setHot(path []byte) {
	for i := range m.slots {
		if string(m.slots[i].path) == string(path) {
			m.slots[i].hot, m.slots[i].vals = true, nil
		}
	}
}
