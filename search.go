package trove

import (
	"encoding/json"
	"slices"
	"strings"
	"unicode"
)

// Occur says how a search clause takes part in the match.
type Occur int

// The three kinds of clause, as in a bleve query string.
const (
	Should  Occur = iota // no prefix: at least one should-clause must hold, unless a must-clause exists
	Must                 // "+": must hold
	MustNot              // "-": must not hold
)

// ClauseKind is what a search clause tests.
type ClauseKind int

// Clause kinds.
const (
	TermClause   ClauseKind = iota // word: any of its tokens is a token of the field
	PhraseClause                   // "quoted words": the tokens appear in a row
	RangeClause                    // >N, >=N, <N, <=N on a number
)

// SearchQuery is a parsed search string: a subset of the bleve query-string
// syntax over payload fields, evaluated the same way by every backend.
//
//	status:failed +amount:>100 -region:eu "disk full" author.name:jane
//
// Clauses are separated by spaces. A clause is `field:value` or a bare
// value; field is a dotted payload path, and a bare value looks at every
// string in the payload. A value is a word, a "quoted phrase", or a numeric
// comparison >N, >=N, <N, <=N. "+" makes a clause required, "-" forbidden;
// with neither it is optional, and an event must meet at least one optional
// clause unless a required one exists. A query of only forbidden clauses
// matches every event that meets none.
//
// Text is compared by tokens: Tokenize lowercases and splits on anything that
// is not a letter or a digit. A word matches a string field holding any of
// its tokens; a phrase matches a string field holding its tokens in a row; a
// word also matches a number equal to it or a boolean spelled like it; a
// comparison matches a number. An array matches when any element does.
// Wildcards, fuzziness, boosts and regular expressions are not supported and
// are ErrInvalid.
type SearchQuery struct {
	Clauses []SearchClause
}

// SearchClause is one clause of a SearchQuery.
type SearchClause struct {
	Occur  Occur
	Field  string   // dotted path; "" for any string field
	Keys   []string // Field split on dots
	Kind   ClauseKind
	Text   string      // the word or phrase as written
	Tokens []string    // Tokenize(Text)
	Op     string      // for RangeClause: ">", ">=", "<", "<="
	Number json.Number // for RangeClause
}

// Tokenize is the search analyzer: lowercase, split on every rune that is
// not a letter or a digit.
func Tokenize(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

// ParseSearch parses a search string. Errors wrap ErrInvalid.
func ParseSearch(s string) (*SearchQuery, error) {
	q := &SearchQuery{}
	rs := []rune(s)
	i := 0
	for {
		for i < len(rs) && unicode.IsSpace(rs[i]) {
			i++
		}
		if i >= len(rs) {
			break
		}
		var c SearchClause
		switch rs[i] {
		case '+':
			c.Occur = Must
			i++
		case '-':
			c.Occur = MustNot
			i++
		}
		// An unquoted run up to ':' or space may be a field name.
		j := i
		for j < len(rs) && !unicode.IsSpace(rs[j]) && rs[j] != ':' && rs[j] != '"' {
			j++
		}
		if j < len(rs) && rs[j] == ':' && j > i {
			c.Field = string(rs[i:j])
			c.Keys = strings.Split(c.Field, ".")
			if slices.Contains(c.Keys, "") {
				return nil, invalidf("search: bad field %q", c.Field)
			}
			i = j + 1
		}
		if i >= len(rs) || unicode.IsSpace(rs[i]) {
			return nil, invalidf("search: clause without a value at %d in %q", i, s)
		}
		if rs[i] == '"' {
			end := i + 1
			var b strings.Builder
			for end < len(rs) && rs[end] != '"' {
				if rs[end] == '\\' && end+1 < len(rs) {
					end++
				}
				b.WriteRune(rs[end])
				end++
			}
			if end >= len(rs) {
				return nil, invalidf("search: unterminated phrase in %q", s)
			}
			c.Kind, c.Text = PhraseClause, b.String()
			i = end + 1
		} else {
			end := i
			var b strings.Builder
			for end < len(rs) && !unicode.IsSpace(rs[end]) {
				if rs[end] == '\\' && end+1 < len(rs) {
					end++
				} else if strings.ContainsRune("*?~^", rs[end]) || (end == i && rs[end] == '/') {
					return nil, invalidf("search: %q: wildcards, fuzziness, boosts and regular expressions are not supported", string(rs[i:]))
				}
				b.WriteRune(rs[end])
				end++
			}
			c.Kind, c.Text = TermClause, b.String()
			i = end
			if op, num, ok := rangeOf(c.Text); ok {
				if c.Field == "" {
					return nil, invalidf("search: range %q needs a field", c.Text)
				}
				c.Kind, c.Op, c.Number = RangeClause, op, num
			} else if strings.HasPrefix(c.Text, ">") || strings.HasPrefix(c.Text, "<") {
				return nil, invalidf("search: range %q needs a number", c.Text)
			}
		}
		if c.Kind != RangeClause {
			c.Tokens = Tokenize(c.Text)
			if len(c.Tokens) == 0 {
				return nil, invalidf("search: %q has no searchable text", c.Text)
			}
		}
		q.Clauses = append(q.Clauses, c)
	}
	if len(q.Clauses) == 0 {
		return nil, invalidf("search: empty query")
	}
	return q, nil
}

func rangeOf(s string) (op string, n json.Number, ok bool) {
	for _, p := range []string{">=", "<=", ">", "<"} {
		if rest, found := strings.CutPrefix(s, p); found {
			if !isJSONNumber(rest) {
				return "", "", false
			}
			return p, json.Number(rest), true
		}
	}
	return "", "", false
}

// Match reports whether a decoded payload meets the query.
func (q *SearchQuery) Match(payload any) bool {
	hasMust, should, anyShould := false, false, false
	for i := range q.Clauses {
		c := &q.Clauses[i]
		ok := c.Match(payload)
		switch c.Occur {
		case Must:
			if !ok {
				return false
			}
			hasMust = true
		case MustNot:
			if ok {
				return false
			}
		case Should:
			anyShould = true
			should = should || ok
		}
	}
	return hasMust || !anyShould || should
}

// Match reports whether the clause holds for a decoded payload.
func (c *SearchClause) Match(payload any) bool {
	if c.Field != "" {
		v, ok := Lookup(payload, c.Keys)
		return ok && c.matchValue(v, false)
	}
	return c.matchValue(payload, true)
}

// matchValue tests v; deep also descends into objects (for bare clauses).
func (c *SearchClause) matchValue(v any, deep bool) bool {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			if c.matchValue(e, deep) {
				return true
			}
		}
	case map[string]any:
		if deep {
			for _, e := range x {
				if c.matchValue(e, deep) {
					return true
				}
			}
		}
	case string:
		if c.Kind == RangeClause {
			return false
		}
		toks := Tokenize(x)
		if c.Kind == PhraseClause {
			return containsRun(toks, c.Tokens)
		}
		for _, t := range c.Tokens {
			if slices.Contains(toks, t) {
				return true
			}
		}
	case json.Number:
		if deep {
			return false // bare clauses search text only
		}
		switch c.Kind {
		case RangeClause:
			r := NumberCompare(x, c.Number)
			switch c.Op {
			case ">":
				return r > 0
			case ">=":
				return r >= 0
			case "<":
				return r < 0
			case "<=":
				return r <= 0
			}
		case TermClause:
			if isJSONNumber(c.Text) {
				return NumberCompare(x, json.Number(c.Text)) == 0
			}
		}
	case bool:
		if !deep && c.Kind == TermClause {
			return strings.EqualFold(c.Text, "true") && x || strings.EqualFold(c.Text, "false") && !x
		}
	}
	return false
}

func containsRun(toks, run []string) bool {
	for i := 0; i+len(run) <= len(toks); i++ {
		if slices.Equal(toks[i:i+len(run)], run) {
			return true
		}
	}
	return false
}
