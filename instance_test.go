package trove

import (
	"bytes"
	"reflect"
	"strings"
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

// checkShortNumbers: decodeInstanceNumbers decodes as decodeInstance does,
// and when it says every number is short, validationInstance leaves the
// value as it is whatever the schema's numbers.
func checkShortNumbers(t *testing.T, doc []byte) {
	t.Helper()
	v, short, ok := decodeInstanceNumbers(doc)
	want, wantOK := decodeInstance(doc)
	if ok != wantOK || !reflect.DeepEqual(v, want) {
		t.Fatalf("%q: decodeInstanceNumbers = %#v %v, decodeInstance = %#v %v", doc, v, ok, want, wantOK)
	}
	if !ok || !short {
		return
	}
	for _, numLen := range []int{0, 1, 40, validateDigitLimit} {
		again, _ := decodeInstance(doc)
		got, err := validationInstance(again, numLen)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: short numbers, yet validationInstance = %#v, %v", doc, got, err)
		}
	}
}

func TestDecodeInstanceShortNumbers(t *testing.T) {
	long := "1" + strings.Repeat("0", validateExpLimit)
	tiny := "0." + strings.Repeat("0", validateExpLimit-3) + "1"
	for _, tc := range []struct {
		doc   string
		short bool
	}{
		{`{"a":1,"b":[2.5,-3,{"c":0.001}],"d":"1e999999"}`, true},
		{`{"a":` + tiny + `}`, true},
		{`{"a":"` + long + `"}`, true},
		{`{"a":` + long + `}`, false},
		{`{"a":[1,1e5]}`, false},
		{`{"a":1E-2}`, false},
		{`{"a":1e999999}`, false},
		{`{}`, true},
	} {
		_, short, ok := decodeInstanceNumbers([]byte(tc.doc))
		if !ok || short != tc.short {
			t.Errorf("%.60s: short = %v (ok %v), want %v", tc.doc, short, ok, tc.short)
		}
		checkShortNumbers(t, []byte(tc.doc))
	}
}

func FuzzDecodeInstanceShortNumbers(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `[1.5e3,-0.0001]`, `{"n":123456789012345678901234567890}`, `"x"`, `{"a":[null,true,{"b":-1}]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		if _, err := checkJSONText(doc); err != nil {
			return // only checked documents are decoded
		}
		checkShortNumbers(t, doc)
	})
}
