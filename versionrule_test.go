package trove

import "testing"

func TestClassifyVersion(t *testing.T) {
	for _, c := range []struct {
		v, stored, latest int
		want              VersionCase
	}{
		{1, 0, 0, VersionNext},
		{2, 0, 0, VersionGap},
		{1, 1, 1, VersionStored},
		{1, 2, 4, VersionStored},
		{3, 2, 4, VersionPending},
		{4, 2, 4, VersionPending},
		{5, 2, 4, VersionNext},
		{6, 2, 4, VersionGap},
		{0, 0, 0, VersionStored}, // Prepare makes versions ≥ 1; 0 would be "stored"
	} {
		if got := ClassifyVersion(c.v, c.stored, c.latest); got != c.want {
			t.Errorf("ClassifyVersion(%d, %d, %d) = %d, want %d", c.v, c.stored, c.latest, got, c.want)
		}
	}
}
