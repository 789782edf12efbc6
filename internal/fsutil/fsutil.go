// Package fsutil holds the file-system steps that make writes crash-safe:
// atomic publish of a whole file and syncing a directory after a rename.
package fsutil

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// SyncDir fsyncs a directory, making renames and creations in it durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("fsutil: sync dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsutil: sync dir %s: %w", dir, err)
	}
	return nil
}

// MkdirAll creates dir and any missing parent with perm, as os.MkdirAll
// does, and fsyncs the parent of every directory it creates, so that their
// names survive a power cut. An existing dir is left as it is.
func MkdirAll(dir string, perm os.FileMode) error {
	dir = filepath.Clean(dir)
	if st, err := os.Stat(dir); err == nil {
		if !st.IsDir() {
			return fmt.Errorf("fsutil: mkdir %s: not a directory", dir)
		}
		return nil
	}
	if parent := filepath.Dir(dir); parent != dir {
		if err := MkdirAll(parent, perm); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, perm); err != nil {
		if os.IsExist(err) {
			return nil // created meanwhile
		}
		return fmt.Errorf("fsutil: %w", err)
	}
	return SyncDir(filepath.Dir(dir))
}

// WriteFileAtomic publishes path with the bytes write produces: it writes a
// temporary file in the same directory, fsyncs it, renames it over path and
// fsyncs the directory. Readers see the old file or the whole new one, also
// after a crash at any instant. On error the temporary file is removed.
func WriteFileAtomic(path string, perm os.FileMode, write func(w io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("fsutil: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = write(f); err != nil {
		return err
	}
	if err = f.Chmod(perm); err != nil {
		return fmt.Errorf("fsutil: %w", err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("fsutil: sync %s: %w", tmp, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("fsutil: %w", err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("fsutil: publish %s: %w", path, err)
	}
	return SyncDir(dir)
}

// WriteFileBytes is WriteFileAtomic for bytes already in memory.
func WriteFileBytes(path string, data []byte, perm os.FileMode) error {
	return WriteFileAtomic(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}
