package blobplugin

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/blob"
)

// Files is the files role of a plugin over a blob.Store.
type Files struct {
	pkg  string
	open func(ctx context.Context) (blob.Store, error)

	mu struct {
		sync.RWMutex
		store  blob.Store        // nil before Initialize and after Shutdown
		files  trove.FileStorage // on store
		closed bool              // Shutdown was called
	}
}

var _ trove.FileStorage = (*Files)(nil)

// New makes the files role of package pkg; Initialize opens its store with
// open. An error of open is returned as it is.
func New(pkg string, open func(ctx context.Context) (blob.Store, error)) *Files {
	return &Files{pkg: pkg, open: open}
}

// Initialize opens the store, once.
func (f *Files) Initialize(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mu.closed {
		return fmt.Errorf("%s: initialize: %w", f.pkg, trove.ErrClosed)
	}
	if f.mu.store != nil {
		return nil
	}
	s, err := f.open(ctx)
	if err != nil {
		return err
	}
	f.mu.store, f.mu.files = s, blob.NewFileStorage(s)
	return nil
}

// Shutdown closes the store; a second call is a no-op.
func (f *Files) Shutdown(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.closed = true
	if f.mu.store == nil {
		return nil
	}
	err := f.mu.store.Close()
	f.mu.store, f.mu.files = nil, nil
	return err
}

func (f *Files) fileStorage() (trove.FileStorage, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.mu.files == nil {
		if f.mu.closed {
			return nil, fmt.Errorf("%s: %w", f.pkg, trove.ErrClosed)
		}
		return nil, fmt.Errorf("%s: %w: not initialized", f.pkg, trove.ErrClosed)
	}
	return f.mu.files, nil
}

// SaveFile implements trove.FileStorage.
func (f *Files) SaveFile(ctx context.Context, ef trove.EventFile, data io.Reader) (trove.EventFile, error) {
	fs, err := f.fileStorage()
	if err != nil {
		return trove.EventFile{}, err
	}
	return fs.SaveFile(ctx, ef, data)
}

// GetFile implements trove.FileStorage.
func (f *Files) GetFile(ctx context.Context, id string) (trove.EventFile, error) {
	fs, err := f.fileStorage()
	if err != nil {
		return trove.EventFile{}, err
	}
	return fs.GetFile(ctx, id)
}

// GetFileData implements trove.FileStorage.
func (f *Files) GetFileData(ctx context.Context, id string) (io.ReadCloser, error) {
	fs, err := f.fileStorage()
	if err != nil {
		return nil, err
	}
	return fs.GetFileData(ctx, id)
}

// DeleteFile implements trove.FileDeleter.
func (f *Files) DeleteFile(ctx context.Context, id string) error {
	fs, err := f.fileStorage()
	if err != nil {
		return err
	}
	return fs.(trove.FileDeleter).DeleteFile(ctx, id)
}
