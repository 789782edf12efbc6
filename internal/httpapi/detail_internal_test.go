package httpapi

import (
	"fmt"
	"testing"

	"github.com/trovedb/trove"
)

// Error details speak of the request, not of the packages that failed it.
func TestDetailDropsPackageNames(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("%w: engine: event x@1 exists with other content", trove.ErrConflict), "event x@1 exists with other content"},
		{fmt.Errorf("blob: file f1: local: put: %w", fmt.Errorf("%w: other bytes are stored under this id", trove.ErrConflict)), "file f1: other bytes are stored under this id"},
		{fmt.Errorf("%w: sqlite: event 3 (engine: nope)", trove.ErrNotFound), "event 3 (nope)"},
		{fmt.Errorf("%w: schema ok: fine", trove.ErrInvalid), "schema ok: fine"},
	} {
		if got := detail(c.err); got != c.want {
			t.Errorf("detail(%q) = %q, want %q", c.err, got, c.want)
		}
	}
}
