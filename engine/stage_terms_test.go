package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/index"
)

// stageDifferential stages payloads as one range and holds every event to
// the slow path: trove.Prepare, then index.TermWriter.Append of the
// prepared payload. An event Prepare refuses fails the range with
// Prepare's error; the others get Prepare's event and its terms.
func stageDifferential(t *testing.T, st *Store, payloads [][]byte) {
	t.Helper()
	clock := time.UnixMilli(1_744_000_000_000).UTC()
	src := make([]trove.Event, len(payloads))
	for i, p := range payloads {
		src[i] = testEvent(i)
		src[i].Payload = p
	}
	evs := make([]trove.Event, len(src))
	info := make([]stageInfo, len(src))
	err := st.stageRange(st.view.Load(), src, evs, info, 0, len(src), clock, true)
	for i := range src {
		want, werr := trove.Prepare(src[i], clock)
		if werr != nil {
			var be *trove.BatchError
			if !errors.As(err, &be) || be.Index != i || be.Err.Error() != werr.Error() {
				t.Fatalf("payload %q: staging gave %v, Prepare %v", src[i].Payload, err, werr)
			}
			return
		}
		e := evs[i]
		if e.ID != want.ID || !e.CreatedAt.Equal(want.CreatedAt) || e.Producer != want.Producer ||
			!bytes.Equal(e.Payload, want.Payload) || !e.Schema.Equal(want.Schema) {
			t.Fatalf("payload %q: staged %+v, Prepare gives %+v", src[i].Payload, e, want)
		}
		var tw index.TermWriter
		if terms := tw.Append(nil, want.Payload); !info[i].termsSet || !bytes.Equal(info[i].terms, terms) {
			t.Fatalf("payload %q: staged terms %q (set %v), want %q", src[i].Payload, info[i].terms, info[i].termsSet, terms)
		}
	}
	if err != nil {
		t.Fatalf("staging failed where Prepare does not: %v", err)
	}
}

// TestStageTermsDifferential: the terms staging extracts in the pass that
// checks a compact payload are the ones the slow path extracts, for random
// compact objects, their spaced forms and random edits of them, staged in
// ranges that mix both paths.
func TestStageTermsDifferential(t *testing.T) {
	st := openStore(t, t.TempDir(), Options{})
	defer st.Close()
	rng := rand.New(rand.NewPCG(5, 6))
	n := 3000
	if testing.Short() {
		n = 500
	}
	for range n {
		b := []byte(genObject(rng, 0))
		var spaced bytes.Buffer
		json.Indent(&spaced, b, "", " ")
		m := bytes.Clone(b)
		j := rng.IntN(len(m))
		m = append(m[:j], append([]byte(jsonEdits[rng.IntN(len(jsonEdits))]), m[j:]...)...)
		stageDifferential(t, st, [][]byte{b, spaced.Bytes()})
		stageDifferential(t, st, [][]byte{bytes.Clone(b), m})
	}
	for _, s := range jsonSamples {
		stageDifferential(t, st, [][]byte{[]byte(`{"x":1}`), []byte(s)})
	}
}

// jsonEdits are bytes that break or change JSON where inserted.
var jsonEdits = []string{" ", ",", ":", "{", "}", "[", "]", `"`, `\`, "0", "-", ".", "e", "\x00", "\xff", "n"}

// FuzzStageTerms: on any payload, staging agrees with the slow path.
func FuzzStageTerms(f *testing.F) {
	for _, s := range jsonSamples {
		f.Add([]byte(s))
	}
	st := openStore(f, f.TempDir(), Options{})
	f.Cleanup(func() { st.Close() })
	f.Fuzz(func(t *testing.T, b []byte) { stageDifferential(t, st, [][]byte{b}) })
}
