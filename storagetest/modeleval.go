package storagetest

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/trovedb/trove"
)

// This file is the model's evaluator: the query semantics documented on trove.EventQuery (query.go) and
// of the trove package's doc comments, implemented literally and
// independently of trove.CompiledQuery.

func errorsIs(err, target error) bool { return errors.Is(err, target) }

var dateOnly = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)

// bound parses a time bound: a date (start of day, or its last
// millisecond for an end) or RFC 3339 with any offset.
func bound(s string, end bool) (time.Time, error) {
	if dateOnly.MatchString(s) {
		d, err := time.ParseInLocation("2006-01-02", s, time.UTC)
		if err != nil {
			return d, err
		}
		if end {
			d = d.Add(24*time.Hour - time.Millisecond)
		}
		return d, nil
	}
	return time.Parse(time.RFC3339Nano, s)
}

// scalar turns a query value into nil, bool, string or *big.Rat; ok is
// false for anything else.
func scalar(v any) (any, bool) {
	switch x := v.(type) {
	case nil, bool, string:
		return x, true
	case json.Number:
		r, ok := new(big.Rat).SetString(string(x))
		return r, ok
	case float64:
		return new(big.Rat).SetFloat64(x), true
	case int:
		return big.NewRat(int64(x), 1), true
	}
	return nil, false
}

// at follows a dotted path through objects.
func lookupPath(v any, path []string) (any, bool) {
	for _, k := range path {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = obj[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

// sameScalar: same JSON type and value, numbers numerically.
func sameScalar(stored, want any) bool {
	switch w := want.(type) {
	case nil:
		return stored == nil
	case bool:
		s, ok := stored.(bool)
		return ok && s == w
	case string:
		s, ok := stored.(string)
		return ok && s == w
	case *big.Rat:
		n, ok := stored.(json.Number)
		if !ok {
			return false
		}
		r, ok := new(big.Rat).SetString(string(n))
		return ok && r.Cmp(w) == 0
	}
	return false
}

// modelTokens lowercases and splits on everything but letters and digits.
func modelTokens(s string) []string {
	var out []string
	var cur []rune
	for _, r := range strings.ToLower(s) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			cur = append(cur, r)
			continue
		}
		if len(cur) > 0 {
			out = append(out, string(cur))
			cur = cur[:0]
		}
	}
	if len(cur) > 0 {
		out = append(out, string(cur))
	}
	return out
}

// mclause is one search clause as the model reads the generated strings.
type mclause struct {
	occur  byte // 0, '+', '-'
	path   []string
	phrase bool
	words  []string
	op     string
	num    *big.Rat
	text   string
}

// parseModelSearch reads the subset of search strings randomSearch writes.
func parseModelSearch(s string) []mclause {
	var out []mclause
	rest := s
	for rest = strings.TrimSpace(rest); rest != ""; rest = strings.TrimSpace(rest) {
		var c mclause
		if rest[0] == '+' || rest[0] == '-' {
			c.occur, rest = rest[0], rest[1:]
		}
		var tok string
		if i := strings.IndexAny(rest, ` "`); i >= 0 && rest[i] == '"' {
			// field:"phrase"
			j := strings.IndexByte(rest[i+1:], '"')
			tok, rest = rest[:i+1+j+1], rest[i+1+j+1:]
		} else if i := strings.IndexByte(rest, ' '); i >= 0 {
			tok, rest = rest[:i], rest[i:]
		} else {
			tok, rest = rest, ""
		}
		if f, v, ok := strings.Cut(tok, ":"); ok {
			c.path = strings.Split(f, ".")
			tok = v
		}
		if strings.HasPrefix(tok, `"`) {
			c.phrase = true
			tok = strings.Trim(tok, `"`)
		}
		c.text = tok
		for _, op := range []string{">=", "<=", ">", "<"} {
			if n, ok := strings.CutPrefix(tok, op); ok {
				c.op = op
				c.num, _ = new(big.Rat).SetString(n)
				break
			}
		}
		c.words = modelTokens(tok)
		out = append(out, c)
	}
	return out
}

func (c mclause) matches(payload any) bool {
	if c.path != nil {
		v, ok := lookupPath(payload, c.path)
		return ok && c.matchValue(v, false)
	}
	return c.matchValue(payload, true)
}

// matchValue: arrays match when an element does; bare clauses descend into
// objects and look at strings only.
func (c mclause) matchValue(v any, bare bool) bool {
	switch x := v.(type) {
	case []any:
		return slices.ContainsFunc(x, func(e any) bool { return c.matchValue(e, bare) })
	case map[string]any:
		if !bare {
			return false
		}
		for _, e := range x {
			if c.matchValue(e, true) {
				return true
			}
		}
		return false
	case string:
		if c.op != "" {
			return false
		}
		toks := modelTokens(x)
		if c.phrase {
			for i := 0; i+len(c.words) <= len(toks); i++ {
				if slices.Equal(toks[i:i+len(c.words)], c.words) {
					return true
				}
			}
			return false
		}
		return slices.ContainsFunc(c.words, func(w string) bool { return slices.Contains(toks, w) })
	case json.Number:
		if bare {
			return false
		}
		r, _ := new(big.Rat).SetString(string(x))
		if c.op != "" {
			d := r.Cmp(c.num)
			switch c.op {
			case ">":
				return d > 0
			case ">=":
				return d >= 0
			case "<":
				return d < 0
			}
			return d <= 0
		}
		if w, ok := new(big.Rat).SetString(c.text); ok && !c.phrase {
			return r.Cmp(w) == 0
		}
	case bool:
		if !bare && c.op == "" && !c.phrase {
			return strings.EqualFold(c.text, strconv.FormatBool(x))
		}
	}
	return false
}

func searchMatches(clauses []mclause, payload any) bool {
	must, should, anyShould := false, false, false
	for _, c := range clauses {
		ok := c.matches(payload)
		switch c.occur {
		case '+':
			if !ok {
				return false
			}
			must = true
		case '-':
			if ok {
				return false
			}
		default:
			anyShould = true
			should = should || ok
		}
	}
	return must || !anyShould || should
}

// rank orders scalars of different JSON types: null, booleans, numbers,
// strings.
func rank(v any) int {
	switch v.(type) {
	case nil:
		return 0
	case bool:
		return 1
	case json.Number:
		return 2
	}
	return 3
}

func compareScalar(a, b any) int {
	if ra, rb := rank(a), rank(b); ra != rb {
		return cmp.Compare(ra, rb)
	}
	switch x := a.(type) {
	case bool:
		y := b.(bool)
		if x == y {
			return 0
		} else if !x {
			return -1
		}
		return 1
	case json.Number:
		ra, _ := new(big.Rat).SetString(string(x))
		rb, _ := new(big.Rat).SetString(string(b.(json.Number)))
		return ra.Cmp(rb)
	case string:
		return strings.Compare(x, b.(string))
	}
	return 0
}

// eval answers q the slow, literal way; a non-nil error means the query is
// invalid.
func (m *model) eval(q trove.EventQuery) ([]*mevent, error) {
	if q.Limit != nil && *q.Limit < 0 || q.Offset < 0 {
		return nil, fmt.Errorf("negative limit or offset")
	}
	var start, end *time.Time
	if q.TimeRange != nil {
		if q.TimeRange.Start != "" {
			t, err := bound(q.TimeRange.Start, false)
			if err != nil {
				return nil, err
			}
			start = &t
		}
		if q.TimeRange.End != "" {
			t, err := bound(q.TimeRange.End, true)
			if err != nil {
				return nil, err
			}
			end = &t
		}
	}
	type term struct {
		path []string
		v    any
	}
	var terms []term
	for p, v := range q.Payload {
		sv, ok := scalar(v)
		if !ok {
			return nil, fmt.Errorf("payload %s: not a scalar", p)
		}
		terms = append(terms, term{strings.Split(p, "."), sv})
	}
	for _, f := range q.Sort {
		switch f.Direction {
		case "", "asc", "desc":
		default:
			return nil, fmt.Errorf("sort direction %q", f.Direction)
		}
		switch f.Field {
		case "createdAt", "producer", "schema", "id", "version", "position":
		default:
			p, ok := strings.CutPrefix(f.Field, "payload.")
			if !ok || slices.Contains(strings.Split(p, "."), "") {
				return nil, fmt.Errorf("sort field %q", f.Field)
			}
		}
	}
	var search []mclause
	if q.Search != "" {
		search = parseModelSearch(q.Search)
	}
	var out []*mevent
	for _, e := range m.events {
		if !q.AllVersions {
			vs := m.byID[e.ev.ID.ID]
			if vs[len(vs)-1] != e {
				continue
			}
		}
		if q.Schema != nil && !slices.Contains(q.Schema, e.schema) {
			continue
		}
		if q.Producer != nil && !slices.Contains(q.Producer, e.ev.Producer) {
			continue
		}
		if start != nil && e.ev.CreatedAt.Before(*start) || end != nil && e.ev.CreatedAt.After(*end) {
			continue
		}
		linksOK := true
		for _, c := range q.Links {
			if !slices.ContainsFunc(e.links, func(l trove.EventLink) bool {
				return (c.Type == "" || c.Type == l.Type) && (c.TargetEvent == nil || c.TargetEvent.ID == "" || c.TargetEvent.ID == l.TargetEvent.ID)
			}) {
				linksOK = false
				break
			}
		}
		if !linksOK {
			continue
		}
		payloadOK := true
		for _, t := range terms {
			v, ok := lookupPath(e.payload, t.path)
			if !ok || !sameScalar(v, t.v) {
				payloadOK = false
				break
			}
		}
		if !payloadOK || search != nil && !searchMatches(search, e.payload) {
			continue
		}
		out = append(out, e)
	}
	slices.SortStableFunc(out, func(a, b *mevent) int {
		for _, f := range q.Sort {
			dir := 1
			if f.Direction == "desc" {
				dir = -1
			}
			var c int
			switch f.Field {
			case "createdAt":
				c = a.ev.CreatedAt.Compare(b.ev.CreatedAt)
			case "producer":
				c = strings.Compare(a.ev.Producer, b.ev.Producer)
			case "schema":
				c = strings.Compare(a.schema, b.schema)
			case "id":
				c = strings.Compare(a.ev.ID.ID, b.ev.ID.ID)
			case "version":
				c = cmp.Compare(a.ev.ID.Version, b.ev.ID.Version)
			case "position":
				c = cmp.Compare(a.ev.Position, b.ev.Position)
			default:
				path := strings.Split(strings.TrimPrefix(f.Field, "payload."), ".")
				va, oka := sortable(a.payload, path)
				vb, okb := sortable(b.payload, path)
				switch {
				case !oka && !okb:
					continue
				case !oka:
					return 1
				case !okb:
					return -1
				}
				c = compareScalar(va, vb)
			}
			if c != 0 {
				return dir * c
			}
		}
		return cmp.Compare(a.ev.Position, b.ev.Position)
	})
	if q.Offset >= len(out) {
		return nil, nil
	}
	out = out[q.Offset:]
	if q.Limit != nil && *q.Limit < len(out) {
		out = out[:*q.Limit]
	}
	return out, nil
}

// sortable is the scalar at path; objects and arrays count as missing.
func sortable(payload any, path []string) (any, bool) {
	v, ok := lookupPath(payload, path)
	if !ok {
		return nil, false
	}
	switch v.(type) {
	case map[string]any, []any:
		return nil, false
	}
	return v, true
}
