package httpapi

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/trovedb/trove"
)

// fieldCases are field values: the shapes the fast readers take (first)
// and every shape they must leave to encoding/json.
var (
	fastFieldCases = []string{
		`"web-api"`, ` "a b" `, `""`, `{"id":"e1","version":2}`, `{"version":1,"id":"x"}`, `{"id":"x"}`, `{}`, ` { "id" : "x" , "version" : -0 } `,
		`[]`, ` [ ] `, `[{"type":"parent","targetEvent":{"id":"a"}}]`, `[{"targetEvent":{"id":"a","version":3},"type":"t"},{"type":"u","targetEvent":{"id":"b"}}]`, `[{}]`,
	}
	slowFieldCases = []string{
		``, `null`, `1`, `true`, `"a\"b"`, `"a\\b"`, `"\u0041"`, `"é"`, "\"\xff\"", "\"a\tb\"", `"a"b"`, `"unterminated`, `"`,
		`{"ID":"x"}`, `{"id":"x","Version":1}`, `{"id":"x","version":1.5}`, `{"id":"x","version":1e2}`, `{"id":"x","version":"1"}`, `{"id":"x","version":99999999999999999999}`,
		`{"id":null}`, `{"id":"x","version":null}`, `{"id":1}`, `{"id":"x","extra":1}`, `{"id":"x","id":"y"}`, `{"i\u0064":"x"}`, `{"id":"\u00e9"}`, `{"id":"x"`, `{"id":"x"} x`, `[]`,
		`[null]`, `[1]`, `[{"type":"t","targetEvent":{"id":"a"},"metadata":{"m":1}}]`, `[{"type":"t","targetEvent":null}]`, `[{"type":"t","targetEvent":{"id":"a"},"sourceEvent":{"id":"b"}}]`,
		`[{"Type":"t"}]`, `[{"type":1}]`, `[{"type":"t","type":"u"}]`, `[{"type":"é"}]`, `[{"type":"t","targetEvent":{"id":"a","x":1}}]`, `[{"type":"t"},]`, `[{"type":"t"}`, `[] []`, `{}`,
	}
)

// Each fast reader answers only what json.Unmarshal answers.
func TestFieldReadersMatchEncodingJSON(t *testing.T) {
	for _, c := range append(append([]string{}, fastFieldCases...), slowFieldCases...) {
		checkFieldReaders(t, []byte(c))
	}
	// The shapes clients send take the fast readers.
	for _, c := range fastFieldCases {
		_, str := plainText([]byte(c))
		_, id := eventIDOf([]byte(c))
		_, links := linksOf([]byte(c))
		if !str && !id && !links && !isEmptyArray([]byte(c)) {
			t.Errorf("%s: no fast reader took it", c)
		}
	}
	for _, c := range slowFieldCases[:13] {
		if _, ok := plainText([]byte(c)); ok {
			t.Errorf("%q: read as plain text", c)
		}
	}
}

func checkFieldReaders(t *testing.T, raw []byte) {
	t.Helper()
	if got, ok := plainText(raw); ok {
		var want string
		if err := json.Unmarshal(raw, &want); err != nil || got != want {
			t.Errorf("plainText(%q) = %q; json.Unmarshal: %q, %v", raw, got, want, err)
		}
	}
	var want string
	werr := json.Unmarshal(raw, &want)
	var got string
	if err := unmarshalString(raw, &got); (err == nil) != (werr == nil) || got != want {
		t.Errorf("unmarshalString(%q) = %q, %v; json.Unmarshal: %q, %v", raw, got, err, want, werr)
	}
	if got, ok := eventIDOf(raw); ok {
		var want trove.EventID
		if err := json.Unmarshal(raw, &want); err != nil || got != want {
			t.Errorf("eventIDOf(%q) = %+v; json.Unmarshal: %+v, %v", raw, got, want, err)
		}
	}
	if got, ok := linksOf(raw); ok {
		var want []trove.EventLink
		if err := json.Unmarshal(raw, &want); err != nil || !reflect.DeepEqual(got, want) || got == nil {
			t.Errorf("linksOf(%q) = %#v; json.Unmarshal: %#v, %v", raw, got, want, err)
		}
	}
	if isEmptyArray(raw) {
		var want []trove.EventFile
		if err := json.Unmarshal(raw, &want); err != nil || want == nil || len(want) != 0 {
			t.Errorf("isEmptyArray(%q); json.Unmarshal: %#v, %v", raw, want, err)
		}
	}
}

func FuzzFieldReaders(f *testing.F) {
	for _, c := range fastFieldCases {
		f.Add(c)
	}
	for _, c := range slowFieldCases {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, s string) { checkFieldReaders(t, []byte(s)) })
}
