package fsutil

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/trovedb/trove"
	"golang.org/x/sys/unix"
)

// LockFile is the name of the lock file a store keeps in its directory.
const LockFile = "LOCK"

// LockWait is how long LockDir keeps trying a lock that is held before it
// fails. A store that has just been closed can still hold its lock for a
// moment: a child process forked (by any goroutine of this process)
// between the lock file's open and close keeps a copy of the descriptor,
// and with it the lock, until it calls exec. Waiting briefly lets that
// window pass; a store that really has the directory open holds the lock
// far longer.
const LockWait = 500 * time.Millisecond

// lockRetry is the pause between two attempts while a lock is held.
const lockRetry = 10 * time.Millisecond

// DirLock is a lock held on a directory: flock(2) on the directory's LOCK
// file. The lock belongs to the open file, so a second LockDir on the same
// directory fails also within one process, and the kernel releases it when
// the process ends, however it ends: a crashed store leaves no stale lock.
type DirLock struct {
	f    *os.File // nil for a shared lock on a read-only file system
	dir  string   // what the lock guards, for errors
	path string
}

// LockedError is returned by LockDir when another store holds the lock. It
// matches trove.ErrLocked with errors.Is.
type LockedError struct {
	Dir  string // the locked directory
	Path string // its lock file
	// PID is the process holding the lock, as the kernel reports it in
	// /proc/locks or, failing that, as the holder wrote it into the lock
	// file; 0 when unknown.
	PID int
}

func (e *LockedError) Error() string {
	holder := "another process (pid unknown)"
	if e.PID == os.Getpid() {
		holder = fmt.Sprintf("another store in this process (pid %d)", e.PID)
	} else if e.PID > 0 {
		holder = fmt.Sprintf("process %d", e.PID)
	}
	return fmt.Sprintf("trove: %s is locked by %s (lock file %s); stop that process or use its HTTP API", e.Dir, holder, e.Path)
}

// Is reports whether target is trove.ErrLocked.
func (e *LockedError) Is(target error) bool { return target == trove.ErrLocked }

// LockDir takes the lock of dir, which must exist: exclusive for a store
// that writes (its process id is then written into the lock file, for
// the error other openers get), shared for a reader that changes nothing
// (several may hold it together, never alongside an exclusive holder).
// When the lock is held in a conflicting mode it retries for LockWait
// and then returns a *LockedError naming dir and the holder; it returns
// ctx's error as soon as ctx ends. A failed LockDir changes nothing in dir
// except creating an empty lock file where none was.
//
// A shared lock on a read-only file system where dir has no lock file
// yet succeeds without a file: no writer can open that directory either.
func LockDir(ctx context.Context, dir string, exclusive bool) (*DirLock, error) {
	return lockAt(ctx, dir, filepath.Join(dir, LockFile), exclusive, LockWait)
}

// LockPath is LockDir for a lock file at path that guards what (a
// database file, say) rather than a directory: errors name what.
func LockPath(ctx context.Context, what, path string, exclusive bool) (*DirLock, error) {
	return lockAt(ctx, what, path, exclusive, LockWait)
}

// TryLockPath takes the exclusive lock of LockPath without waiting: it
// returns nil and no error when the lock is held, by anyone.
func TryLockPath(what, path string) (*DirLock, error) {
	l, err := lockAt(context.Background(), what, path, true, 0)
	if errors.Is(err, trove.ErrLocked) {
		return nil, nil
	}
	return l, err
}

// Downgrade turns an exclusive lock into a shared one, waiting as LockDir
// does if another process takes the lock in between (flock converts a lock
// by dropping and retaking it).
func (l *DirLock) Downgrade(ctx context.Context) error {
	if l == nil || l.f == nil {
		return nil
	}
	if err := flockWait(ctx, l.f, unix.LOCK_SH, LockWait); err != nil {
		l.f.Close()
		l.f = nil
		if errors.Is(err, unix.EWOULDBLOCK) {
			return &LockedError{Dir: l.dir, Path: l.path, PID: lockHolderPath(l.path)}
		}
		return fmt.Errorf("fsutil: lock %s: %w", l.path, err)
	}
	return nil
}

// flockWait applies flock(how) to f, retrying for at most wait while the
// lock is held elsewhere (then it returns EWOULDBLOCK), or until ctx ends.
func flockWait(ctx context.Context, f *os.File, how int, wait time.Duration) error {
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		err := unix.Flock(int(f.Fd()), how|unix.LOCK_NB)
		if !errors.Is(err, unix.EWOULDBLOCK) {
			return err
		}
		r := time.NewTimer(lockRetry)
		select {
		case <-ctx.Done():
			r.Stop()
			return ctx.Err()
		case <-t.C:
			r.Stop()
			return err
		case <-r.C:
		}
	}
}

func lockAt(ctx context.Context, dir, path string, exclusive bool, wait time.Duration) (*DirLock, error) {
	flag, how := os.O_RDWR|os.O_CREATE, unix.LOCK_EX
	if !exclusive {
		flag, how = os.O_RDONLY, unix.LOCK_SH
	}
	f, err := os.OpenFile(path, flag, 0o644)
	if !exclusive && errors.Is(err, fs.ErrNotExist) {
		f, err = os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o644)
		if errors.Is(err, unix.EROFS) {
			return &DirLock{dir: dir, path: path}, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("fsutil: lock %s: %w", dir, err)
	}
	if err := flockWait(ctx, f, how, wait); err != nil {
		if errors.Is(err, unix.EWOULDBLOCK) {
			pid := lockHolder(f, path)
			f.Close()
			return nil, &LockedError{Dir: dir, Path: path, PID: pid}
		}
		f.Close()
		return nil, fmt.Errorf("fsutil: lock %s: %w", dir, err)
	}
	if exclusive {
		// Informative only: the flock is the lock.
		if err := f.Truncate(0); err == nil {
			_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
		}
	}
	return &DirLock{f: f, dir: dir, path: path}, nil
}

// Path returns the lock file's path.
func (l *DirLock) Path() string { return l.path }

// Unlock releases the lock. It is safe to call on a nil lock and twice.
func (l *DirLock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	f := l.f
	l.f = nil
	if err := f.Close(); err != nil {
		return fmt.Errorf("fsutil: unlock %s: %w", l.path, err)
	}
	return nil
}

// lockHolderPath is lockHolder for a lock file that is not open.
func lockHolderPath(path string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	return lockHolder(f, path)
}

// lockHolder returns the process holding a flock on f: the one
// /proc/locks names for f's inode, else the pid written in the file, else
// 0.
func lockHolder(f *os.File, path string) int {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err == nil {
		if pid := procLocksHolder(st); pid > 0 {
			return pid
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// procLocksHolder finds the FLOCK on the file st describes in /proc/locks
// (Linux): lines like "1: FLOCK  ADVISORY  WRITE 4242 08:01:1234 0 EOF",
// where the device is major:minor in hex. It returns 0 when there is no
// such file or line.
func procLocksHolder(st unix.Stat_t) int {
	f, err := os.Open("/proc/locks")
	if err != nil {
		return 0
	}
	defer f.Close()
	want := fmt.Sprintf("%02x:%02x:%d", unix.Major(uint64(st.Dev)), unix.Minor(uint64(st.Dev)), st.Ino)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		// A waiting request is listed as "1: -> FLOCK …": skip it.
		if len(fields) < 6 || fields[1] != "FLOCK" || fields[5] != want {
			continue
		}
		if pid, err := strconv.Atoi(fields[4]); err == nil && pid > 0 {
			return pid
		}
	}
	return 0
}
