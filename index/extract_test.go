package index

import (
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// slowNormalize is NormalizeNumber without its fast paths.
func slowNormalize(s string) (string, bool) {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return "", false
	}
	return r.RatString(), true
}

// checkNormalize fails t when NormalizeNumber or its decimal fast path
// disagrees with big.Rat on s.
func checkNormalize(t *testing.T, s string) {
	t.Helper()
	want, wantOK := slowNormalize(s)
	if got, ok := normalizeDecimal(s); ok && (!wantOK || got != want) {
		t.Errorf("normalizeDecimal(%q) = %q, big.Rat says %q (%v)", s, got, want, wantOK)
	}
	got, ok := NormalizeNumber(s)
	if ok != wantOK || got != want {
		t.Errorf("NormalizeNumber(%q) = %q, %v; big.Rat says %q, %v", s, got, ok, want, wantOK)
	}
}

func TestNormalizeDecimal(t *testing.T) {
	for _, c := range []struct {
		in, want string
		fast     bool // the fast path answers
	}{
		{"12.5", "25/2", true},
		{"-12.50", "-25/2", true},
		{"0.1", "1/10", true},
		{"0.125", "1/8", true},
		{"-0.2", "-1/5", true},
		{"1.0", "1", true},
		{"-0.0", "0", true},
		{"0e5", "0", true},
		{"1e3", "1000", true},
		{"1.5E+2", "150", true},
		{"25e-1", "5/2", true},
		{"123456789012345678.9", "1234567890123456789/10", true},
		{"9223372036854775807e0", "9223372036854775807", true},
		{"0.000000000000000001", "1/1000000000000000000", true},
		{"9223372036854775808.0", "9223372036854775808", false}, // past int64
		{"1e19", "10000000000000000000", false},
		{"0.0000000000000000001", "1/10000000000000000000", false},  // 10^19
		{"12345678901234567890.5", "24691357802469135781/2", false}, // 20 digits
		{"1e1001", "", false},
	} {
		got, ok := normalizeDecimal(c.in)
		if ok != c.fast || ok && got != c.want {
			t.Errorf("normalizeDecimal(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.fast)
		}
		if c.want != "" {
			checkNormalize(t, c.in)
		}
	}
	// Not JSON number syntax: never the fast path's to answer.
	for _, s := range []string{"", "-", "01", "1.", ".5", "1e", "1e+", "+1", "1/2", "0x10", "1.5.5", "1e5e5", " 1", "1_0", "--1", "-.5", "Inf", "NaN"} {
		if got, ok := normalizeDecimal(s); ok {
			t.Errorf("normalizeDecimal(%q) = %q, want not handled", s, got)
		}
		checkNormalize(t, s)
	}
}

// TestNormalizeDecimalRandom compares the fast path with big.Rat on random
// decimals around its limits.
func TestNormalizeDecimalRandom(t *testing.T) {
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
		var want, got []string
		Terms([]byte(p), func(path, value string) { want = append(want, path+"="+value) })
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
	for _, term := range [][2]string{{"a", "n0"}, {"g", "n5/4"}, {"amount", "n617/50"}, {"user.region", "seu-1"}, {"a.b", "se"}, {"j.l.m", "b1"}, {"ignored", "n1"}} {
		var a, b []uint32
		plain.Read(func(r Reader) {
			if bm, _ := r.Term(term[0], term[1]); bm != nil {
				a = bm.ToArray()
			}
		})
		pre.Read(func(r Reader) {
			if bm, _ := r.Term(term[0], term[1]); bm != nil {
				b = bm.ToArray()
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
		if bm, _ := r.Term("a", "sc"); bm == nil || !bm.Contains(2) || bm.GetCardinality() != 1 {
			t.Fatalf("a=c after the refused adds: %v", bm)
		}
	})
}
