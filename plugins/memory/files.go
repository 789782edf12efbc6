package memory

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/trovedb/trove"
)

// storedFile is a file's metadata and where its bytes are.
type storedFile struct {
	meta trove.EventFile
	path string
}

// SaveFile streams data into a private file under the store's directory,
// hashing it on the way, and records its metadata. The bytes never sit on
// the Go heap, so large files cost little memory.
func (s *Store) SaveFile(ctx context.Context, f trove.EventFile, data io.Reader) (trove.EventFile, error) {
	if err := ctx.Err(); err != nil {
		return f, err
	}
	if err := trove.ValidateFileID(f.ID); err != nil {
		return f, err
	}
	s.mu.RLock()
	dir, err := s.mu.fileDir, s.mu.state.Check("save file")
	s.mu.RUnlock()
	if err != nil {
		return f, err
	}
	if dir == "" {
		return f, fmt.Errorf("memory: save file %s: store is not initialized", f.ID)
	}
	tmp, err := os.CreateTemp(dir, "file-*")
	if err != nil {
		return f, fmt.Errorf("memory: save file %s: %w", f.ID, err)
	}
	keep := false
	defer func() {
		if !keep {
			os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return f, fmt.Errorf("memory: save file %s: %w", f.ID, err)
	}
	meta := f
	meta.Size = n
	meta.Hash = "sha256:" + hex.EncodeToString(h.Sum(nil))
	meta.Data = ""
	meta.IsReference = false
	if f.Hash != "" && f.Hash != meta.Hash {
		return f, fmt.Errorf("%w: memory: file %s: hash %s does not match the bytes (%s)", trove.ErrInvalid, f.ID, f.Hash, meta.Hash)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.mu.state.Check("save file"); err != nil {
		return f, err
	}
	if old, ok := s.mu.files[f.ID]; ok {
		if old.meta.Hash != meta.Hash {
			return f, fmt.Errorf("%w: memory: file %s exists with other bytes", trove.ErrConflict, f.ID)
		}
		return old.meta, nil
	}
	s.mu.files[f.ID] = storedFile{meta: meta, path: filepath.Join(dir, filepath.Base(tmp.Name()))}
	keep = true
	return meta, nil
}

// GetFile returns a file's metadata.
func (s *Store) GetFile(ctx context.Context, id string) (trove.EventFile, error) {
	if err := ctx.Err(); err != nil {
		return trove.EventFile{}, err
	}
	if err := trove.ValidateFileID(id); err != nil {
		return trove.EventFile{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.mu.state.Check("get file"); err != nil {
		return trove.EventFile{}, err
	}
	sf, ok := s.mu.files[id]
	if !ok {
		return trove.EventFile{}, fmt.Errorf("%w: memory: file %s", trove.ErrNotFound, id)
	}
	return sf.meta, nil
}

// GetFileData opens a file's bytes; the reader is an *os.File, so it also
// seeks.
func (s *Store) GetFileData(ctx context.Context, id string) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := trove.ValidateFileID(id); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.mu.state.Check("get file data"); err != nil {
		return nil, err
	}
	sf, ok := s.mu.files[id]
	if !ok {
		return nil, fmt.Errorf("%w: memory: file %s", trove.ErrNotFound, id)
	}
	r, err := os.Open(sf.path)
	if err != nil {
		return nil, fmt.Errorf("memory: file %s: %w", id, err)
	}
	return r, nil
}

var _ trove.FileDeleter = (*Store)(nil)

// DeleteFile removes a file's metadata and bytes (see trove.FileDeleter).
// A reader already open keeps reading the bytes it opened.
func (s *Store) DeleteFile(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := trove.ValidateFileID(id); err != nil {
		return err
	}
	s.mu.Lock()
	if err := s.mu.state.Check("delete file"); err != nil {
		s.mu.Unlock()
		return err
	}
	sf, ok := s.mu.files[id]
	if ok {
		delete(s.mu.files, id)
	}
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: memory: file %s", trove.ErrNotFound, id)
	}
	if err := os.Remove(sf.path); err != nil {
		return fmt.Errorf("memory: delete file %s: %w", id, err)
	}
	return nil
}
