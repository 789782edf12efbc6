package postgres

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

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
// string value; nil past the tsvector limits).
func indexValues(payload json.RawMessage) (jsonb, search any) {
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
	for i := 0; ; {
		j := bytes.Index(raw[i:], []byte(`\u`))
		if j < 0 {
			break
		}
		i += j + 2
		if i+4 <= len(raw) {
			h := strings.ToLower(string(raw[i : i+4]))
			if h == "0000" || (h[0] == 'd' && h[1] >= '8') {
				return false
			}
		}
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
