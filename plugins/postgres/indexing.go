package postgres

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/internal/jsonscan"
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
	safe, ok := scanPayload(payload, func(s string) { toks = appendTokens(toks, s) })
	if !ok {
		return indexValuesDecoded(payload)
	}
	if safe && escapesSafe(payload) {
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

// scanPayload reads a JSON document once with the shared tokenizer,
// handing each string value (object keys are not values) to each. safe is
// false when jsonb cannot hold the document exactly: a value nested in more
// than maxJSONBDepth containers, a number past numeric's range (escapes are
// escapesSafe's). ok is false when the document is not JSON (or nests past
// the tokenizer's depth); the caller then decodes it.
func scanPayload(b []byte, each func(string)) (safe, ok bool) {
	s := jsonscan.New(b)
	safe = true
	for {
		k := s.Next()
		// The containers the token's value is nested in.
		depth := s.Depth()
		switch k {
		case jsonscan.End:
			return safe, true
		case jsonscan.Invalid:
			return false, false
		case jsonscan.BeginObject, jsonscan.BeginArray:
			depth--
		case jsonscan.EndObject, jsonscan.EndArray, jsonscan.Key:
			continue
		case jsonscan.String:
			// Invalid UTF-8 (never in a stored payload) becomes U+FFFD,
			// as when the payload is decoded.
			if raw := s.RawText(); s.Escaped() || !utf8.Valid(raw) {
				each(string(s.AppendText(nil)))
			} else {
				each(string(raw))
			}
		case jsonscan.Number:
			if !numberSafe(string(s.Raw())) {
				safe = false
			}
		}
		if depth > maxJSONBDepth {
			safe = false
		}
	}
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
