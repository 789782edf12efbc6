package trove

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

var instanceCases = []string{
	`{}`, `[]`, `""`, `0`, `-1.5e+300`, `123456789012345678901234567890`, `true`, `false`, `null`,
	` { "a" : [ 1 , "x" , { } , [ ] , null , true ] , "b" : { "c" : -0.0 } } `,
	`{"s":"a\"b\\c\/d\u00e9\ud83d\ude00\n","k\"ey":"plain é 😀","":""}`,
	`[[[[[[[[[[1]]]]]]]]]]`, `{"n":1E5,"m":1e-7,"o":0.1}`,
}

// decodeInstance gives what jsonschema.UnmarshalJSON gives, for every
// document checkJSONText accepts.
func TestDecodeInstanceMatchesJSONSchemaDecoder(t *testing.T) {
	for _, c := range instanceCases {
		checkInstance(t, []byte(c))
	}
	for _, bad := range []string{``, `{`, `[1,]`, `{"a" 1}`, `tru`, `"x`, `1 2`, `{"a":1}}`} {
		if v, ok := decodeInstance([]byte(bad)); ok {
			t.Errorf("%q decoded to %#v", bad, v)
		}
	}
}

func checkInstance(t *testing.T, doc []byte) {
	t.Helper()
	want, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatalf("%q: jsonschema: %v", doc, err)
	}
	got, ok := decodeInstance(doc)
	if !ok {
		t.Fatalf("%q: not decoded", doc)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: %#v, want %#v", doc, got, want)
	}
}

func FuzzDecodeInstance(f *testing.F) {
	for _, c := range instanceCases {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, s string) {
		doc := []byte(s)
		if _, err := checkJSONText(doc); err != nil {
			decodeInstance(doc) // never given such input; must not panic
			return
		}
		checkInstance(t, doc)
	})
}
