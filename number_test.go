package trove

import (
	"encoding/json"
	"math/big"
	"strings"
	"testing"
)

func TestCanonicalNumber(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"0", "0"}, {"-0", "0"}, {"0.000", "0"}, {"-0e99999999999999999999", "0"},
		{"1", "1"}, {"1.0", "1"}, {"1e0", "1"}, {"10e-1", "1"}, {"0.1e1", "1"},
		{"-42", "-42"}, {"1000", "1000"}, {"1e3", "1000"}, {"100e1", "1000"},
		{"999999999999999999", "999999999999999999"},
		{"1000000000000000000", "1e18"}, {"1e18", "1e18"},
		{"9223372036854775807", "9.223372036854775807e18"},
		{"0.5", "5e-1"}, {"1.5", "1.5e0"}, {"-1.25e1", "-1.25e1"}, {"123.45", "1.2345e2"},
		{"0.00012", "1.2e-4"}, {"1e999999", "1e999999"}, {"9e-9999999", "9e-9999999"},
		{"1e9999999999999999999", "1e9999999999999999999"},
		{"12.5e9999999999999999999", "1.25e10000000000000000000"},
		{"0.0125e-9999999999999999999", "1.25e-10000000000000000001"},
		{"1E+2", "100"}, {"1e-0", "1"}, {"0e5", "0"}, {"1e000000000000000000000000001", "10"},
		{strings.Repeat("9", 400), "9." + strings.Repeat("9", 399) + "e399"},
	} {
		got, ok := CanonicalNumber(c.in)
		if !ok || got != c.want {
			t.Errorf("CanonicalNumber(%q) = %q, %v; want %q", c.in, got, ok, c.want)
		}
	}
	for _, bad := range []string{"", "-", "01", "1.", ".5", "1e", "1e+", "+1", "1x", "0x10", "NaN", "Infinity", "--1", "1.e3", " 1"} {
		if got, ok := CanonicalNumber(bad); ok {
			t.Errorf("CanonicalNumber(%q) = %q, accepted", bad, got)
		}
	}
}

func TestNumberCompareExact(t *testing.T) {
	// In increasing order; equal neighbours are marked by the same group.
	order := [][]string{
		{"-1e9999999999999999999"},
		{"-1e999999"},
		{"-1.5", "-15e-1"},
		{"-1"},
		{"-9e-9999999"},
		{"0", "-0", "0.0", "0e-99999999999999999999"},
		{"9e-99999999999999999999"},
		{"9e-9999999"},
		{"1e-400"},
		{"0.5"},
		{"1", "1.0", "1e0", "10e-1"},
		{"1.000000000000000000000000000001"},
		{"2"},
		{"9223372036854775807"},
		{"9223372036854775808", "9.223372036854775808e18"},
		{strings.Repeat("9", 400)},
		{"1e400"},
		{"1e999999"},
		{"1e9999999"},
		{"1e9999999999999999999"},
		{"1e10000000000000000000"},
	}
	for i, gi := range order {
		for j, gj := range order {
			for _, a := range gi {
				for _, b := range gj {
					want := 0
					if i < j {
						want = -1
					} else if i > j {
						want = 1
					}
					if got := NumberCompare(json.Number(a), json.Number(b)); got != want {
						t.Errorf("NumberCompare(%s, %s) = %d, want %d", a, b, got, want)
					}
					ca, _ := CanonicalNumber(a)
					cb, _ := CanonicalNumber(b)
					if (ca == cb) != (want == 0) {
						t.Errorf("canonical %s=%q %s=%q, compare %d", a, ca, b, cb, want)
					}
				}
			}
		}
	}
}

// TestNumberCompareLinear compares numbers whose exponents big.Rat cannot
// even hold; the test would not end if the comparison expanded them.
func TestNumberCompareLinear(t *testing.T) {
	huge := "1e" + strings.Repeat("9", 1<<20)
	if NumberCompare(json.Number(huge), "1") != 1 || NumberCompare("1", json.Number(huge)) != -1 {
		t.Fatal("a huge exponent orders wrong")
	}
	tiny := "-5e-" + strings.Repeat("9", 1<<20)
	if NumberCompare(json.Number(tiny), "0") != -1 || NumberCompare(json.Number(tiny), "-1") != 1 {
		t.Fatal("a tiny negative number orders wrong")
	}
	c, ok := CanonicalNumber("10" + huge[1:])
	if !ok || c != "1e1"+strings.Repeat("0", 1<<20) {
		t.Fatalf("canonical of 10e999…: %.20q…", c)
	}
}

// FuzzNumberCompare checks NumberCompare and CanonicalNumber against
// big.Rat on numbers small enough for it.
func FuzzNumberCompare(f *testing.F) {
	for _, s := range [][2]string{{"1", "1.0"}, {"0.5", "5e-1"}, {"-0", "0"}, {"123.456e-7", "1.23456e-5"}, {"1e30", "999999999999999999999999999999"}, {"-1e-3", "-0.0011"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		ca, oka := CanonicalNumber(a)
		cb, okb := CanonicalNumber(b)
		if !strings.ContainsAny(a, " \t\r\n\"") {
			var n json.Number
			if (json.Unmarshal([]byte(a), &n) == nil) != oka {
				t.Fatalf("CanonicalNumber(%q) ok=%v disagrees with encoding/json", a, oka)
			}
		}
		if !oka || !okb || len(a) > 200 || len(b) > 200 || bigExponent(a) || bigExponent(b) {
			return
		}
		ra, _ := new(big.Rat).SetString(a)
		rb, _ := new(big.Rat).SetString(b)
		want := ra.Cmp(rb)
		if got := NumberCompare(json.Number(a), json.Number(b)); got != want {
			t.Fatalf("NumberCompare(%s, %s) = %d, big.Rat says %d", a, b, got, want)
		}
		if (ca == cb) != (want == 0) {
			t.Fatalf("canonical %q, %q for %s, %s (compare %d)", ca, cb, a, b, want)
		}
		// The canonical form is itself a number of the same value.
		rc, ok := new(big.Rat).SetString(ca)
		if !ok || rc.Cmp(ra) != 0 {
			t.Fatalf("canonical %q of %s is not the same value", ca, a)
		}
	})
}

// bigExponent reports whether s has an exponent beyond ±9999, which
// big.Rat would take long over.
func bigExponent(s string) bool {
	i := strings.IndexAny(s, "eE")
	if i < 0 {
		return false
	}
	e := strings.TrimLeft(s[i+1:], "+-")
	e = strings.TrimLeft(e, "0")
	return len(e) > 4
}

func BenchmarkNumberCompare(b *testing.B) {
	for _, c := range []struct{ name, a, b string }{
		{"int64", "123456", "123457"},
		{"decimal", "12.5", "1.25e1"},
		{"huge", "1e999999", "9e-9999999"},
		{"400digits", nines400 + "8", nines400 + "9"},
	} {
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				NumberCompare(json.Number(c.a), json.Number(c.b))
			}
		})
	}
}

func BenchmarkCanonicalNumber(b *testing.B) {
	for _, s := range []string{"123456", "12.5", "1e999999", nines400} {
		b.Run(s[:min(len(s), 10)], func(b *testing.B) {
			for range b.N {
				CanonicalNumber(s)
			}
		})
	}
}

var nines400 = strings.Repeat("9", 400)
