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
	d := instanceDecoder{s: jsonscan.New(doc), short: true}
	v, ok = d.value(d.s.Next())
	if !ok || d.s.Next() != jsonscan.End {
		return nil, false, false
	}
	return v, d.short, true
}

type instanceDecoder struct {
	s     jsonscan.Scanner
	short bool // every number read so far is short
}

// value decodes the value whose first token d.s has just read (k).
func (d *instanceDecoder) value(k jsonscan.Kind) (any, bool) {
	s := &d.s
	switch k {
	case jsonscan.BeginObject:
		m := map[string]any{}
		for k = s.Next(); k != jsonscan.EndObject; k = s.Next() {
			if k != jsonscan.Key {
				return nil, false
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
		raw := s.Raw()
		if d.short && (len(raw) > validateExpLimit || bytes.IndexAny(raw, "eE") >= 0) {
			d.short = false
		}
		return json.Number(raw), true
	case jsonscan.True:
		return true, true
	case jsonscan.False:
		return false, true
	case jsonscan.Null:
		return nil, true
	}
	return nil, false
}

// instanceText is the text of the string or key s is at.
func instanceText(s *jsonscan.Scanner) string {
	if s.Escaped() {
		return string(s.AppendText(nil))
	}
	return string(s.RawText())
}
