package jsonfile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/internal/fsutil"
)

// errFileExists stops the publish of a file id that is already stored.
var errFileExists = errors.New("jsonfile: file exists")

// SaveFile streams data into files/<id>.data, hashing it on the way, then
// publishes files/<id>.json. The bytes never sit in memory. The data file
// is published first, so a file whose metadata exists is complete.
func (s *Store) SaveFile(ctx context.Context, f trove.EventFile, data io.Reader) (trove.EventFile, error) {
	if err := ctx.Err(); err != nil {
		return f, err
	}
	if err := trove.ValidateFileID(f.ID); err != nil {
		return f, err
	}
	s.mu.RLock()
	err := s.checkWriteLocked("save file")
	s.mu.RUnlock()
	if err != nil {
		return f, err
	}
	meta := f
	meta.Data, meta.IsReference = "", false
	var old trove.EventFile
	locked := false
	defer func() {
		if locked {
			s.writeMu.Unlock()
		}
	}()
	err = fsutil.WriteFileAtomic(s.fileDataPath(f.ID), 0o644, func(w io.Writer) error {
		h := sha256.New()
		n, err := io.Copy(io.MultiWriter(w, h), ctxReader{ctx, data})
		if err != nil {
			return fmt.Errorf("jsonfile: save file %s: %w", f.ID, err)
		}
		meta.Size = n
		meta.Hash = "sha256:" + hex.EncodeToString(h.Sum(nil))
		if f.Hash != "" && f.Hash != meta.Hash {
			return fmt.Errorf("%w: jsonfile: file %s: hash %s does not match the bytes (%s)", trove.ErrInvalid, f.ID, f.Hash, meta.Hash)
		}
		// The id check and the publish happen under writeMu, held until
		// the metadata is written too.
		s.writeMu.Lock()
		locked = true
		s.mu.RLock()
		defer s.mu.RUnlock()
		if err := s.checkWriteLocked("save file"); err != nil {
			return err
		}
		var ok bool
		if old, ok = s.mu.files[f.ID]; ok {
			return errFileExists
		}
		return nil
	})
	if errors.Is(err, errFileExists) {
		if old.Hash != meta.Hash {
			return f, fmt.Errorf("%w: jsonfile: file %s exists with other bytes", trove.ErrConflict, f.ID)
		}
		return old, nil
	}
	if err != nil {
		return f, err
	}
	raw, err := json.MarshalIndent(meta, "", "  ")
	if err != nil {
		return f, fmt.Errorf("jsonfile: save file %s: %w", f.ID, err)
	}
	if err := fsutil.WriteFileBytes(s.fileMetaPath(f.ID), append(raw, '\n'), 0o644); err != nil {
		return f, fmt.Errorf("jsonfile: save file %s: %w", f.ID, err)
	}
	s.mu.Lock()
	s.mu.files[f.ID] = meta
	s.mu.Unlock()
	return meta, nil
}

// ctxReader stops a copy when its context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
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
	if err := s.checkLocked("get file"); err != nil {
		return trove.EventFile{}, err
	}
	f, ok := s.mu.files[id]
	if !ok {
		return trove.EventFile{}, fmt.Errorf("%w: jsonfile: file %s", trove.ErrNotFound, id)
	}
	return f, nil
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
	if err := s.checkLocked("get file data"); err != nil {
		return nil, err
	}
	if _, ok := s.mu.files[id]; !ok {
		return nil, fmt.Errorf("%w: jsonfile: file %s", trove.ErrNotFound, id)
	}
	r, err := os.Open(s.fileDataPath(id))
	if err != nil {
		return nil, fmt.Errorf("jsonfile: file %s: %w", id, err)
	}
	return r, nil
}

var _ trove.FileDeleter = (*Store)(nil)

// DeleteFile removes files/<id>.json, then files/<id>.data (see
// trove.FileDeleter), each removal made durable: once the metadata is gone
// the file is gone, also after a crash. A reader already open keeps
// reading the bytes it opened.
func (s *Store) DeleteFile(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := trove.ValidateFileID(id); err != nil {
		return err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.mu.RLock()
	err := s.checkWriteLocked("delete file")
	_, ok := s.mu.files[id]
	s.mu.RUnlock()
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: jsonfile: file %s", trove.ErrNotFound, id)
	}
	if err := os.Remove(s.fileMetaPath(id)); err != nil {
		return fmt.Errorf("jsonfile: delete file %s: %w", id, err)
	}
	s.mu.Lock()
	delete(s.mu.files, id)
	s.mu.Unlock()
	if err := os.Remove(s.fileDataPath(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("jsonfile: delete file %s: %w", id, err)
	}
	if err := fsutil.SyncDir(filepath.Dir(s.fileMetaPath(id))); err != nil {
		return fmt.Errorf("jsonfile: delete file %s: %w", id, err)
	}
	return nil
}
