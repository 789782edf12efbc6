package query

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/trovedb/trove"
)

// TestMatcherAgreesWithMatch: Matcher answers every query as
// trove.CompiledQuery.Match does, on payloads its fast paths take (plain
// strings), those they must leave to the decoder (escapes, nesting,
// numbers written two ways, repeated keys) and ones that do not decode.
func TestMatcherAgreesWithMatch(t *testing.T) {
	payloads := []string{
		`{"status":"failed","n":1,"user":{"name":"ann","tier":"gold"},"tags":["a","b"],"msg":"disk full"}`,
		`{"status":"ok","n":1.0,"user":{"name":"bob"},"msg":"all good"}`,
		`{"status":"fail\u0065d","n":10e-1,"msg":"disk \"full\""}`,
		`{"status":"failed","status":"ok","n":2}`,
		`{"user":{"name":"ann","name":"zed"},"n":-0}`,
		`{"status":null,"n":true,"msg":""}`,
		`{"status":["failed"],"user":"ann"}`,
		`{"s t":"x","a.b":"y"}`,
		`{"status":"failed"`,
		`{}`,
	}
	queries := []trove.EventQuery{
		{Payload: map[string]any{"status": "failed"}},
		{Payload: map[string]any{"n": json.Number("1")}},
		{Payload: map[string]any{"user.name": "ann"}},
		{Payload: map[string]any{"user.name": "zed", "status": "failed"}},
		{Payload: map[string]any{"status": nil}},
		{Payload: map[string]any{"n": true}},
		{Search: "disk"},
		{Search: "full -ok"},
		{Search: "status:failed"},
		{Payload: map[string]any{"status": "failed"}, Sort: []trove.SortField{{Field: "payload.n"}}},
		{Producer: []string{"p"}, Payload: map[string]any{"status": "failed"}},
		{Links: []trove.LinkCriterion{{Type: "parent"}}},
	}
	links := [][]trove.EventLink{nil, {{Type: "parent", TargetEvent: trove.EventID{ID: "x", Version: 1}}}}
	for qi, q := range queries {
		c, err := q.Compile()
		if err != nil {
			t.Fatal(err)
		}
		m := NewMatcher(c)
		for pi, p := range payloads {
			for li, ls := range links {
				e := trove.Event{ID: trove.EventID{ID: fmt.Sprint(pi), Version: 1}, Producer: "p", CreatedAt: time.Unix(1, 0),
					Payload: json.RawMessage(p), Links: ls}
				want := c.Match(&e, ls)
				it, got := m.Match(e, ls)
				if got != want {
					t.Errorf("query %d %+v, payload %d %s, links %d: Matcher %v, Match %v", qi, q, pi, p, li, got, want)
				}
				if got && it.Event.ID != e.ID {
					t.Errorf("query %d: the match returned event %v", qi, it.Event.ID)
				}
			}
		}
	}
}
