package trove

import (
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
	s := jsonscan.New(doc)
	v, ok = instanceValue(&s, s.Next())
	if !ok || s.Next() != jsonscan.End {
		return nil, false
	}
	return v, true
}

// instanceValue decodes the value whose first token s has just read (k).
func instanceValue(s *jsonscan.Scanner, k jsonscan.Kind) (any, bool) {
	switch k {
	case jsonscan.BeginObject:
		m := map[string]any{}
		for k = s.Next(); k != jsonscan.EndObject; k = s.Next() {
			if k != jsonscan.Key {
				return nil, false
			}
			key := instanceText(s)
			v, ok := instanceValue(s, s.Next())
			if !ok {
				return nil, false
			}
			m[key] = v
		}
		return m, true
	case jsonscan.BeginArray:
		a := make([]any, 0)
		for k = s.Next(); k != jsonscan.EndArray; k = s.Next() {
			v, ok := instanceValue(s, k)
			if !ok {
				return nil, false
			}
			a = append(a, v)
		}
		return a, true
	case jsonscan.String:
		return instanceText(s), true
	case jsonscan.Number:
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

// instanceText is the text of the string or key s is at.
func instanceText(s *jsonscan.Scanner) string {
	if s.Escaped() {
		return string(s.AppendText(nil))
	}
	return string(s.RawText())
}
