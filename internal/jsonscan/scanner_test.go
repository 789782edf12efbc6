package jsonscan

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// tokens scans b to its end and returns its tokens as "Kind raw", the last
// one "End" or "Invalid: <error>".
func tokens(b []byte, strict bool) []string {
	s := New(b)
	if strict {
		s = NewStrict(b)
	}
	var out []string
	for {
		switch k := s.Next(); k {
		case Invalid:
			return append(out, "Invalid: "+s.Err().Error())
		case End:
			return append(out, "End")
		default:
			out = append(out, k.String()+" "+string(s.Raw()))
		}
	}
}

func TestTokens(t *testing.T) {
	for _, c := range []struct {
		name, doc string
		want      []string
	}{
		{"empty object", `{}`, []string{"BeginObject {", "EndObject }", "End"}},
		{"scalars", ` [1, -0.5e+3,"s" ,true,false,null] `, []string{"BeginArray [", "Number 1", "Number -0.5e+3", `String "s"`, "True true", "False false", "Null null", "EndArray ]", "End"}},
		{"members", `{"a":{"b":[]},"c" : "d"}`, []string{"BeginObject {", `Key "a"`, "BeginObject {", `Key "b"`, "BeginArray [", "EndArray ]", "EndObject }", `Key "c"`, `String "d"`, "EndObject }", "End"}},
		{"top-level string", `"x\"y"`, []string{`String "x\"y"`, "End"}},
		{"top-level number", "\t12\n", []string{"Number 12", "End"}},
		{"long string", `["abcdefghijklmnopqrstuvwxyz0123456789 é and more text"]`, []string{"BeginArray [", `String "abcdefghijklmnopqrstuvwxyz0123456789 é and more text"`, "EndArray ]", "End"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := tokens([]byte(c.doc), false); !equal(got, c.want) {
				t.Fatalf("tokens\n got %q\nwant %q", got, c.want)
			}
		})
	}
}

func equal(a, b []string) bool {
	return strings.Join(a, "\x00") == strings.Join(b, "\x00")
}

// TestErrors: each malformed document gives its sentinel at its offset,
// the same in both modes unless strict only.
func TestErrors(t *testing.T) {
	for _, c := range []struct {
		name, doc string
		err       error
		off       int
		strict    bool // only a strict scanner refuses it
	}{
		{"empty", ``, ErrUnexpectedEnd, 0, false},
		{"only space", `  `, ErrUnexpectedEnd, 2, false},
		{"open object", `{`, ErrUnexpectedEnd, 1, false},
		{"open array", `[1,`, ErrUnexpectedEnd, 3, false},
		{"after a member", `{"a":1`, ErrUnexpectedEnd, 6, false},
		{"no key", `{oops}`, ErrWantKey, 1, false},
		{"trailing comma in object", `{"a":1,}`, ErrWantKey, 7, false},
		{"key not a string", `{1:2}`, ErrWantKey, 1, false},
		{"no colon", `{"a" 1}`, ErrWantColon, 5, false},
		{"no colon at the end", `{"a"`, ErrWantColon, 4, false},
		{"no value", `{"a":}`, ErrWantValue, 5, false},
		{"trailing comma in array", `[1,]`, ErrWantValue, 3, false},
		{"leading comma in array", `[,1]`, ErrWantValue, 1, false},
		{"bad literal", `[tru]`, ErrWantValue, 1, false},
		{"NaN", `NaN`, ErrWantValue, 0, false},
		{"plus", `+1`, ErrWantValue, 0, false},
		{"two values", `{} {}`, ErrTrailing, 3, false},
		{"garbage after", `1x`, ErrTrailing, 1, false},
		{"object closed by ]", `{"a":1]`, ErrWantObjectEnd, 6, false},
		{"array closed by }", `[1}`, ErrWantArrayEnd, 2, false},
		{"missing comma", `[1 2]`, ErrWantArrayEnd, 3, false},
		{"leading zero", `[01]`, ErrWantArrayEnd, 2, false},
		{"minus alone", `[-]`, ErrNumber, 1, false},
		{"dot without digits", `1.`, ErrNumber, 0, false},
		{"exponent without digits", `[1e+]`, ErrNumber, 1, false},
		{"leading dot", `.5`, ErrWantValue, 0, false},
		{"unterminated", `["abc`, ErrUnterminated, 1, false},
		{"unterminated long", `["abcdefghijklmnopqrstuvwxyz`, ErrUnterminated, 1, false},
		{"backslash at the end", `["a\`, ErrUnterminated, 3, false},
		{"control", "[\"ab\x01\"]", ErrControl, 4, false},
		{"control late in a long string", "[\"abcdefghijklmnop\nq\"]", ErrControl, 18, false},
		{"bad escape", `["a\x"]`, ErrEscape, 3, false},
		{"short \\u", `["\u12"]`, ErrUnicodeEscape, 2, false},
		{"bad hex", `["\u12g4"]`, ErrUnicodeEscape, 2, false},
		{"lone high surrogate", `["\ud800"]`, ErrSurrogate, 2, true},
		{"high then not low", `["\ud800\u0041"]`, ErrSurrogate, 2, true},
		{"lone low surrogate", `["x\udfff"]`, ErrSurrogate, 3, true},
		{"invalid UTF-8", "[\"ok \xff\"]", ErrUTF8, 5, true},
		{"truncated UTF-8", "[\"\xe6\x97\"]", ErrUTF8, 2, true},
		{"invalid UTF-8 in a key", "{\"k\xfe\":1}", ErrKeyUTF8, 3, true},
		{"UTF-8 surrogate", "[\"\xed\xa0\x80\"]", ErrUTF8, 2, true},
		{"too deep", strings.Repeat("[", MaxDepth+1), ErrDepth, MaxDepth, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, strict := range []bool{false, true} {
				s := New([]byte(c.doc))
				if strict {
					s = NewStrict([]byte(c.doc))
				}
				for k := s.Next(); k != Invalid && k != End; k = s.Next() {
				}
				err := s.Err()
				if c.strict && !strict {
					if err != nil {
						t.Fatalf("standard scanner: %v", err)
					}
					continue
				}
				var se *SyntaxError
				if !errors.Is(err, c.err) || !errors.As(err, &se) || se.Offset != c.off {
					t.Fatalf("strict %v: err %v, want %v at offset %d", strict, err, c.err, c.off)
				}
				if want := fmt.Sprintf("JSON at offset %d: %v", c.off, c.err); err.Error() != want {
					t.Fatalf("error text %q, want %q", err, want)
				}
				if s.Kind() != Invalid || s.Next() != Invalid {
					t.Fatal("an Invalid scanner reads on")
				}
			}
		})
	}
}

// TestStrictAccepts: what a strict scanner still accepts.
func TestStrictAccepts(t *testing.T) {
	for _, doc := range []string{`"\ud83d\ude00"`, `"日本 😀 \u00e9"`, `{"\ud83d\ude00":"\uffff"}`, "\"\uFFFD\"", `"\u0000"`} {
		s := NewStrict([]byte(doc))
		for k := s.Next(); k != Invalid && k != End; k = s.Next() {
		}
		if s.Err() != nil {
			t.Errorf("%s: %v", doc, s.Err())
		}
	}
}

func TestDepth(t *testing.T) {
	// Objects and arrays alternate past the 64 levels kept in a word, so
	// that every close must find its container's kind.
	var b strings.Builder
	for d := range MaxDepth {
		if d%3 == 0 {
			b.WriteString(`[`)
		} else {
			b.WriteString(`{"k":`)
		}
	}
	b.WriteString("1")
	for d := MaxDepth - 1; d >= 0; d-- {
		if d%3 == 0 {
			b.WriteString(`]`)
		} else {
			b.WriteString(`}`)
		}
	}
	s := New([]byte(b.String()))
	maxDepth := 0
	for k := s.Next(); k != End; k = s.Next() {
		if k == Invalid {
			t.Fatal(s.Err())
		}
		maxDepth = max(maxDepth, s.Depth())
	}
	if maxDepth != MaxDepth || s.Depth() != 0 {
		t.Fatalf("deepest %d, at the end %d", maxDepth, s.Depth())
	}
}

func TestSkip(t *testing.T) {
	doc := []byte(`{"a":[1,{"b":[2]},"]"],"c":{"d":{}},"e":3}`)
	s := New(doc)
	var keys []string
	s.Next()
	for s.Next() == Key {
		keys = append(keys, string(s.RawText()))
		s.Next()
		if !s.Skip() {
			t.Fatal(s.Err())
		}
	}
	if s.Kind() != EndObject || s.Next() != End || strings.Join(keys, ",") != "a,c,e" {
		t.Fatalf("keys %q, then %v", keys, s.Kind())
	}
	// Skip checks what it skips.
	s = New([]byte(`{"a":[1,,2],"b":1}`))
	s.Next()
	s.Next()
	s.Next()
	if s.Skip() || !errors.Is(s.Err(), ErrWantValue) {
		t.Fatalf("skipped a malformed array: %v", s.Err())
	}
	if s.Skip() {
		t.Fatal("Skip on an Invalid scanner")
	}
}

// TestSavedPosition: a copy of a scanner reads again from where it was
// taken, past deep nesting in between.
func TestSavedPosition(t *testing.T) {
	deep := strings.Repeat(`{"x":[`, 100) + "0" + strings.Repeat(`]}`, 100)
	doc := []byte(`{"a":1,"b":` + deep + `,"a":{"c":true}}`)
	s := New(doc)
	s.Next()
	var saved Scanner
	for s.Next() == Key {
		if string(s.RawText()) == "a" {
			saved = s
		}
		s.Next()
		s.Skip()
	}
	if s.Kind() != EndObject {
		t.Fatal(s.Err())
	}
	s = saved
	if s.Next() != BeginObject || s.Next() != Key || string(s.RawText()) != "c" || s.Next() != True ||
		s.Next() != EndObject || s.Next() != EndObject || s.Next() != End {
		t.Fatalf("after restoring: %v %v", s.Kind(), s.Err())
	}
}

func TestCompact(t *testing.T) {
	for doc, want := range map[string]bool{`{"a":[1,2]}`: true, ` {}`: false, `{} `: false, `{"a": 1}`: false, "[1,\n2]": false, `["a b"]`: true} {
		s := New([]byte(doc))
		for k := s.Next(); k != End; k = s.Next() {
			if k == Invalid {
				t.Fatal(s.Err())
			}
		}
		if s.Compact() != want {
			t.Errorf("Compact(%q) = %v", doc, !want)
		}
	}
}

func TestAppendText(t *testing.T) {
	for _, doc := range []string{`"plain"`, `"\"\\\/\b\f\n\r\t"`, `"\u00e9\u65e5"`, `"\ud83d\ude00"`, `"\ud800"`, `"\ud800x"`, `"\udc00\ud800"`,
		`"\ud800\ud800\udc00"`, `"\ud800\u0041"`, "\"\xff\xfe ok\"", "\"\xed\xa0\x80\"", `"é and \n"`, `"\u0000"`} {
		var want string
		if err := json.Unmarshal([]byte(doc), &want); err != nil {
			t.Fatal(err)
		}
		s := New([]byte(doc))
		if s.Next() != String {
			t.Fatal(s.Err())
		}
		if got := s.AppendText([]byte("prefix")); string(got) != "prefix"+want {
			t.Errorf("AppendText(%s) = %q, want %q", doc, got, want)
		}
		if s.Escaped() != strings.Contains(doc, `\`) {
			t.Errorf("Escaped(%s) = %v", doc, s.Escaped())
		}
	}
}

// TestSpecial checks the eight-bytes-at-a-time test against the byte
// classes: the first byte it flags is the first that needs a look.
func TestSpecial(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	picks := []byte{'a', ' ', '~', 0x7f, 0, 0x1f, 0x20, '"', '\\', '!', '#', '[', ']', 0x80, 0xff, 0xc3, 0x21, 0x5b, 0x5d}
	var w [8]byte
	for range 50000 {
		for k := range w {
			if r.IntN(3) == 0 {
				w[k] = picks[r.IntN(len(picks))]
			} else {
				w[k] = byte(r.IntN(256))
			}
		}
		x := binary.LittleEndian.Uint64(w[:])
		for _, strict := range []bool{false, true} {
			class, high := &strClass, uint64(0)
			if strict {
				class, high = &strictClass, highs
			}
			first := 8
			for k, c := range w {
				if class[c] != cPlain {
					first = k
					break
				}
			}
			m := special(x, high)
			got := 8
			if m != 0 {
				got = bits.TrailingZeros64(m) >> 3
			}
			if got != first {
				t.Fatalf("%q strict %v: flagged byte %d, want %d", w, strict, got, first)
			}
		}
	}
}

var fuzzSeeds = []string{
	`{}`, `[]`, `{"a":1,"b":[true,false,null],"c":{"d":"e"}}`, `"\ud83d\ude00"`, `"\ud800"`, "\"\xff\"",
	` [1, -0.5e+3, 0, 1E3, 1e-3] `, `{"a":"x\"y\\z\/\b\f\n\r\t\u00e9"}`, `{"a":01}`, `[1,]`, `{"a"}`, `1x`,
	`"abcdefghijklmnopqrstuvwxyz\u0041bcdefghijklmnop"`, `{"k\u0041":1,"kA":2}`, "[\"\xe6\x97\xa5\xe6\x9c\xac\"]",
}

// FuzzScanner holds the scanner to encoding/json: the same documents are
// valid, the tokens are json.Decoder's (keys and strings decode to the
// same text, numbers keep the same text), Compact is json.Compact's
// verdict, and a strict scanner accepts what encoding/json accepts minus
// invalid UTF-8 and lone surrogate escapes. Errors are SyntaxErrors within
// the input.
func FuzzScanner(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got := tokens(b, false)
		valid := json.Valid(b)
		if ok := got[len(got)-1] == "End"; ok != valid {
			t.Fatalf("scanner %q, json.Valid %v", got[len(got)-1], valid)
		}
		strict := tokens(b, true)
		wantStrict := valid && utf8.Valid(b) && pairedSurrogates(b)
		if ok := strict[len(strict)-1] == "End"; ok != wantStrict {
			t.Fatalf("strict scanner %q, want ok %v", strict[len(strict)-1], wantStrict)
		}
		if wantStrict && !equal(got, strict) {
			t.Fatalf("strict tokens %q, standard %q", strict, got)
		}
		for _, sc := range []Scanner{New(b), NewStrict(b)} {
			for k := sc.Next(); k != End; k = sc.Next() {
				if k == Invalid {
					var se *SyntaxError
					if !errors.As(sc.Err(), &se) || se.Offset < 0 || se.Offset > len(b) {
						t.Fatalf("error %v", sc.Err())
					}
					break
				}
			}
		}
		if !valid {
			return
		}
		compareDecoder(t, b)
	})
}

// compareDecoder checks the scanner's tokens against json.Decoder's on a
// valid document.
func compareDecoder(t *testing.T, b []byte) {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	s := New(b)
	var text []byte
	for {
		k := s.Next()
		tok, err := d.Token()
		if err == io.EOF {
			if k != End {
				t.Fatalf("decoder ended, scanner at %v", k)
			}
			break
		}
		if err != nil {
			t.Fatalf("decoder: %v (scanner at %v)", err, k)
		}
		var ok bool
		switch v := tok.(type) {
		case json.Delim:
			ok = map[json.Delim]Kind{'{': BeginObject, '}': EndObject, '[': BeginArray, ']': EndArray}[v] == k
		case string:
			text = s.AppendText(text[:0])
			ok = (k == Key || k == String) && string(text) == v
			ok = ok && (s.Escaped() || string(s.RawText()) == string(s.Raw()[1:len(s.Raw())-1]))
		case json.Number:
			ok = k == Number && string(s.Raw()) == string(v)
		case bool:
			ok = v && k == True || !v && k == False
		case nil:
			ok = k == Null
		}
		if !ok {
			t.Fatalf("decoder token %#v, scanner %v %q", tok, k, s.Raw())
		}
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatal(err)
	}
	if s.Compact() != bytes.Equal(buf.Bytes(), b) {
		t.Fatalf("Compact %v, json.Compact gives %q", s.Compact(), buf.Bytes())
	}
}

// pairedSurrogates reports whether every \uD800–\uDFFF escape of the
// valid JSON b is a high one followed by a low one.
func pairedSurrogates(b []byte) bool {
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		if b[i+1] != 'u' {
			i++
			continue
		}
		r := hex4(b, i+2)
		switch {
		case r >= 0xD800 && r < 0xDC00:
			if i+12 > len(b) || b[i+6] != '\\' || b[i+7] != 'u' {
				return false
			}
			if lo := hex4(b, i+8); lo < 0xDC00 || lo > 0xDFFF {
				return false
			}
			i += 11
		case r >= 0xDC00 && r <= 0xDFFF:
			return false
		default:
			i += 5
		}
	}
	return true
}

// FuzzAppendUnquoted: the text of any string a scanner accepts is
// json.Unmarshal's.
func FuzzAppendUnquoted(f *testing.F) {
	for _, s := range []string{`a`, `\u00e9`, `\ud800`, `\ud800\udc00`, `\udc00\ud800\udc00`, "\xff", `\\\"\/`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		doc := []byte(`"` + s + `"`)
		sc := New(doc)
		if sc.Next() != String {
			return
		}
		got := AppendUnquoted(nil, sc.RawText())
		if sc.Next() != End {
			return
		}
		var want string
		if err := json.Unmarshal(doc, &want); err != nil {
			t.Fatalf("scanner accepts %q, json.Unmarshal: %v", doc, err)
		}
		if string(got) != want {
			t.Fatalf("AppendUnquoted(%q) = %q, want %q", s, got, want)
		}
	})
}
