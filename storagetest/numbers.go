package storagetest

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/trovedb/trove"
)

func numberTests() []test {
	return []test{
		{"Equality", testNumbersEquality},
		{"Sort", testNumbersSort},
		{"WalkGoesOn", testNumbersWalkGoesOn},
	}
}

// nines400 is a 400-digit integer.
var nines400 = strings.Repeat("9", 400)

// numberFixture stores one event per number, each at payload.a; n1 also
// holds a string after its number.
func numberFixture(t *testing.T, k *kit) *store {
	s := k.open(t, "events")
	for _, e := range []struct{ id, payload string }{
		{"n1", `{"a":1e9999999,"z":"findme"}`},
		{"n2", `{"a":9e-9999999}`},
		{"n3", `{"a":1}`},
		{"n4", `{"a":-0}`},
		{"n5", `{"a":0}`},
		{"n6", `{"a":` + nines400 + `}`},
		{"n7", `{"a":1e999999}`},
		{"n8", `{"a":-1e999999}`},
		{"n9", `{"a":1.000000000000000000000000000000}`},
		{"n10", `{"a":10000000000000000000000e-22}`},
		{"n11", `{"a":0.5}`},
		{"n12", `{"a":1.0000000000000000000000001}`},
		{"n13", `{"a":"1"}`},
	} {
		s.save(ev(e.id, "kit.num", e.payload))
	}
	return s
}

func numberQueries(t *testing.T, s *store) {
	t.Helper()
	pl := func(v any) map[string]any { return map[string]any{"a": v} }
	num := func(n string) map[string]any { return pl(json.Number(n)) }
	runQueryCases(t, s, []queryCase{
		{name: "huge", q: trove.EventQuery{Payload: num("1e9999999")}, want: "[n1]"},
		{name: "huge respelled", q: trove.EventQuery{Payload: num("0.1e10000000")}, want: "[n1]"},
		{name: "tiny", q: trove.EventQuery{Payload: num("9e-9999999")}, want: "[n2]"},
		{name: "tiny is not zero", q: trove.EventQuery{Payload: num("0")}, want: "[n4 n5]"},
		{name: "minus zero", q: trove.EventQuery{Payload: num("-0")}, want: "[n4 n5]"},
		{name: "one in every spelling", q: trove.EventQuery{Payload: num("1")}, want: "[n3 n9 n10]"},
		{name: "one as float", q: trove.EventQuery{Payload: pl(1.0)}, want: "[n3 n9 n10]"},
		{name: "one plus a little", q: trove.EventQuery{Payload: num("1.0000000000000000000000001")}, want: "[n12]"},
		{name: "half", q: trove.EventQuery{Payload: num("5e-1")}, want: "[n11]"},
		{name: "400 digits", q: trove.EventQuery{Payload: num(nines400)}, want: "[n6]"},
		{name: "400 digits respelled", q: trove.EventQuery{Payload: num("9." + nines400[1:] + "e399")}, want: "[n6]"},
		{name: "one less than 400 digits", q: trove.EventQuery{Payload: num(nines400[1:] + "8")}, want: "[]"},
		{name: "1e999999", q: trove.EventQuery{Payload: num("1e999999")}, want: "[n7]"},
		{name: "-1e999999", q: trove.EventQuery{Payload: num("-1e999999")}, want: "[n8]"},
		{name: "string is not a number", q: trove.EventQuery{Payload: pl("1")}, want: "[n13]"},
		{name: "search above 1e400", q: trove.EventQuery{Search: "a:>1e400"}, want: "[n1 n7]"},
		{name: "search at or above 400 nines", q: trove.EventQuery{Search: "a:>=" + nines400}, want: "[n1 n6 n7]"},
		{name: "search below -1e400", q: trove.EventQuery{Search: "a:<-1e400"}, want: "[n8]"},
		{name: "search tiny positive", q: trove.EventQuery{Search: "+a:>0 +a:<1e-400"}, want: "[n2]"},
		{name: "search equal huge", q: trove.EventQuery{Search: "a:1e9999999"}, want: "[n1]"},
	})
}

// testNumbersEquality: payload equality on numbers of any size or
// exponent is exact, also after a reopen (indexes read back).
func testNumbersEquality(t *testing.T, k *kit) {
	s := numberFixture(t, k)
	numberQueries(t, s)
	if k.b.Persistent {
		s.reopen()
		numberQueries(t, s)
	}
}

// testNumbersSort: sorting by a payload number orders exactly, ties in
// position order, strings after numbers.
func testNumbersSort(t *testing.T, k *kit) {
	s := numberFixture(t, k)
	sortBy := func(dir string) trove.EventQuery {
		return trove.EventQuery{Sort: []trove.SortField{{Field: "payload.a", Direction: dir}}}
	}
	runQueryCases(t, s, []queryCase{
		{name: "asc", q: sortBy("asc"), want: "[n8 n4 n5 n2 n11 n3 n9 n10 n12 n6 n7 n1 n13]"},
		{name: "desc", q: sortBy("desc"), want: "[n13 n1 n7 n6 n12 n3 n9 n10 n11 n2 n4 n5 n8]"},
	})
}

// testNumbersWalkGoesOn: a huge number does not hide what follows it in
// the payload from the indexes.
func testNumbersWalkGoesOn(t *testing.T, k *kit) {
	s := k.open(t, "events")
	s.save(ev("w1", "kit.num", `{"a":1e9999999,"z":"findme","y":{"b":9e-9999999,"c":true}}`))
	s.save(ev("w2", "kit.num", `{"a":1,"z":"other"}`))
	check := func() {
		t.Helper()
		runQueryCases(t, s, []queryCase{
			{name: "after huge", q: trove.EventQuery{Payload: map[string]any{"z": "findme"}}, want: "[w1]"},
			{name: "nested after tiny", q: trove.EventQuery{Payload: map[string]any{"y.c": true}}, want: "[w1]"},
			{name: "huge itself", q: trove.EventQuery{Payload: map[string]any{"a": json.Number("1e9999999")}}, want: "[w1]"},
			{name: "tiny itself", q: trove.EventQuery{Payload: map[string]any{"y.b": json.Number("9e-9999999")}}, want: "[w1]"},
			{name: "search after huge", q: trove.EventQuery{Search: "z:findme"}, want: "[w1]"},
			{name: "search nested after tiny", q: trove.EventQuery{Search: "y.c:true"}, want: "[w1]"},
		})
	}
	check()
	if k.b.Persistent {
		s.reopen()
		check()
	}
}
