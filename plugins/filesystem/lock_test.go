package filesystem_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/trovedb/trove/internal/fsutil/locktest"
)

// lockChildEnv, when set, makes TestLockChild open that directory.
const lockChildEnv = "FILESYSTEM_LOCK_CHILD_DIR"

// TestLockChild runs only as the child of TestSecondProcessLocked: it
// initializes the plugin and keeps it open.
func TestLockChild(t *testing.T) {
	locktest.Holder(t, lockChildEnv, func(dir string) (io.Closer, error) {
		p := open(t, dir)
		return closer(func() error { return p.Shutdown(context.Background()) }), p.Initialize(context.Background(), nil)
	})
}

type closer func() error

func (c closer) Close() error { return c() }

func TestSecondProcessLocked(t *testing.T) {
	dir := t.TempDir()
	h := locktest.Hold(t, lockChildEnv, "TestLockChild", dir)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p := open(t, dir)
	err := p.Initialize(ctx, nil)
	if err == nil {
		p.Shutdown(ctx)
	}
	locktest.WantLocked(t, "Initialize", err, dir, h.Pid)
	h.Release()
	p = open(t, dir)
	if err := p.Initialize(ctx, nil); err != nil {
		t.Fatalf("after the holder closed: %v", err)
	}
	p.Shutdown(ctx)
}
