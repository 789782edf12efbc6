package trove

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// sameVerdict checks that payload gets the same answer against schema
// whether validation decodes only the members the schema looks at or the
// whole payload.
func sameVerdict(t *testing.T, schema, payload []byte) {
	t.Helper()
	v := &validators{capBytes: -1}
	c, err := v.compile(schema, false)
	if err != nil {
		return
	}
	compact, err := compactObject(payload)
	if err != nil {
		return
	}
	whole := *c
	whole.members = nil
	got, want := v.check("s", c, compact), v.check("s", &whole, compact)
	if (got == nil) != (want == nil) || got != nil && sortedText(got.Error()) != sortedText(want.Error()) {
		t.Fatalf("schema %s, payload %s: members %v give %v, the whole payload %v", schema, payload, c.members, got, want)
	}
}

// sortedText is s's bytes in order: the library lists some names (as of
// additional properties) in map order, which differs from run to run.
func sortedText(s string) string {
	b := []byte(s)
	slices.Sort(b)
	return string(b)
}

var memberSchemas = []string{
	`{"type":"object","required":["status","traceId"],"properties":{"status":{"type":"string"},"traceId":{"type":"string"},"amount":{"type":"number"}}}`,
	`{"$id":"x","title":"t","required":["a"]}`,
	`{"properties":{"a":{"$ref":"#/$defs/n"}},"$defs":{"n":{"type":"integer","maximum":5}}}`,
	`{"properties":{"a":{"$ref":"#"}},"required":["b"]}`,
	`{"type":["object","null"],"properties":{"a\u00e9":{"const":1},"b\"":{"minItems":2}}}`,
	`{"properties":{"a":{"type":"string"}},"additionalProperties":false}`,
	`{"properties":{"a":true},"minProperties":2}`,
	`{"$schema":"http://json-schema.org/draft-07/schema#","properties":{"n":{"exclusiveMaximum":5}},"definitions":{}}`,
	`{"type":"object","properties":{"n":{"multipleOf":0.5}}}`,
}

var memberPayloads = []string{
	`{"status":"ok","traceId":"t","amount":1.5,"user":{"x":[1,2]},"tags":["a"]}`,
	`{"status":1,"amount":"x","other":null}`,
	`{"a":7,"b":{"a":1},"c":1e999999}`,
	`{"a":{"a":{"b":2}},"b":3}`,
	`{"a\u00e9":1,"b\"":[1],"c":"` + strings.Repeat("9", 500) + `"}`,
	`{"a":"s","z":1}`,
	`{"n":5,"m":1` + strings.Repeat("0", 12000) + `}`,
	`{"n":1e400,"skip":2.5e-999999}`,
	`{}`,
}

// TestValidateMembersSameVerdict: leaving out members the schema never
// looks at changes no answer.
func TestValidateMembersSameVerdict(t *testing.T) {
	for _, s := range memberSchemas {
		for _, p := range memberPayloads {
			sameVerdict(t, []byte(s), []byte(p))
		}
	}
	for i, s := range memberSchemas {
		v := &validators{capBytes: -1}
		c, err := v.compile([]byte(s), false)
		if err != nil {
			t.Fatal(err)
		}
		if narrow := i < 5 || i == 7 || i == 8; narrow != (c.members != nil) {
			t.Errorf("schema %d: members %v", i, c.members)
		}
	}
}

// A payload number of too many digits is refused wherever it is.
func TestValidateMembersStillRefusesLongNumbers(t *testing.T) {
	v := &validators{capBytes: -1}
	payload := []byte(fmt.Sprintf(`{"status":"ok","traceId":"t","skip":1%s}`, strings.Repeat("1", validateDigitLimit+1)))
	if err := v.validate("s", []byte(memberSchemas[0]), payload); !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
}

func FuzzValidateMembers(f *testing.F) {
	for i, s := range memberSchemas {
		f.Add([]byte(s), []byte(memberPayloads[i]))
	}
	f.Fuzz(func(t *testing.T, schema, payload []byte) {
		if len(schema) > 4096 || len(payload) > 1<<16 {
			return
		}
		sameVerdict(t, schema, payload)
	})
}
