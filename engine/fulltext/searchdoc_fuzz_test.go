package fulltext

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"testing"

	"github.com/blevesearch/bleve/v2/numeric"
	"github.com/trovedb/trove"
)

// badPayloads are payloads the document builder refuses with errSearchJSON.
var badPayloads = []struct{ name, payload string }{
	{"empty", ``},
	{"space", `  `},
	{"truncated object", `{"a":`},
	{"truncated member", `{"a":1,`},
	{"unclosed object", `{"a":1`},
	{"unclosed array", `{"a":[1,2`},
	{"missing colon", `{"a" 1}`},
	{"missing comma", `{"a":1 "b":2}`},
	{"bare key", `{a:1}`},
	{"trailing comma", `{"a":1,}`},
	{"array trailing comma", `{"a":[1,]}`},
	{"trailing garbage", `{"a":1} x`},
	{"two values", `{} {}`},
	{"unclosed string", `{"a":"b}`},
	{"bad escape", `{"a":"\x"}`},
	{"short unicode escape", `{"a":"\u12"}`},
	{"control character", "{\"a\":\"\x01\"}"},
	{"leading zero", `{"a":01}`},
	{"bare minus", `{"a":-}`},
	{"bare point", `{"a":1.}`},
	{"bare exponent", `{"a":1e}`},
	{"plus sign", `{"a":+1}`},
	{"truncated true", `{"a":tru}`},
	{"truncated null", `{"a":nul`},
	{"word", `{"a":yes}`},
	{"single quotes", `{'a':1}`},
}

// TestSearchDocBadPayloads: a malformed payload gives errSearchJSON and no
// document.
func TestSearchDocBadPayloads(t *testing.T) {
	for _, c := range badPayloads {
		t.Run(c.name, func(t *testing.T) {
			doc, err := buildSearchDoc(1, []byte(c.payload))
			if !errors.Is(err, errSearchJSON) || doc != nil {
				t.Fatalf("%q: %v, document %v", c.payload, err, doc)
			}
		})
	}
}

// docTerms returns the terms of the fields of the document of payload at
// position 1, by kind and name ("t:a.b", "n:a.b", "b:a.b": text, numeric,
// boolean); a boolean field holds the term "b".
func docTerms(payload []byte) (map[string]map[string]bool, error) {
	doc, err := buildSearchDoc(1, payload)
	if err != nil {
		return nil, err
	}
	got := map[string]map[string]bool{}
	for _, f := range doc.Fields {
		f.Analyze()
		key := string(f.EncodedFieldType()) + ":" + f.Name()
		if got[key] == nil {
			got[key] = map[string]bool{}
		}
		if f.EncodedFieldType() == 'b' {
			got[key]["b"] = true
			continue
		}
		for k := range f.AnalyzedTokenFrequencies() {
			got[key][k] = true
		}
	}
	return got, nil
}

// wantTerms returns the terms a decoded payload's document must hold, as
// docTerms gives them: every string's tokens under its path, every
// number's finest term, every boolean's field, the position's terms.
func wantTerms(v any) map[string]map[string]bool {
	want := map[string]map[string]bool{}
	add := func(key, term string) {
		if want[key] == nil {
			want[key] = map[string]bool{}
		}
		if term != "" {
			want[key][term] = true
		}
	}
	var walk func(v any, path string)
	walk = func(v any, path string) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				p := k
				if path != "" {
					p = path + "." + k
				}
				walk(e, p)
			}
		case []any:
			for _, e := range x {
				walk(e, path)
			}
		case string:
			if path == "" {
				return
			}
			add("t:"+searchFieldName(path), "") // even without tokens
			for _, tok := range trove.Tokenize(x) {
				add("t:"+searchFieldName(path), tok)
			}
		case json.Number:
			if path != "" {
				add("n:"+searchFieldName(path), string(numeric.MustNewPrefixCodedInt64(numeric.Float64ToInt64(searchFloat(string(x))), searchNumMin)))
			}
		case bool:
			if path != "" {
				add("b:"+searchFieldName(path), "b")
			}
		}
	}
	walk(v, "")
	for _, shift := range searchPosShifts {
		add("n:"+searchPosField, string(searchPosTerm(1, shift)))
	}
	return want
}

// FuzzSearchDoc: a payload Trove accepts gives a document holding exactly
// its strings' tokens and at least its numbers' finest terms and
// its booleans; any other input gives a document or errSearchJSON, never a
// panic.
func FuzzSearchDoc(f *testing.F) {
	for _, c := range badPayloads {
		f.Add([]byte(c.payload))
	}
	for _, s := range []string{
		`{}`, `[]`, `"x"`, `1`, `null`, `{"a":{"b":"Hello World","n":[1,"Two"]},"_all":"x","_id":{"k":true},"_trove_pos":3,"s":"İstanbul"}`,
		`{"a":[[1,2],[true,false,null]],"b":{"c":{"d":"x\"y\\u00e9z"}}}`, `{"n":-0,"m":1e400,"k":-1e-400,"j":123456789012345678901}`,
		` { "a" : [ "x" , { "b" : 2 } ] } `, `{"a.b":"x","a":{"b":"y"}}`, `{"":"empty key","a":{"":1}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		in := bytes.Clone(b)
		got, err := docTerms(b)
		if !bytes.Equal(in, b) {
			t.Fatalf("the payload was modified")
		}
		if err != nil {
			if !errors.Is(err, errSearchJSON) {
				t.Fatalf("%q: %v, not errSearchJSON", b, err)
			}
			if trove.CheckJSON(b) == nil {
				t.Fatalf("%q: refused (%v), Trove accepts it", b, err)
			}
			return
		}
		if trove.CheckJSON(b) != nil {
			return // invalid UTF-8 or a repeated key: indexed as it comes
		}
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		var v any
		if err := d.Decode(&v); err != nil {
			t.Fatalf("%q: %v", b, err)
		}
		want := wantTerms(v)
		if !slices.Equal(slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want))) {
			t.Fatalf("%q: fields %v, want %v", b, slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
		}
		for key, terms := range want {
			for term := range terms {
				if !got[key][term] {
					t.Fatalf("%q: field %s lacks %q", b, key, term)
				}
			}
			// Text fields hold nothing else (numeric ones hold coarser
			// terms besides).
			if key[0] != 'n' && len(got[key]) != len(terms) {
				t.Fatalf("%q: field %s holds %q, want %q", b, key, slices.Sorted(maps.Keys(got[key])), slices.Sorted(maps.Keys(terms)))
			}
		}
	})
}
