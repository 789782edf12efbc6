package postgres_test

import (
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
