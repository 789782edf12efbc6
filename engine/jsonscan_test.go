package engine

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/trovedb/trove"
)

// jsonSamples are documents around every branch of alreadyCompact.
var jsonSamples = []string{
	`{}`, `{"a":1}`, `{"a":-0.5e+10,"b":[],"c":{},"d":[1,"x",true,false,null,{"e":[[]]}]}`,
	`{"s":"\"\\\/\b\f\n\r\t\u00e9\uD83D\uDE00"}`, `{"u":"é日本\xff"}`, `{"a":0,"b":-1,"c":1.25,"d":1E3,"e":1e-3}`,
	`{"a":[1,2,3],"b":{"c":{"d":{"e":"f"}}}}`, `{"a":"x","a":"y"}`,
	// not compact, or not valid, or not an object
	` {}`, `{} `, `{ }`, `{"a": 1}`, `{"a":1 }`, "{\"a\":\n1}", `[]`, `"x"`, `1`, `null`, ``, `{`, `}`,
	`{"a"}`, `{"a":}`, `{"a":1,}`, `{,}`, `{"a":[1,]}`, `{"a":[,1]}`, `{"a":01}`, `{"a":1.}`, `{"a":.5}`,
	`{"a":1e}`, `{"a":-}`, `{"a":+1}`, `{"a":tru}`, `{"a":truex}`, `{"a":nul}`, `{"a":"\x01"}`,
	`{"a":"\q"}`, `{"a":"\u12"}`, `{"a":"\u12g4"}`, `{"a":"unterminated}`, `{"a":1}{}`, `{"a":1}x`,
	`{"a":[1}`, `{"a":{]}`, `{1:2}`, `{"a":1 ,"b":2}`, `{"a":NaN}`, `{"a":"\"}`,
}

// TestAlreadyCompact: alreadyCompact says true only for objects json.Compact
// accepts and leaves unchanged and trove.CheckJSON accepts, and does say
// true for such compact objects.
func TestAlreadyCompact(t *testing.T) {
	for _, s := range jsonSamples {
		checkCompactObject(t, []byte(s))
	}
	for i := range 50 {
		e := benchEvent(i)
		if !alreadyCompact(e.Payload) {
			t.Fatalf("compact payload %s not recognised", e.Payload)
		}
	}
	deep := bytes.Repeat([]byte(`{"a":`), 10001)
	deep = append(deep, '1')
	deep = append(deep, bytes.Repeat([]byte(`}`), 10001)...)
	if alreadyCompact(deep) {
		t.Fatal("nesting past encoding/json's limit took the fast path")
	}
}

func checkCompactObject(t *testing.T, b []byte) {
	t.Helper()
	got := alreadyCompact(b)
	var buf bytes.Buffer
	err := json.Compact(&buf, b)
	want := err == nil && len(b) > 0 && b[0] == '{' && bytes.Equal(buf.Bytes(), b) && trove.CheckJSON(b) == nil
	if got && !want {
		t.Fatalf("alreadyCompact(%q) = true; json.Compact: %q, %v", b, buf.Bytes(), err)
	}
	if !got && want {
		t.Fatalf("alreadyCompact(%q) = false for a compact object", b)
	}
}

func FuzzCompactObject(f *testing.F) {
	for _, s := range jsonSamples {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkCompactObject(t, b) })
}
