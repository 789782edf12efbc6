package jsonfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// ErrLocked is returned by Initialize when another store, in this process
// or another, has the directory open.
var ErrLocked = errors.New("jsonfile: directory is in use by another store")

// lockWait is how long lockDir keeps trying a lock that is held. A store
// that has just shut down can still hold its lock for a moment: a child
// process forked (by any goroutine of this process) between the lock file's
// open and close keeps a copy of the descriptor, and with it the flock,
// until it calls exec. Waiting briefly lets that window pass; a store that
// really has the directory open holds the lock far longer.
const lockWait = time.Second

// lockDir takes an exclusive flock on dir/LOCK, waiting at most lockWait
// for a held one. The lock is released when the returned file is closed or
// the process exits.
func lockDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, lockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("jsonfile: lock: %w", err)
	}
	deadline := time.Now().Add(lockWait)
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
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
