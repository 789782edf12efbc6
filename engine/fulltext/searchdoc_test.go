package fulltext

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/trovedb/trove"
)

// tokenTexts are strings whose tokens are easy to get wrong: Unicode
// whose lowercase changes length or class ('İ' lowercases to "i̇", whose
// combining dot splits the word), title case, final sigma, other scripts'
// digits, letter-numbers (neither letter nor digit), ligatures, the
// Kelvin sign, combining accents, escapes.
var tokenTexts = []string{
	"İstanbul", "İSTANBUL airport", "istanbul", "i̇stanbul", "STRASSE straße", "ǅemal ǆ", "ΣΊΣΥΦΟΣ σίσυφος",
	"e\u0301cole école", "٣٤ apples", "日本語テキスト", "Ⅻ roman", "ﬁle ﬁnal", "\u212aelvin kelvin",
	"Disk full on /dev/sda1", "disk-full again", "x_y z", "3.14 is pi", "don't panic", "TAB\there",
	"quote \" and \\ backslash", "🙂 smile", "", "   ", "a", "A b C", "MiXeD123Case", "ÅNGSTRÖM",
}

// TestSearchTokens checks the indexer's tokenizer against trove.Tokenize.
func TestSearchTokens(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	alphabet := []rune("aZ09 -_.İıIiSsßΣσςǅǄ\u0301\u0307٣Ⅻﬁ\u212a日🙂\t")
	cases := slices.Clone(tokenTexts)
	for range 2000 {
		rs := make([]rune, r.IntN(12))
		for i := range rs {
			rs[i] = alphabet[r.IntN(len(alphabet))]
		}
		cases = append(cases, string(rs))
	}
	for _, s := range cases {
		var got []string
		n := eachToken([]byte(s), func(tok []byte) { got = append(got, string(tok)) })
		if want := trove.Tokenize(s); !slices.Equal(got, want) || n != len(want) {
			t.Errorf("%q: tokens %q (%d), Tokenize %q", s, got, n, want)
		}
	}
}

// TestSearchDocFields checks the fields a payload's document holds: text
// under dotted paths, numbers and booleans as such, the position, and
// bleve's own names kept apart; no "_all" field.
func TestSearchDocFields(t *testing.T) {
	doc, err := buildSearchDoc(7, []byte(`{"a":{"b":"Hello World","n":[1,"Two"]},"_all":"x","_id":{"k":true},"_trove_pos":3,"s":"İstanbul"}`))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, f := range doc.Fields {
		f.Analyze()
		var toks []string
		for k := range f.AnalyzedTokenFrequencies() {
			toks = append(toks, k)
		}
		slices.Sort(toks)
		kind := fmt.Sprintf("%c", f.EncodedFieldType())
		if kind == "t" {
			got[f.Name()] = append(got[f.Name()], toks...)
		} else {
			got[f.Name()] = append(got[f.Name()], kind)
		}
	}
	want := map[string][]string{
		"a.b":         {"hello", "world"},
		"a.n":         {"n", "two"},
		"_trove_all":  {"x"},
		"_trove_id.k": {"b"},
		"_trove_pos":  {"n", "n"}, // the payload's number and the position
		"s":           trove.Tokenize("İstanbul"),
	}
	for k, w := range want {
		g := slices.Clone(got[k])
		slices.Sort(g)
		slices.Sort(w)
		if !slices.Equal(g, w) {
			t.Errorf("field %s: %v, want %v", k, g, w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("fields %v, want %v", got, want)
	}
	if _, err := buildSearchDoc(1, []byte(`{"a":`)); err == nil {
		t.Error("truncated payload: no error")
	}
}

// TestSearchSplit checks that splitSortable partitions a range into term
// ranges that cover it exactly.
func TestSearchSplit(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	edges := []uint64{0, 1, 255, 256, 1 << 63, 1<<63 - 1, 1<<64 - 1, 1<<64 - 256, 1 << 56}
	pick := func() uint64 {
		switch r.IntN(3) {
		case 0:
			return edges[r.IntN(len(edges))]
		case 1:
			return sortable(float64(r.IntN(100000)))
		}
		return r.Uint64()
	}
	for range 20000 {
		lo, hi := pick(), pick()
		if lo > hi {
			lo, hi = hi, lo
		}
		var parts []splitPart
		splitSortable(lo, hi, func(a, b uint64, shift uint) bool {
			parts = append(parts, splitPart{a, b, shift})
			return true
		})
		checkParts(t, lo, hi, parts, 0)
	}
	// Positions: grid-aligned ranges split at shifts of at least 8.
	for range 20000 {
		lo, hi := uint64(r.Uint32())&^255, uint64(r.Uint32())|255
		if lo > hi {
			lo, hi = hi&^255, lo|255
		}
		var parts []splitPart
		splitRange(lo, hi, searchPosStep, 32, func(a, b uint64, shift uint) bool {
			parts = append(parts, splitPart{a, b, shift})
			return true
		})
		checkParts(t, lo, hi, parts, searchPosShifts[0])
	}
}

// splitPart is one range splitRange reports.
type splitPart struct {
	a, b  uint64
	shift uint
}

// checkParts checks that parts partition lo…hi into aligned ranges at
// shifts of at least minShift.
func checkParts(t *testing.T, lo, hi uint64, parts []splitPart, minShift uint) {
	t.Helper()
	slices.SortFunc(parts, func(x, y splitPart) int {
		if x.a < y.a {
			return -1
		}
		return 1
	})
	next := lo
	for i, p := range parts {
		low := uint64(1)<<p.shift - 1
		if p.a != next || p.a > p.b || p.a&low != 0 || p.b&low != low || i == len(parts)-1 && p.b != hi || p.shift < minShift {
			t.Fatalf("%d…%d: range %d…%d at shift %d after %d", lo, hi, p.a, p.b, p.shift, next)
		}
		next = p.b + 1
	}
}
