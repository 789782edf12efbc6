package storagetest

import (
	"math"
	"testing"

	"github.com/trovedb/trove"
)

// testSearchExamples runs the worked examples of the README's search
// section: what each operator does, on every backend.
func testSearchExamples(t *testing.T, k *kit) {
	s := k.open(t, "events")
	s.save(ev("s1", "kit.note", `{"status":"failed","amount":150}`))
	s.save(ev("s2", "kit.note", `{"status":"failed","amount":50}`))
	s.save(ev("s3", "kit.note", `{"status":"paid","amount":500}`))
	for search, want := range map[string]string{
		"+status:failed +amount:>100": "[s1]",
		"status:failed status:paid":   "[s1 s2 s3]",
		"status:failed amount:>100":   "[s1 s2 s3]",
		"+status:failed -amount:>100": "[s2]",
		"status:failed +amount:>100":  "[s1 s3]",
		"status:failed":               "[s1 s2]",
		"-status:failed":              "[s3]",
	} {
		if got := ids(s.query(trove.EventQuery{Search: search})); got != want {
			t.Errorf("search %q = %s, want %s", search, got, want)
		}
	}
}

// testQueryHugeOffset: an offset near the largest int, with or without a
// limit, finds nothing; offset + limit never wraps into "no limit".
func testQueryHugeOffset(t *testing.T, k *kit) {
	s := fixture(t, k)
	for _, q := range []trove.EventQuery{
		{Offset: math.MaxInt, Limit: trove.Limit(10)},
		{Offset: math.MaxInt - 5, Limit: trove.Limit(10)},
		{Offset: math.MaxInt - 5, Limit: trove.Limit(math.MaxInt)},
		{Offset: math.MaxInt},
		{Offset: 6, Limit: trove.Limit(math.MaxInt)},
		{Offset: 1 << 40, Sort: []trove.SortField{{Field: "createdAt", Direction: "desc"}}, Limit: trove.Limit(3)},
	} {
		if got := s.query(q); len(got) != 0 {
			t.Errorf("offset %d: %s", q.Offset, ids(got))
		}
	}
	if got := s.query(trove.EventQuery{Offset: 5, Limit: trove.Limit(math.MaxInt)}); ids(got) != "[q6@2]" {
		t.Errorf("offset 5, limit MaxInt: %s", ids(got))
	}
}
