package jsonfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// ErrLocked is returned by Initialize when another store, in this process
// or another, has the directory open.
var ErrLocked = errors.New("jsonfile: directory is in use by another store")

// lockDir takes an exclusive, non-blocking flock on dir/LOCK. The lock is
// released when the returned file is closed or the process exits.
func lockDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, lockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("jsonfile: lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s (flock on %s)", ErrLocked, dir, path)
		}
		return nil, fmt.Errorf("jsonfile: lock %s: %w", path, err)
	}
	// The pid is informative only: the flock is the lock.
	_ = f.Truncate(0)
	_, _ = fmt.Fprintf(f, "%d\n", os.Getpid())
	return f, nil
}
