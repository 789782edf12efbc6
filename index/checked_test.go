package index

import (
	"bytes"
	"testing"

	"github.com/trovedb/trove"
)

// checkedSamples: compact objects, and what the strict check refuses or
// finds not compact, at the top and inside arrays.
var checkedSamples = []string{
	`{"a":1,"b":{"c":"x","d":[{"e":1},{"e":2}]},"f":1.5e3,"g":null,"h":true}`,
	`{"a":1,"a":2}`, `{"a":{"b":1,"b":2}}`, `{"a":[{"b":1,"b":2}]}`, `{"a":[[{"b":1,"\u0062":2}]]}`,
	`{"a\u0062":1,"ab":2}`, `{"a":"\ud800"}`, "{\"a\":\"\xff\"}", "{\"\xff\":1}", `{"a":[1,"\udc00"]}`,
	` {"a":1}`, `{"a":1} `, `{"a": 1}`, `{"a":[1, 2]}`, `{"a":1}x`, `{"a":1`, `[1]`, `"s"`, `{}`, ``,
	`{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,"k11":11,"k12":12,"k13":13,"k14":14,"k15":15,"k16":16,"k3":0}`,
	`{"a.b":1,"a":{"b":2}}`, `{"":{"":1}}`, `{"n":-0.0,"m":12345678901234567890,"o":1e999999}`,
}

// checkAppendChecked holds AppendChecked to the slow path: it accepts b
// exactly when trove.CheckJSONObject finds it valid and compact, then
// appends the terms Append does, and otherwise leaves dst as it was.
func checkAppendChecked(t *testing.T, b []byte) {
	var tw TermWriter
	prefix := []byte("prefix")
	got, ok := tw.AppendChecked(bytes.Clone(prefix), b)
	compact, err := trove.CheckJSONObject(b)
	if want := err == nil && compact; ok != want {
		t.Fatalf("%q: AppendChecked ok %v; CheckJSONObject compact %v, err %v", b, ok, compact, err)
	}
	want := prefix
	if ok {
		var plain TermWriter
		want = plain.Append(bytes.Clone(prefix), b)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%q: AppendChecked gave %q, want %q", b, got, want)
	}
	// A reused writer answers the same.
	again, ok2 := tw.AppendChecked(bytes.Clone(prefix), b)
	if ok2 != ok || !bytes.Equal(again, got) {
		t.Fatalf("%q: a reused writer gave %q %v", b, again, ok2)
	}
}

func TestAppendChecked(t *testing.T) {
	for _, p := range append(append([]string(nil), checkedSamples...), termSamples...) {
		checkAppendChecked(t, []byte(p))
	}
	for _, p := range benchPayloads {
		checkAppendChecked(t, []byte(p.doc))
	}
}

func FuzzAppendChecked(f *testing.F) {
	for _, p := range append(append([]string(nil), checkedSamples...), termSamples...) {
		f.Add([]byte(p))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkAppendChecked(t, b) })
}
