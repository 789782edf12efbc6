package jsonfile

import (
	"context"
	"fmt"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/internal/fsutil"
)

// ErrLocked is trove.ErrLocked, returned (wrapped) by Initialize when
// another store, in this process or another, has the directory open.
var ErrLocked = trove.ErrLocked

// lockDir takes the exclusive lock of dir (fsutil.LockDir on dir/LOCK),
// failing after a short wait with an error wrapping trove.ErrLocked that
// names dir and the holding process. The lock is released when the
// returned lock is unlocked or the process exits.
func lockDir(ctx context.Context, dir string) (*fsutil.DirLock, error) {
	l, err := fsutil.LockDir(ctx, dir, true)
	if err != nil {
		return nil, fmt.Errorf("jsonfile: %w", err)
	}
	return l, nil
}
