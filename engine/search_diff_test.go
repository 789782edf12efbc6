package engine

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/trovedb/trove"
)

// searchDiffTexts are strings whose tokens are easy to get wrong: Unicode
// whose lowercase changes length or class ('İ' lowercases to "i̇", whose
// combining dot splits the word), title case, final sigma, other scripts'
// digits, letter-numbers (neither letter nor digit), ligatures, the
// Kelvin sign, combining accents, escapes.
var searchDiffTexts = []string{
	"İstanbul", "İSTANBUL airport", "istanbul", "i̇stanbul", "STRASSE straße", "ǅemal ǆ", "ΣΊΣΥΦΟΣ σίσυφος",
	"e\u0301cole école", "٣٤ apples", "日本語テキスト", "Ⅻ roman", "ﬁle ﬁnal", "\u212aelvin kelvin",
	"Disk full on /dev/sda1", "disk-full again", "x_y z", "3.14 is pi", "don't panic", "TAB\there",
	"quote \" and \\ backslash", "🙂 smile", "", "   ", "a", "A b C", "MiXeD123Case", "ÅNGSTRÖM", "full stop", "t",
}

// searchDiffNumbers are JSON numbers, some past float64's range or
// precision, and some a few apart in one cell of the search index's
// numeric grid (millisecond timestamps, integers past 2²⁸), which its
// candidates do not tell apart.
var searchDiffNumbers = []string{
	"0", "-0", "1", "1.0", "1e3", "1000", "-5", "3.14", "0.1", "1e400", "-1e400", "1e-400", "-2.5e-300",
	"123456789012345678901", "9007199254740993", "9007199254740992", "42",
	"1700000000000", "1700000000001", "1700000000002.5", "268435457", "268435458", "-268435457",
}

var searchDiffKeys = []string{"a", "b", "msg", "n", "flag", "a.b", "x_y", "_u", "__", "_trove_pos", "_all", "_id", "Tag", "ü"}

func searchDiffValue(r *rand.Rand, depth int) any {
	switch n := r.IntN(10); {
	case n < 3:
		return searchDiffTexts[r.IntN(len(searchDiffTexts))]
	case n < 5:
		return json.Number(searchDiffNumbers[r.IntN(len(searchDiffNumbers))])
	case n < 6:
		return r.IntN(2) == 0
	case n < 7 && depth < 3:
		arr := make([]any, r.IntN(4))
		for i := range arr {
			arr[i] = searchDiffValue(r, depth+1)
		}
		return arr
	case n < 9 && depth < 3:
		return searchDiffObject(r, depth+1)
	}
	return nil
}

func searchDiffObject(r *rand.Rand, depth int) map[string]any {
	m := map[string]any{}
	for range 1 + r.IntN(4) {
		m[searchDiffKeys[r.IntN(len(searchDiffKeys))]] = searchDiffValue(r, depth)
	}
	return m
}

// searchDiffClause returns a random search clause over the payloads'
// words, paths and numbers.
func searchDiffClause(r *rand.Rand) string {
	var b strings.Builder
	switch r.IntN(4) {
	case 0:
		b.WriteByte('+')
	case 1:
		b.WriteByte('-')
	}
	field := ""
	if r.IntN(3) > 0 {
		k := searchDiffKeys[r.IntN(len(searchDiffKeys))]
		if r.IntN(3) == 0 {
			k += "." + searchDiffKeys[r.IntN(len(searchDiffKeys))]
		}
		field = k + ":"
	}
	word := func() string {
		t := searchDiffTexts[r.IntN(len(searchDiffTexts))]
		ws := strings.Fields(strings.NewReplacer(`"`, " ", `\`, " ", ":", " ").Replace(t))
		if len(ws) == 0 {
			return "a"
		}
		return ws[r.IntN(len(ws))]
	}
	switch n := r.IntN(10); {
	case n < 4:
		b.WriteString(field + word())
	case n < 5:
		b.WriteString(field + `"` + word() + " " + word() + `"`)
	case n < 7:
		b.WriteString(field + searchDiffNumbers[r.IntN(len(searchDiffNumbers))])
	case n < 8:
		b.WriteString(field + []string{"true", "FALSE", "True"}[r.IntN(3)])
	default:
		if field == "" {
			field = "n:"
		}
		b.WriteString(field + []string{">", ">=", "<", "<="}[r.IntN(4)] + searchDiffNumbers[r.IntN(len(searchDiffNumbers))])
	}
	return b.String()
}

// scalarPaths returns the dotted paths (through objects only) of every
// scalar in v, with the scalar.
func scalarPaths(v any, prefix string, fn func(path string, val any)) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			scalarPaths(e, p, fn)
		}
	case []any:
	default:
		if prefix != "" {
			fn(prefix, x)
		}
	}
}

// TestSearchDifferential checks random searches and payload equalities
// over random payloads against brute force, with the bleve index covering
// every event (the index answers, and is a superset of the matches).
func TestSearchDifferential(t *testing.T) {
	st := openStore(t, t.TempDir(), Options{SegmentSize: 16 << 10, BlockSize: 2 << 10, MaxPathValues: 4})
	defer st.Close()
	ctx := context.Background()
	r := rand.New(rand.NewPCG(11, 12))
	var all []trove.Event
	var payloads []any
	for i := range 400 {
		p := searchDiffObject(r, 0)
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		e := testEvent(i)
		e.Payload = b
		saved, err := st.SaveEvent(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, saved)
		d, err := trove.DecodePayload(saved.Payload)
		if err != nil {
			t.Fatal(err)
		}
		payloads = append(payloads, d)
	}
	for {
		more, err := st.srch.Step(true)
		if err != nil {
			t.Fatal(err)
		}
		if !more {
			break
		}
	}
	if got := uint64(st.srch.UpTo()); got != st.Last() {
		t.Fatalf("search index covers %d of %d events", got, st.Last())
	}
	check := func(eq trove.EventQuery) {
		t.Helper()
		c, err := eq.Compile()
		if err != nil {
			return // a random search may not parse (a clause without text)
		}
		want := bruteForce(c, all)
		got, err := st.QueryEvents(ctx, eq)
		if err != nil {
			t.Fatal(err)
		}
		js, _ := json.Marshal(eq)
		if !slices.Equal(positions(got), want) {
			t.Errorf("%s:\n got %v\nwant %v", js, positions(got), want)
		}
		// The index itself answers with a superset of the matches.
		var bm interface{ Contains(uint32) bool }
		var ok bool
		if sq := c.SearchQuery(); sq != nil {
			bm, _, ok = st.srch.Search(ctx, sq)
			if !ok && slices.ContainsFunc(sq.Clauses, func(c trove.SearchClause) bool { return c.Occur != trove.MustNot }) {
				t.Errorf("%s: the index did not answer", js)
			}
		} else {
			bm, _, ok = st.srch.SearchTerms(ctx, c.PayloadTerms())
		}
		if ok {
			for _, p := range want {
				if !bm.Contains(uint32(p)) {
					t.Errorf("%s: the index misses position %d", js, p)
				}
			}
		}
		// So does a window of positions, and nothing outside it.
		if sq := c.SearchQuery(); sq != nil && ok {
			lo := uint64(1 + r.IntN(len(all)))
			hi := lo + uint64(r.IntN(300))
			wm, _, ok := st.srch.SearchRange(ctx, sq, lo, hi)
			if !ok {
				if hi > lo {
					t.Errorf("%s: the index did not answer for %d…%d", js, lo, hi)
				}
				return
			}
			for _, p := range wm.ToArray() {
				if uint64(p) < lo || uint64(p) >= hi {
					t.Errorf("%s: window %d…%d holds %d", js, lo, hi, p)
				}
			}
			for _, p := range want {
				if p >= lo && p < hi && !wm.Contains(uint32(p)) {
					t.Errorf("%s: window %d…%d misses position %d", js, lo, hi, p)
				}
			}
		}
	}
	for range 400 {
		var cl []string
		for range 1 + r.IntN(3) {
			cl = append(cl, searchDiffClause(r))
		}
		check(trove.EventQuery{Search: strings.Join(cl, " ")})
	}
	for range 200 {
		// An equality on a value some payload holds, its string in
		// another case, or a random scalar at a random path.
		var path string
		var val any
		scalarPaths(payloads[r.IntN(len(payloads))], "", func(p string, v any) {
			if path == "" || r.IntN(3) == 0 {
				path, val = p, v
			}
		})
		switch r.IntN(4) {
		case 0:
			if s, ok := val.(string); ok {
				val = strings.ToUpper(s)
			}
		case 1:
			path = searchDiffKeys[r.IntN(len(searchDiffKeys))]
			val = searchDiffValue(r, 3)
		}
		if path == "" || val == nil {
			continue
		}
		check(trove.EventQuery{Payload: map[string]any{path: val}})
	}
	// Bare words through the Unicode the analyzer must tokenize exactly.
	for _, s := range []string{"İstanbul", "istanbul", "stanbul", "i", "straße", "strasse", "σίσυφος", "ΣΊΣΥΦΟΣ", "kelvin", "٣٤", "école", "ﬁle", "ångström", "ǆemal", `msg:"İSTANBUL airport"`} {
		check(trove.EventQuery{Search: s})
	}
}
