package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/trovedb/trove"
)

// The staging fast path for compact payloads, against encoding/json and
// trove.Prepare on random documents.

// TestAlreadyCompactDifferential: alreadyCompact against encoding/json on
// random documents (valid compact objects, their spaced forms, and random
// byte edits of both): true only where json.Compact accepts the bytes and
// leaves them unchanged, and true for every compact object generated.
func TestAlreadyCompactDifferential(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	edits := []string{" ", "\t", ",", ":", "{", "}", "[", "]", `"`, `\`, "0", "-", ".", "e", "+", "u", "\x00", "\x1f",
		"\x7f", "\xe2\x80\xa8", "\xff", "t", "n", "a"}
	n := 20000
	if testing.Short() {
		n = 4000
	}
	for range n {
		doc := genObject(rng, 0)
		b := []byte(doc)
		if !alreadyCompact(b) && trove.CheckJSON(b) == nil {
			t.Fatalf("compact object %q not recognised", b)
		}
		checkCompactObject(t, b)
		var spaced bytes.Buffer
		json.Indent(&spaced, b, "", " ")
		checkCompactObject(t, spaced.Bytes())
		for range 4 {
			m := bytes.Clone(b)
			switch k := rng.IntN(3); {
			case k == 0 && len(m) > 1: // delete a byte
				j := rng.IntN(len(m))
				m = append(m[:j], m[j+1:]...)
			case k == 1: // insert
				j := rng.IntN(len(m) + 1)
				m = append(m[:j], append([]byte(edits[rng.IntN(len(edits))]), m[j:]...)...)
			default: // replace
				j := rng.IntN(len(m))
				e := edits[rng.IntN(len(edits))]
				m = append(m[:j], append([]byte(e), m[j+1:]...)...)
			}
			checkCompactObject(t, m)
		}
	}
}

// genObject returns a random compact JSON object (encoding/json's
// spelling plus the escapes and numbers it accepts but does not write).
func genObject(rng *rand.Rand, depth int) string {
	var b bytes.Buffer
	b.WriteByte('{')
	for k := range rng.IntN(4) {
		if k > 0 {
			b.WriteByte(',')
		}
		b.WriteString(genString(rng))
		b.WriteByte(':')
		b.WriteString(genValue(rng, depth+1))
	}
	b.WriteByte('}')
	return b.String()
}

func genValue(rng *rand.Rand, depth int) string {
	k := rng.IntN(9)
	if depth > 4 && k >= 7 {
		k = rng.IntN(7)
	}
	switch k {
	case 0:
		return genString(rng)
	case 1, 2:
		nums := []string{"0", "-0", "1", "-12", "3.25", "1e5", "1E+5", "-2.5e-3", "0.0", "12345678901234567890", "1e999"}
		return nums[rng.IntN(len(nums))]
	case 3:
		return "true"
	case 4:
		return "false"
	case 5:
		return "null"
	case 6:
		return `""`
	case 7:
		var b bytes.Buffer
		b.WriteByte('[')
		for j := range rng.IntN(4) {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString(genValue(rng, depth+1))
		}
		b.WriteByte(']')
		return b.String()
	default:
		return genObject(rng, depth)
	}
}

func genString(rng *rand.Rand) string {
	parts := []string{"a", "key", "é", "日本", `\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`, `\t`, `\u00e9`, `\uD83D\uDE00`,
		`\u0000`, "\u2028", "<&>", "\x7f", "\xff\xfe"}
	var b bytes.Buffer
	b.WriteByte('"')
	for range rng.IntN(4) {
		b.WriteString(parts[rng.IntN(len(parts))])
	}
	b.WriteByte('"')
	return b.String()
}

// TestFastPathPayloadsEqualPrepare: for random compact payloads (and their
// spaced forms), the event SaveEvent stores has the payload trove.Prepare
// gives, byte for byte.
func TestFastPathPayloadsEqualPrepare(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, t.TempDir(), Options{})
	defer st.Close()
	rng := rand.New(rand.NewPCG(3, 4))
	var evs []trove.Event
	for i := range 400 {
		e := testEvent(i)
		e.Payload = []byte(genObject(rng, 0))
		if i%2 == 1 {
			var spaced bytes.Buffer
			json.Indent(&spaced, e.Payload, " ", "  ")
			e.Payload = spaced.Bytes()
		}
		if trove.CheckJSON(e.Payload) != nil {
			// Invalid UTF-8 or a repeated key: refused on either path.
			if _, err := st.SaveEvent(ctx, e); !errors.Is(err, trove.ErrInvalid) {
				t.Fatalf("payload %q: %v, want ErrInvalid", e.Payload, err)
			}
			continue
		}
		evs = append(evs, e)
	}
	saved, err := st.SaveEvents(ctx, evs)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range evs {
		want, err := trove.Prepare(e, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := st.GetEvent(ctx, saved[i].ID)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(saved[i].Payload, want.Payload) || !bytes.Equal(got.Payload, want.Payload) {
			t.Fatalf("event %d: saved %q, stored %q; Prepare gives %q", i, saved[i].Payload, got.Payload, want.Payload)
		}
	}
}
