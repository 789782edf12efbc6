package sqlite_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trovedb/trove"
)

// Payload filters are exact whatever the stored payloads look like: a
// value holding a control character matches the event holding it and
// nothing else, and a payload nested deeper than SQLite's JSON functions
// read (1000 levels) neither fails the query nor hides a match.
func TestPayloadQueryExactOnUnusualPayloads(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "trove.db"))
	ctx := context.Background()
	deep := func(depth int, leaf string) string {
		return `{"a":` + strings.Repeat(`{"a":`, depth) + leaf + strings.Repeat("}", depth) + `,"b":"\u0000"}`
	}
	for _, ev := range []struct{ id, payload string }{
		{"nul", `{"a":"\u0000"}`},
		{"soh", `{"a":"\u0001"}`},
		{"tab", `{"a":"x\ty"}`},
		{"plain", `{"a":"a"}`},
		{"empty", `{"a":""}`},
		{"num", `{"a":1}`},
		{"deep", deep(5000, "1")},
		{"deep2", deep(1001, `"x"`)},
	} {
		if _, err := s.SaveEvent(ctx, note(ev.id, ev.payload)); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		path  string
		value any
		want  string
	}{
		{"a", "\x00", "nul"},
		{"a", "\x01", "soh"},
		{"a", "x\ty", "tab"},
		{"a", "\x02", ""},
		{"a", "\x1f", ""},
		{"a", "a\x00", ""},
		{"a", "", "empty"},
		{"a", 1.0, "num"},
		{"a", nil, ""},
		{"b", "\x00", "deep deep2"},
		{"b", "\x01", ""},
		{"a" + strings.Repeat(".a", 1001), `x`, "deep2"},
		{"a" + strings.Repeat(".a", 1001), 1.0, ""},
	}
	for _, c := range cases {
		got, err := s.QueryEvents(ctx, trove.EventQuery{Payload: map[string]any{c.path: c.value}})
		if err != nil || ids(got) != c.want {
			t.Errorf("payload %.20s… = %q: got %q (%v), want %q", c.path, c.value, ids(got), err, c.want)
		}
	}
}
