package index

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// checkNormalize fails t when NormalizeNumber disagrees with encoding/json
// on whether s is a number, or when its canonical form is not a number of
// the same value as s (big.Rat decides, on numbers small enough for it).
func checkNormalize(t *testing.T, s string) {
	t.Helper()
	got, ok := NormalizeNumber(s)
	var n json.Number
	isNumber := s != "" && s[0] != ' ' && s[len(s)-1] != ' ' && s[0] != '"' && json.Unmarshal([]byte(s), &n) == nil
	if ok != isNumber {
		t.Fatalf("NormalizeNumber(%q) ok = %v, encoding/json says %v", s, ok, isNumber)
	}
	if !ok || len(s) > 100 || strings.ContainsAny(s, "eE") && len(s)-strings.IndexAny(s, "eE") > 5 {
		return
	}
	want, _ := new(big.Rat).SetString(s)
	r, rok := new(big.Rat).SetString(got)
	if !rok || r.Cmp(want) != 0 {
		t.Fatalf("NormalizeNumber(%q) = %q, not the same value", s, got)
	}
	if again, _ := NormalizeNumber(got); again != got {
		t.Fatalf("NormalizeNumber(%q) = %q, but that normalizes to %q", s, got, again)
	}
}

func TestNormalizeNumber(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"12.5", "1.25e1"},
		{"-12.50", "-1.25e1"},
		{"0.1", "1e-1"},
		{"0.125", "1.25e-1"},
		{"1.0", "1"},
		{"-0.0", "0"},
		{"-0", "0"},
		{"0e5", "0"},
		{"1e3", "1000"},
		{"1.5E+2", "150"},
		{"25e-1", "2.5e0"},
		{"123456789012345678", "123456789012345678"},
		{"123456789012345678.9", "1.234567890123456789e17"},
		{"9223372036854775807e0", "9.223372036854775807e18"},
		{"1e19", "1e19"},
		{"1e999999", "1e999999"},
		{"9e-9999999", "9e-9999999"},
	} {
		got, ok := NormalizeNumber(c.in)
		if !ok || got != c.want {
			t.Errorf("NormalizeNumber(%q) = %q, %v; want %q", c.in, got, ok, c.want)
		}
		checkNormalize(t, c.in)
	}
	for _, s := range []string{"", "-", "01", "-01", "1.", ".5", "1e", "1e+", "+1", "1/2", "0x10", "1.5.5", "1e5e5", " 1", "1_0", "--1", "-.5", "Inf", "NaN"} {
		if got, ok := NormalizeNumber(s); ok {
			t.Errorf("NormalizeNumber(%q) = %q, want refused", s, got)
		}
	}
}

// TestNormalizeNumberRandom checks NormalizeNumber against big.Rat on
// random decimals.
func TestNormalizeNumberRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	digits := func(n int) string {
		var b strings.Builder
		for range n {
			b.WriteByte(byte('0' + r.IntN(10)))
		}
		return b.String()
	}
	for range 20000 {
		var b strings.Builder
		if r.IntN(2) == 0 {
			b.WriteByte('-')
		}
		if r.IntN(4) == 0 {
			b.WriteByte('0')
		} else {
			b.WriteByte(byte('1' + r.IntN(9)))
			b.WriteString(digits(r.IntN(20)))
		}
		if r.IntN(3) > 0 {
			b.WriteByte('.')
			b.WriteString(digits(1 + r.IntN(20)))
		}
		if r.IntN(3) == 0 {
			b.WriteString([]string{"e", "E", "e+", "e-", "E-"}[r.IntN(5)])
			b.WriteString(strconv.Itoa(r.IntN(30)))
		}
		checkNormalize(t, b.String())
	}
}

func FuzzNormalizeNumber(f *testing.F) {
	for _, s := range []string{"12.5", "-0.0", "1e3", "0.125", "9223372036854775807", "1e-18", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkNormalize(t, s) })
}

// TestTermWriter: terms extracted ahead of AddBatch are the ones the walk
// finds, and the index built from them is the same.
func TestTermWriter(t *testing.T) {
	payloads := []string{
		`{"a":0,"b":-0,"c":-12,"d":1e5,"e":12345678901234567890,"g":1.25,"i":"x\\ny","j":{"k":[1,2],"l":{"m":true}},"n":null,"o":false}`,
		`{"a":{"b":{"c":"d"}},"a.b":"e","\u00e9":"\u00e8"}`,
		`{}`,
		`{"a":"unterminated}`,
		`{"amount":12.34,"status":"ok","user":{"region":"eu-1"}}`,
	}
	var tw TermWriter
	var buf []byte
	plain, pre := New(Options{MaxPathValues: 100}), New(Options{MaxPathValues: 100})
	defer plain.Close()
	defer pre.Close()
	for i, p := range payloads {
		var got []string
		want := terms([]byte(p))
		start := len(buf)
		buf = tw.Append(buf, []byte(p))
		enc := buf[start:]
		if err := eachTerm(enc, func(path, value []byte) { got = append(got, string(path)+"="+string(value)) }); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s:\n got %q\nwant %q", p, got, want)
		}
		id := fmt.Sprintf("e%d", i)
		if err := plain.Add(uint32(i+1), Doc{ID: id, Version: 1, Payload: []byte(p)}); err != nil {
			t.Fatal(err)
		}
		if err := pre.Add(uint32(i+1), Doc{ID: id, Version: 1, Payload: []byte(`{"ignored":1}`), Terms: enc, TermsSet: true}); err != nil {
			t.Fatal(err)
		}
	}
	for _, term := range [][2]string{{"a", "n0"}, {"b", "n0"}, {"g", "n1.25e0"}, {"amount", "n1.234e1"}, {"e", "n1.234567890123456789e19"}, {"user.region", "seu-1"}, {"a.b", "se"}, {"j.l.m", "b1"}, {"ignored", "n1"}} {
		var a, b []uint32
		plain.Read(func(r Reader) {
			if p, ok := r.Term(term[0], term[1]); ok {
				a = p.Bitmap(1, 1<<32).ToArray()
			}
		})
		pre.Read(func(r Reader) {
			if p, ok := r.Term(term[0], term[1]); ok {
				b = p.Bitmap(1, 1<<32).ToArray()
			}
		})
		if !slices.Equal(a, b) {
			t.Errorf("term %s=%s: walked %v, extracted %v", term[0], term[1], a, b)
		}
	}
}

// TestTermsMalformed: a Doc whose extracted terms are damaged is refused
// and leaves the index as it was.
func TestTermsMalformed(t *testing.T) {
	ix := New(Options{MaxPathValues: 100})
	defer ix.Close()
	var tw TermWriter
	good := tw.Append(nil, []byte(`{"a":"b"}`))
	if err := ix.Add(1, Doc{ID: "x", Version: 1, Terms: good, TermsSet: true}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]byte{good[:len(good)-1], {0x05, 'a'}, {0xff}, append(slices.Clip(good), 0x01)} {
		err := ix.AddBatch(2, []Doc{{ID: "y", Version: 1, Terms: bad, TermsSet: true}})
		if !errors.Is(err, errTerms) {
			t.Fatalf("terms %x: err %v, want errTerms", bad, err)
		}
		if ix.Last() != 1 {
			t.Fatalf("terms %x: last %d after a refused add", bad, ix.Last())
		}
		if _, ok := ix.Lookup("y", 1); ok {
			t.Fatalf("terms %x: the refused id is found", bad)
		}
	}
	if err := ix.Add(2, Doc{ID: "y", Version: 1, Payload: []byte(`{"a":"c"}`)}); err != nil {
		t.Fatal(err)
	}
	ix.Read(func(r Reader) {
		if p, _ := r.Term("a", "sc"); !slices.Equal(p.Bitmap(1, 1<<32).ToArray(), []uint32{2}) {
			t.Fatalf("a=c after the refused adds: %v", p.Bitmap(1, 1<<32))
		}
	})
}
