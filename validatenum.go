package trove

import (
	"bytes"
	"encoding/json"
	"math/big"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// maxMessageNumber is how many characters of a number a validation
// message shows before it cuts the number short with "…".
const maxMessageNumber = 40

// numberMessage words the failure of a numeric keyword (minimum, maximum,
// exclusiveMinimum, exclusiveMaximum, multipleOf) when the library's own
// words would be wrong: it prints both numbers as float64, so a payload's
// 1e9999999 (respelled for the validator, see validationInstance) showed
// as ∞, 9e-9999999 as 0, and 1.0000000000000000000000001 as 1. When
// either number is not a float64 exactly, the payload's number is shown
// as written (found at instance, a JSON pointer, in the payload root()
// decodes) and the schema's exactly; ok is false for every other failure,
// whose message stays the library's.
func numberMessage(k jsonschema.ErrorKind, instance string, root func() any) (msg string, ok bool) {
	var name string
	var got, want *big.Rat
	switch k := k.(type) {
	case *kind.Minimum:
		name, got, want = "minimum", k.Got, k.Want
	case *kind.Maximum:
		name, got, want = "maximum", k.Got, k.Want
	case *kind.ExclusiveMinimum:
		name, got, want = "exclusiveMinimum", k.Got, k.Want
	case *kind.ExclusiveMaximum:
		name, got, want = "exclusiveMaximum", k.Got, k.Want
	case *kind.MultipleOf:
		name, got, want = "multipleOf", k.Got, k.Want
	default:
		return "", false
	}
	if got == nil || want == nil || floatExact(got) && floatExact(want) {
		return "", false
	}
	gotText, found := numberAt(root(), instance)
	if !found {
		gotText = ratText(got)
	}
	return name + ": got " + shortNumber(gotText) + ", want " + shortNumber(ratText(want)), true
}

// floatExact tells whether r is a finite float64 exactly.
func floatExact(r *big.Rat) bool {
	_, exact := r.Float64()
	return exact
}

// ratText is r as an exact decimal. r comes from a JSON number, so its
// denominator is a product of powers of 2 and 5, and as many decimal
// places as its bit length are always enough.
func ratText(r *big.Rat) string {
	if r.IsInt() {
		return r.Num().String()
	}
	s := r.FloatString(r.Denom().BitLen())
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// shortNumber cuts a number's text after maxMessageNumber characters.
func shortNumber(s string) string {
	if len(s) <= maxMessageNumber {
		return s
	}
	return s[:maxMessageNumber] + "…"
}

// payloadRoot returns a function that decodes doc, numbers as written, the
// first time it is called, and returns that value every time (nil when doc
// does not decode).
func payloadRoot(doc []byte) func() any {
	var v any
	done := false
	return func() any {
		if !done {
			done = true
			d := json.NewDecoder(bytes.NewReader(doc))
			d.UseNumber()
			if d.Decode(&v) != nil {
				v = nil
			}
		}
		return v
	}
}

// numberAt is the text of the number at the JSON pointer ptr in v, which
// payloadRoot decoded, as written there.
func numberAt(v any, ptr string) (string, bool) {
	if ptr != "" {
		if !strings.HasPrefix(ptr, "/") {
			return "", false
		}
		for _, tok := range strings.Split(ptr[1:], "/") {
			tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
			switch x := v.(type) {
			case map[string]any:
				e, ok := x[tok]
				if !ok {
					return "", false
				}
				v = e
			case []any:
				i, err := strconv.Atoi(tok)
				if err != nil || i < 0 || i >= len(x) {
					return "", false
				}
				v = x[i]
			default:
				return "", false
			}
		}
	}
	n, ok := v.(json.Number)
	return string(n), ok
}
