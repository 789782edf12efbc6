package trove

import (
	"cmp"
	"encoding/json"
	"strconv"
	"strings"
)

// Numbers are compared, indexed and sorted exactly, whatever their size or
// exponent, in time and space linear in their text: a JSON number is read
// as a decimal — a sign, its significant digits (no leading or trailing
// zeros) and an exponent, itself read from the text as an integer of any
// size — and never converted to a float, a big.Rat or a big.Int.

// decimal is a JSON number as sign × d₁.d₂d₃…dₙ × 10^exp, read from its
// text. Zero (of either sign) has n = 0.
type decimal struct {
	neg bool
	// The mantissa's digits as written are intPart then frac; lead of
	// them are leading zeros, then come the n significant ones.
	intPart, frac string
	lead          int
	n             int
	// The adjusted exponent (of d₁): exp when it fits an int64, else
	// bigExp holds its magnitude in decimal (no leading zeros, more than
	// 18 digits) and bigNeg its sign.
	exp    int64
	bigExp string
	bigNeg bool
}

// digit returns the i-th significant digit (0 ≤ i < n).
func (d *decimal) digit(i int) byte {
	return d.at(d.lead + i)
}

// at returns the j-th digit of the mantissa as written.
func (d *decimal) at(j int) byte {
	if j < len(d.intPart) {
		return d.intPart[j]
	}
	return d.frac[j-len(d.intPart)]
}

// appendDigits appends the significant digits from the i-th on.
func (d *decimal) appendDigits(dst []byte, i int) []byte {
	from, to := d.lead+i, d.lead+d.n
	if from < len(d.intPart) {
		dst = append(dst, d.intPart[from:min(to, len(d.intPart))]...)
		from = len(d.intPart)
	}
	if to > from {
		dst = append(dst, d.frac[from-len(d.intPart):to-len(d.intPart)]...)
	}
	return dst
}

// parseDecimal reads s, which must be a number in JSON syntax; ok is false
// otherwise. The decimal refers to s's bytes.
func parseDecimal(s string) (d decimal, ok bool) {
	i := 0
	if i < len(s) && s[i] == '-' {
		d.neg = true
		i++
	}
	intStart := i
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	default:
		return d, false
	}
	intPart := s[intStart:i]
	frac := ""
	if i < len(s) && s[i] == '.' {
		i++
		start := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if i == start {
			return d, false
		}
		frac = s[start:i]
	}
	expNeg, expText := false, ""
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			expNeg = s[i] == '-'
			i++
		}
		start := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if i == start {
			return d, false
		}
		expText = strings.TrimLeft(s[start:i], "0")
	}
	if i != len(s) {
		return d, false
	}
	d.intPart, d.frac = intPart, frac
	total := len(intPart) + len(frac)
	for d.lead < total && d.at(d.lead) == '0' {
		d.lead++
	}
	end := total
	for end > d.lead && d.at(end-1) == '0' {
		end--
	}
	d.n = end - d.lead
	if d.n == 0 {
		d.neg = false // -0 is 0
		return d, true
	}
	// The value is 0.digits × 10^split × 10^E = d₁.… × 10^(E + split - lead - 1).
	shift := int64(len(intPart) - d.lead - 1)
	if len(expText) <= 18 {
		var e int64
		if expText != "" { // ParseInt would allocate its error
			e, _ = strconv.ParseInt(expText, 10, 64)
		}
		if expNeg {
			e = -e
		}
		d.exp = e + shift // |e| < 10^18 and |shift| < 2^62: no overflow
		return d, true
	}
	// |E| ≥ 10^18 > |shift|: the sum keeps E's sign.
	d.bigNeg = expNeg
	if expNeg {
		shift = -shift
	}
	d.bigExp = addSmall(expText, shift)
	return d, true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// smallInt reads s when it is an integer of at most 18 digits in JSON
// syntax.
func smallInt(s string) (int64, bool) {
	digits := s
	if len(digits) > 0 && digits[0] == '-' {
		digits = digits[1:]
	}
	if len(digits) == 0 || len(digits) > 18 || digits[0] == '0' && len(digits) > 1 {
		return 0, false
	}
	var v int64
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		if !isDigit(c) {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	if len(digits) < len(s) {
		v = -v
	}
	return v, true
}

// addSmall returns the decimal magnitude m + delta, where m has more than
// 18 digits (no leading zero) and |delta| < 10^18, so the result stays
// positive; it works digit by digit, in time linear in m.
func addSmall(m string, delta int64) string {
	if delta == 0 {
		return m
	}
	out := []byte(m)
	carry := delta // added at the current digit, from the right
	for i := len(out) - 1; i >= 0 && carry != 0; i-- {
		v := int64(out[i]-'0') + carry%10
		carry /= 10
		switch {
		case v < 0:
			v += 10
			carry--
		case v > 9:
			v -= 10
			carry++
		}
		out[i] = byte('0' + v)
	}
	if carry > 0 {
		out = append([]byte(strconv.FormatInt(carry, 10)), out...)
	}
	r := strings.TrimLeft(string(out), "0")
	return r
}

// cmpExp compares the adjusted exponents of two nonzero decimals.
func cmpExp(a, b *decimal) int {
	ab, bb := a.bigExp != "", b.bigExp != ""
	switch {
	case !ab && !bb:
		return cmp.Compare(a.exp, b.exp)
	case ab && !bb:
		if a.bigNeg {
			return -1
		}
		return 1
	case !ab && bb:
		if b.bigNeg {
			return 1
		}
		return -1
	}
	if a.bigNeg != b.bigNeg {
		if a.bigNeg {
			return -1
		}
		return 1
	}
	r := cmp.Compare(len(a.bigExp), len(b.bigExp))
	if r == 0 {
		r = strings.Compare(a.bigExp, b.bigExp)
	}
	if a.bigNeg {
		r = -r
	}
	return r
}

// cmpDecimal orders two decimals numerically.
func cmpDecimal(a, b *decimal) int {
	switch {
	case a.n == 0 && b.n == 0:
		return 0
	case a.n == 0:
		if b.neg {
			return 1
		}
		return -1
	case b.n == 0:
		if a.neg {
			return -1
		}
		return 1
	case a.neg != b.neg:
		if a.neg {
			return -1
		}
		return 1
	}
	r := cmpExp(a, b)
	if r == 0 {
		for i := 0; i < a.n && i < b.n && r == 0; i++ {
			r = cmp.Compare(a.digit(i), b.digit(i))
		}
		if r == 0 {
			r = cmp.Compare(a.n, b.n)
		}
	}
	if a.neg {
		r = -r
	}
	return r
}

// NumberCompare compares two JSON numbers numerically and exactly, whatever
// their size or exponent (1e999999, 9e-9999999, -0, integers of any
// length), in time linear in their text. A string that is not a JSON
// number orders after every number, such strings among themselves
// bytewise.
func NumberCompare(a, b json.Number) int {
	if a == b {
		return 0
	}
	if x, ok := smallInt(string(a)); ok {
		if y, ok := smallInt(string(b)); ok {
			return cmp.Compare(x, y)
		}
	}
	x, ok1 := parseDecimal(string(a))
	y, ok2 := parseDecimal(string(b))
	switch {
	case ok1 && ok2:
		return cmpDecimal(&x, &y)
	case ok1:
		return -1
	case ok2:
		return 1
	}
	return strings.Compare(string(a), string(b))
}

// PlainIntegerDigits is the most digits an integer has for CanonicalNumber
// to write it in plain base 10.
const PlainIntegerDigits = 18

// CanonicalNumber returns the canonical spelling of a JSON number: two
// numbers have the same canonical spelling exactly when they are
// numerically equal (1, 1.0, 1e0 and 10e-1 are all "1"; -0 is "0"). An
// integer of at most PlainIntegerDigits digits is written in plain base 10
// ("-42", "1000"); every other number in scientific form with its
// significant digits and its exact exponent ("1.5e0", "5e-1",
// "1e999999", "-1.2345678901234567891e18"). It takes time and space
// linear in s, and returns false when s is not a JSON number.
func CanonicalNumber(s string) (string, bool) {
	d, ok := parseDecimal(s)
	if !ok {
		return "", false
	}
	return string(d.appendCanonical(nil)), true
}

// AppendCanonicalNumber appends CanonicalNumber(s) to dst; ok is false
// (and dst unchanged) when s is not a JSON number.
func AppendCanonicalNumber(dst []byte, s string) ([]byte, bool) {
	d, ok := parseDecimal(s)
	if !ok {
		return dst, false
	}
	return d.appendCanonical(dst), true
}

func (d *decimal) appendCanonical(dst []byte) []byte {
	if d.n == 0 {
		return append(dst, '0')
	}
	if d.neg {
		dst = append(dst, '-')
	}
	if d.bigExp == "" && d.exp >= 0 && d.exp < PlainIntegerDigits && int64(d.n) <= d.exp+1 {
		dst = d.appendDigits(dst, 0)
		for k := int64(d.n); k <= d.exp; k++ {
			dst = append(dst, '0')
		}
		return dst
	}
	dst = append(dst, d.digit(0))
	if d.n > 1 {
		dst = append(dst, '.')
		dst = d.appendDigits(dst, 1)
	}
	dst = append(dst, 'e')
	if d.bigExp != "" {
		if d.bigNeg {
			dst = append(dst, '-')
		}
		return append(dst, d.bigExp...)
	}
	return strconv.AppendInt(dst, d.exp, 10)
}

// IsJSONNumber reports whether s is a number in JSON syntax
// (RFC 8259 §6).
func IsJSONNumber(s string) bool {
	_, ok := parseDecimal(s)
	return ok
}
