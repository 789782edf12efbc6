package trove

import (
	"bytes"
	"encoding/json"
	"strings"
)

// decodeInstance decodes doc, a JSON document that checkJSONText accepted
// (valid, strict UTF-8, no repeated key), into the values
// jsonschema.UnmarshalJSON gives for it: map[string]any, []any, string,
// json.Number (the number's own text), bool and nil. It skips what that
// decoder spends on checking again what was checked; ok is false when doc
// is not of that form (the caller then decodes it the usual way).
func decodeInstance(doc []byte) (v any, ok bool) {
	d := instanceDecoder{b: doc}
	v, ok = d.value()
	if !ok || d.skipSpace() != len(d.b) {
		return nil, false
	}
	return v, true
}

type instanceDecoder struct {
	b []byte
	i int
}

func (d *instanceDecoder) skipSpace() int {
	for d.i < len(d.b) && isSpace(d.b[d.i]) {
		d.i++
	}
	return d.i
}

func (d *instanceDecoder) value() (any, bool) {
	if d.skipSpace() == len(d.b) {
		return nil, false
	}
	switch c := d.b[d.i]; {
	case c == '{':
		d.i++
		m := map[string]any{}
		if d.skipSpace() < len(d.b) && d.b[d.i] == '}' {
			d.i++
			return m, true
		}
		for {
			if d.skipSpace() == len(d.b) || d.b[d.i] != '"' {
				return nil, false
			}
			k, ok := d.str()
			if !ok || d.skipSpace() == len(d.b) || d.b[d.i] != ':' {
				return nil, false
			}
			d.i++
			v, ok := d.value()
			if !ok {
				return nil, false
			}
			m[k] = v
			if d.skipSpace() == len(d.b) {
				return nil, false
			}
			switch d.b[d.i] {
			case ',':
				d.i++
			case '}':
				d.i++
				return m, true
			default:
				return nil, false
			}
		}
	case c == '[':
		d.i++
		a := make([]any, 0)
		if d.skipSpace() < len(d.b) && d.b[d.i] == ']' {
			d.i++
			return a, true
		}
		for {
			v, ok := d.value()
			if !ok {
				return nil, false
			}
			a = append(a, v)
			if d.skipSpace() == len(d.b) {
				return nil, false
			}
			switch d.b[d.i] {
			case ',':
				d.i++
			case ']':
				d.i++
				return a, true
			default:
				return nil, false
			}
		}
	case c == '"':
		return d.str()
	case c == 't':
		return true, d.literal("true")
	case c == 'f':
		return false, d.literal("false")
	case c == 'n':
		return nil, d.literal("null")
	case c == '-' || isDigit(c):
		start := d.i
		for d.i < len(d.b) && (isDigit(d.b[d.i]) || strings.IndexByte("+-.eE", d.b[d.i]) >= 0) {
			d.i++
		}
		return json.Number(d.b[start:d.i]), true
	}
	return nil, false
}

func (d *instanceDecoder) literal(word string) bool {
	if !bytes.HasPrefix(d.b[d.i:], []byte(word)) {
		return false
	}
	d.i += len(word)
	return true
}

// str decodes the string starting at b[i]: its bytes when it has no
// escape, else what encoding/json makes of it.
func (d *instanceDecoder) str() (string, bool) {
	start, esc := d.i, false
	for j := d.i + 1; j < len(d.b); j++ {
		switch d.b[j] {
		case '\\':
			esc = true
			j++
		case '"':
			d.i = j + 1
			if !esc {
				return string(d.b[start+1 : j]), true
			}
			var s string
			if json.Unmarshal(d.b[start:d.i], &s) != nil {
				return "", false
			}
			return s, true
		}
	}
	return "", false
}
