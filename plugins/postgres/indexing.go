package postgres

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/trovedb/trove"
)

// Limits under which a payload's index columns are filled. Past them the
// column is NULL and the row is a candidate of every payload or search
// filter (the events_*_unindexed partial indexes find such rows), so
// results stay exact.
const (
	maxJSONBDepth    = 500       // nesting PostgreSQL's JSON parser takes without complaint
	maxJSONBExponent = 5000      // |exponent| numeric holds with room to spare
	maxNumberDigits  = 5000      // digits of one number
	maxLexemeBytes   = 2046      // a tsvector lexeme is at most 2047 bytes
	maxSearchBytes   = 512 << 10 // a tsvector is at most 1 MiB
)

// indexValues returns the payload_jsonb and search_tsv column values of a
// payload: the payload itself where jsonb can hold it exactly (else nil),
// and the tsvector of its distinct search tokens (trove.Tokenize of every
// string value; nil past the tsvector limits). It reads the payload once
// (scanPayload); what that scanner does not take is decoded instead
// (indexValuesDecoded, which gives the same values, and is what the
// scanner is tested against).
func indexValues(payload json.RawMessage) (jsonb, search any) {
	var toks []string
	p := payloadScan{b: payload, safe: true, each: func(s string) { toks = appendTokens(toks, s) }}
	if !p.document() {
		return indexValuesDecoded(payload)
	}
	if p.safe && escapesSafe(payload) {
		jsonb = string(payload)
	}
	slices.Sort(toks)
	toks = slices.Compact(toks)
	size := 0
	for _, t := range toks {
		if len(t) > maxLexemeBytes {
			return jsonb, nil
		}
		size += len(t) + 8
	}
	if size > maxSearchBytes {
		return jsonb, nil
	}
	return jsonb, encodeTSVector(toks)
}

// appendTokens appends trove.Tokenize(s) to toks; ASCII text is split
// here without copying (letters and digits are the ASCII ones there).
func appendTokens(toks []string, s string) []string {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return append(toks, trove.Tokenize(s)...)
		}
	}
	start, upper := -1, false
	for i := 0; i <= len(s); i++ {
		var c byte
		if i < len(s) {
			c = s[i]
		}
		lower, digit := c >= 'a' && c <= 'z', c >= '0' && c <= '9'
		up := c >= 'A' && c <= 'Z'
		if i < len(s) && (lower || digit || up) {
			if start < 0 {
				start, upper = i, false
			}
			upper = upper || up
			continue
		}
		if start >= 0 {
			t := s[start:i]
			if upper {
				t = strings.ToLower(t)
			}
			toks = append(toks, t)
			start = -1
		}
	}
	return toks
}

// payloadScan reads a JSON document once, handing each string value
// (object keys are not values) to each and clearing safe when jsonb cannot
// hold it exactly: nesting past maxJSONBDepth, a number past numeric's
// range (escapes are escapesSafe's). Its methods return false on anything
// it does not read as JSON.
type payloadScan struct {
	b    []byte
	i    int
	safe bool
	each func(string)
}

// document reads one value and nothing but white space after it.
func (p *payloadScan) document() bool {
	if !p.value(0) {
		return false
	}
	p.space()
	return p.i == len(p.b)
}

func (p *payloadScan) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// value reads the value at p.i, depth containers deep.
func (p *payloadScan) value(depth int) bool {
	if depth > maxJSONBDepth {
		p.safe = false
	}
	p.space()
	if p.i >= len(p.b) {
		return false
	}
	switch c := p.b[p.i]; c {
	case '{', '[':
		end := byte('}')
		if c == '[' {
			end = ']'
		}
		p.i++
		p.space()
		if p.i < len(p.b) && p.b[p.i] == end {
			p.i++
			return true
		}
		for {
			if c == '{' {
				p.space()
				if _, ok := p.str(false); !ok {
					return false
				}
				p.space()
				if p.i >= len(p.b) || p.b[p.i] != ':' {
					return false
				}
				p.i++
			}
			if !p.value(depth + 1) {
				return false
			}
			p.space()
			if p.i >= len(p.b) {
				return false
			}
			switch p.b[p.i] {
			case ',':
				p.i++
			case end:
				p.i++
				return true
			default:
				return false
			}
		}
	case '"':
		s, ok := p.str(true)
		if ok {
			p.each(s)
		}
		return ok
	case 't', 'f', 'n':
		for _, lit := range []string{"true", "false", "null"} {
			if len(p.b)-p.i >= len(lit) && string(p.b[p.i:p.i+len(lit)]) == lit {
				p.i += len(lit)
				return true
			}
		}
		return false
	}
	start := p.i
	if !p.number() {
		return false
	}
	if !numberSafe(string(p.b[start:p.i])) {
		p.safe = false
	}
	return true
}

// str reads the string at p.i; with decode, it returns its value.
func (p *payloadScan) str(decode bool) (string, bool) {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return "", false
	}
	start := p.i
	esc := false
	for p.i++; p.i < len(p.b); p.i++ {
		switch c := p.b[p.i]; {
		case c == '\\':
			esc = true
			p.i++
		case c == '"':
			p.i++
			body := p.b[start+1 : p.i-1]
			if !esc && utf8.Valid(body) {
				if !decode {
					return "", true
				}
				return string(body), true
			}
			var s string
			if err := json.Unmarshal(p.b[start:p.i], &s); err != nil {
				return "", false
			}
			return s, true
		case c < 0x20:
			return "", false
		}
	}
	return "", false
}

// number reads a JSON number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (p *payloadScan) number() bool {
	digits := func() int {
		n := 0
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	if p.i < len(p.b) && p.b[p.i] == '-' {
		p.i++
	}
	if p.i < len(p.b) && p.b[p.i] == '0' {
		p.i++
	} else if digits() == 0 {
		return false
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return false
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return false
		}
	}
	return true
}

// indexValuesDecoded is indexValues through trove.DecodePayload.
func indexValuesDecoded(payload json.RawMessage) (jsonb, search any) {
	v, err := trove.DecodePayload(payload)
	if err != nil {
		return nil, nil
	}
	if jsonbSafe(payload, v, 0) {
		jsonb = string(payload)
	}
	seen := map[string]bool{}
	var toks []string
	size := 0
	ok := true
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		case string:
			for _, t := range trove.Tokenize(x) {
				if seen[t] {
					continue
				}
				seen[t] = true
				if len(t) > maxLexemeBytes {
					ok = false
				}
				size += len(t) + 8
				toks = append(toks, t)
			}
		}
	}
	walk(v)
	if ok && size <= maxSearchBytes {
		search = makeTSVector(toks)
	}
	return jsonb, search
}

// jsonbSafe reports whether PostgreSQL's jsonb takes raw as it is: no NUL
// or surrogate escapes (jsonb refuses \u0000 and unpaired surrogates), no
// nesting past maxJSONBDepth, numbers within numeric's range.
func jsonbSafe(raw []byte, v any, _ int) bool {
	if !escapesSafe(raw) {
		return false
	}
	var check func(v any, depth int) bool
	check = func(v any, depth int) bool {
		if depth > maxJSONBDepth {
			return false
		}
		switch x := v.(type) {
		case map[string]any:
			for _, e := range x {
				if !check(e, depth+1) {
					return false
				}
			}
		case []any:
			for _, e := range x {
				if !check(e, depth+1) {
					return false
				}
			}
		case json.Number:
			return numberSafe(string(x))
		}
		return true
	}
	return check(v, 0)
}

// escapesSafe reports whether raw holds no \u0000 and no surrogate escape
// (\ud800-\udfff), which jsonb refuses or cannot pair-check the same way.
func escapesSafe(raw []byte) bool {
	for i := 0; ; {
		j := bytes.Index(raw[i:], []byte(`\u`))
		if j < 0 {
			return true
		}
		i += j + 2
		if i+4 <= len(raw) {
			h := strings.ToLower(string(raw[i : i+4]))
			if h == "0000" || (h[0] == 'd' && h[1] >= '8') {
				return false
			}
		}
	}
}

// numberSafe reports whether numeric holds the JSON number n exactly.
func numberSafe(n string) bool {
	if len(n) > maxNumberDigits {
		return false
	}
	if i := strings.IndexAny(n, "eE"); i >= 0 {
		e, err := strconv.Atoi(strings.TrimPrefix(n[i+1:], "+"))
		if err != nil || e > maxJSONBExponent || e < -maxJSONBExponent {
			return false
		}
	}
	return true
}
