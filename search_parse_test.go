package trove

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestParseSearchInvalid(t *testing.T) {
	for _, s := range []string{"   ", "status:", `"open phrase`, "wild*", "fuzzy~2", "boost^3", "/re/", ">5", "amount:>abc", "a..b:x", "!!!"} {
		if _, err := ParseSearch(s); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseSearch(%q) = %v, want ErrInvalid", s, err)
		}
	}
}

func TestSearchMatch(t *testing.T) {
	payload, err := DecodePayload([]byte(`{"status":"failed","amount":150,"note":"Disk FULL on host-7",
		"tags":["red","blue"],"author":{"name":"Jane Doe"},"ok":true,"n":null}`))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		q    string
		want bool
	}{
		{"status:failed", true},
		{"status:FAILED", true},
		{"status:passed", false},
		{"failed", true},
		{"jane", true},
		{`"disk full"`, true},
		{`"full disk"`, false},
		{`note:"host 7"`, true},
		{"amount:>100", true},
		{"amount:>=150", true},
		{"amount:<150", false},
		{"amount:<=150.0", true},
		{"amount:150", true},
		{"amount:150.0", true},
		{"150", false}, // bare clauses search text only
		{"tags:blue", true},
		{"author.name:doe", true},
		{"author:doe", false},
		{"ok:true", true},
		{"ok:false", false},
		{"+status:failed +amount:>100", true},
		{"+status:failed -amount:>100", false},
		{"-status:passed", true},
		{"-status:failed", false},
		{"passed nothing", false},
		{"passed failed", true},
		{"+status:failed passed", true}, // optional clauses are optional when a required one exists
		{"missing.path:x", false},
	}
	for _, c := range cases {
		q, err := ParseSearch(c.q)
		if err != nil {
			t.Fatalf("ParseSearch(%q): %v", c.q, err)
		}
		if got := q.Match(payload); got != c.want {
			t.Errorf("%q: match = %v, want %v", c.q, got, c.want)
		}
	}
}

func TestTokenize(t *testing.T) {
	got := Tokenize("Disk-FULL, on host_7! Ünïcode")
	want := []string{"disk", "full", "on", "host", "7", "ünïcode"}
	if len(got) != len(want) {
		t.Fatalf("Tokenize = %q, want %q", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("Tokenize = %q, want %q", got, want)
		}
	}
}

func TestNumbersMustBeJSONNumbers(t *testing.T) {
	for _, s := range []string{"amount:>0x10", "amount:<1/2", "amount:>=+1", "amount:>.5"} {
		if _, err := ParseSearch(s); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseSearch(%q) = %v, want ErrInvalid", s, err)
		}
	}
	for _, n := range []string{"0x10", "1/2", "+1", ".5", "1e", ""} {
		if _, err := (EventQuery{Payload: map[string]any{"a": json.Number(n)}}).Compile(); !errors.Is(err, ErrInvalid) {
			t.Errorf("payload number %q: %v, want ErrInvalid", n, err)
		}
	}
}
