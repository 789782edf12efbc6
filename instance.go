package trove

import (
	"bytes"
	"encoding/json"

	"github.com/trovedb/trove/internal/jsonscan"
)

// decodeInstance decodes doc, a JSON document that checkJSONText accepted
// (valid, strict UTF-8, no repeated key), into the values
// jsonschema.UnmarshalJSON gives for it: map[string]any, []any, string,
// json.Number (the number's own text), bool and nil, in one pass of the
// shared tokenizer. ok is false when doc is not JSON (the caller then
// decodes it the usual way, which says what is wrong).
func decodeInstance(doc []byte) (v any, ok bool) {
	v, _, ok = decodeInstanceNumbers(doc)
	return v, ok
}

// decodeInstanceNumbers is decodeInstance, and also reports whether every
// number of doc is short: at most validateExpLimit characters and no
// exponent part. Such a number has at most validateExpLimit significant
// digits and its decimal exponent within ±validateExpLimit, so
// validationInstance would return the decoded value as it is.
func decodeInstanceNumbers(doc []byte) (v any, short, ok bool) {
	return decodeInstanceMembers(doc, nil)
}

// decodeInstanceMembers is decodeInstanceNumbers that, when keep is not
// nil and doc is an object, leaves out of the decoded object the members
// whose name keep lacks (see rootMembers). short still covers every
// number of doc, those left out too.
func decodeInstanceMembers(doc []byte, keep map[string]bool) (v any, short, ok bool) {
	d := instanceDecoder{s: jsonscan.New(doc), short: true, keep: keep}
	v, ok = d.value(d.s.Next())
	if !ok || d.s.Next() != jsonscan.End {
		return nil, false, false
	}
	return v, d.short, true
}

type instanceDecoder struct {
	s     jsonscan.Scanner
	short bool            // every number read so far is short
	keep  map[string]bool // nil: every member of the root object
}

// value decodes the value whose first token d.s has just read (k).
func (d *instanceDecoder) value(k jsonscan.Kind) (any, bool) {
	s := &d.s
	switch k {
	case jsonscan.BeginObject:
		keep := d.keep
		d.keep = nil // only the root object is narrowed
		m := map[string]any{}
		for k = s.Next(); k != jsonscan.EndObject; k = s.Next() {
			if k != jsonscan.Key {
				return nil, false
			}
			if keep != nil && !kept(keep, s) {
				if !d.skip(s.Next()) {
					return nil, false
				}
				continue
			}
			key := instanceText(s)
			v, ok := d.value(s.Next())
			if !ok {
				return nil, false
			}
			m[key] = v
		}
		return m, true
	case jsonscan.BeginArray:
		d.keep = nil
		a := make([]any, 0)
		for k = s.Next(); k != jsonscan.EndArray; k = s.Next() {
			v, ok := d.value(k)
			if !ok {
				return nil, false
			}
			a = append(a, v)
		}
		return a, true
	case jsonscan.String:
		return instanceText(s), true
	case jsonscan.Number:
		d.number(s.Raw())
		return json.Number(s.Raw()), true
	case jsonscan.True:
		return true, true
	case jsonscan.False:
		return false, true
	case jsonscan.Null:
		return nil, true
	}
	return nil, false
}

// number notes whether the number raw is short.
func (d *instanceDecoder) number(raw []byte) {
	if d.short && (len(raw) > validateExpLimit || bytes.IndexAny(raw, "eE") >= 0) {
		d.short = false
	}
}

// skip reads past the value whose first token d.s has just read (k),
// noting its numbers.
func (d *instanceDecoder) skip(k jsonscan.Kind) bool {
	depth := 0
	for {
		switch k {
		case jsonscan.BeginObject, jsonscan.BeginArray:
			depth++
		case jsonscan.EndObject, jsonscan.EndArray:
			if depth--; depth < 0 {
				return false
			}
		case jsonscan.Number:
			d.number(d.s.Raw())
		case jsonscan.Key, jsonscan.String, jsonscan.True, jsonscan.False, jsonscan.Null:
		default:
			return false
		}
		if depth == 0 {
			return true
		}
		k = d.s.Next()
	}
}

// kept says whether the name of the key s is at is in keep.
func kept(keep map[string]bool, s *jsonscan.Scanner) bool {
	if s.Escaped() {
		return keep[string(s.AppendText(nil))]
	}
	return keep[string(s.RawText())] // no copy is made
}

// instanceText is the text of the string or key s is at.
func instanceText(s *jsonscan.Scanner) string {
	if s.Escaped() {
		return string(s.AppendText(nil))
	}
	return string(s.RawText())
}
