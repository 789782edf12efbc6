package postgres_test

import (
	"strings"
	"testing"
	"time"

	"github.com/trovedb/trove/plugins/postgres"
)

// The tsvector the appender sends is the one array_to_tsvector makes of
// the same tokens: sorted as the server sorts, duplicates dropped.
func TestTSVectorEqualsArrayToTSVector(t *testing.T) {
	c := conn(t)
	postgres.RegisterTSVector(c.TypeMap())
	ctx := timeout(t, time.Minute)
	for _, toks := range [][]string{
		{},
		{"a"},
		{"b", "a", "b", "ab", "a", "abc", "aa"},
		{"zeta", "ünïcödé", "wörds", "z", "éa", "e", "10", "9", "099"},
		{"x1", "X1", "x", "x10", "x2"},
	} {
		var same bool
		var server string
		if err := c.QueryRow(ctx, `SELECT $1::tsvector = array_to_tsvector($2::text[]), array_to_tsvector($2::text[])::text`,
			postgres.MakeTSVector(toks), toks).Scan(&same, &server); err != nil {
			t.Fatalf("%q: %v", toks, err)
		}
		if !same {
			var sent string
			_ = c.QueryRow(ctx, `SELECT $1::tsvector::text`, postgres.MakeTSVector(toks)).Scan(&sent)
			t.Errorf("%q: sent %s, array_to_tsvector gives %s", toks, sent, server)
		}
	}
}

// A tsvector[] the appender sends holds, element by element, what
// array_to_tsvector makes of the same tokens, and NULL where it sends
// none.
func TestTSVectorArray(t *testing.T) {
	c := conn(t)
	postgres.RegisterTSVector(c.TypeMap())
	ctx := timeout(t, time.Minute)
	for _, elems := range [][][]string{
		{},
		{nil},
		{{"a"}},
		{{"b", "a", "b"}, nil, {}, {"ünïcödé", "z", "10"}},
		{nil, nil, {"x1", "X1"}},
	} {
		var n, nulls, wrong int
		if err := c.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE v IS NULL),
	count(*) FILTER (WHERE v IS NOT NULL AND v <> array_to_tsvector(string_to_array(w, ' ')))
FROM unnest($1::tsvector[], $2::text[]) AS u(v, w)`, postgres.MakeTSVectors(elems), joined(elems)).Scan(&n, &nulls, &wrong); err != nil {
			t.Fatalf("%q: %v", elems, err)
		}
		wantNulls := 0
		for _, e := range elems {
			if e == nil {
				wantNulls++
			}
		}
		if n != len(elems) || nulls != wantNulls || wrong != 0 {
			t.Errorf("%q: %d elements (%d NULL, %d unlike array_to_tsvector), want %d (%d NULL, 0)", elems, n, nulls, wrong, len(elems), wantNulls)
		}
	}
}

// joined is each element's tokens joined by spaces, NULL for nil.
func joined(elems [][]string) []*string {
	out := make([]*string, len(elems))
	for i, e := range elems {
		if e != nil {
			s := strings.Join(e, " ")
			out[i] = &s
		}
	}
	return out
}
