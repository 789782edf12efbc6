package engine

import (
	"context"
	"io"
	"time"

	"github.com/trovedb/trove"
)

var _ trove.FileStorage = (*Store)(nil)

// SaveFile stores a file's bytes in the store's content-addressed file
// directory (see trove.FileStorage).
func (s *Store) SaveFile(ctx context.Context, f trove.EventFile, data io.Reader) (trove.EventFile, error) {
	if err := s.enter("save file", false); err != nil {
		return f, err
	}
	defer s.leave(false)
	// Counted in the save load the search indexer defers to, not among
	// the event saves in flight (the group commit waits for those).
	defer s.addSaveTime(time.Now())
	return s.files.SaveFile(ctx, f, data)
}

// GetFile returns a file's metadata.
func (s *Store) GetFile(ctx context.Context, id string) (trove.EventFile, error) {
	if err := s.enter("get file", false); err != nil {
		return trove.EventFile{}, err
	}
	defer s.leave(false)
	return s.files.GetFile(ctx, id)
}

// GetFileData streams a file's bytes; the caller closes the reader. The
// reader stays usable after the store closes.
func (s *Store) GetFileData(ctx context.Context, id string) (io.ReadCloser, error) {
	if err := s.enter("get file data", false); err != nil {
		return nil, err
	}
	defer s.leave(false)
	return s.files.GetFileData(ctx, id)
}

// DeleteFile removes a file (see trove.FileDeleter); its bytes go with the
// last file id that shares them.
func (s *Store) DeleteFile(ctx context.Context, id string) error {
	if err := s.enter("delete file", false); err != nil {
		return err
	}
	defer s.leave(false)
	return s.files.(trove.FileDeleter).DeleteFile(ctx, id)
}

// DeleteFile removes a file (see trove.FileDeleter).
func (p *Plugin) DeleteFile(ctx context.Context, id string) error {
	s, err := p.Store()
	if err != nil {
		return err
	}
	return s.DeleteFile(ctx, id)
}
