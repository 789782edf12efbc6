package storagetest

import (
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
