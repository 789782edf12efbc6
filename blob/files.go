package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/trovedb/trove"
)

// Metadata names FileStorage keeps with each object.
const (
	// MetaFilename holds EventFile.Filename.
	MetaFilename = "filename"
)

// NewFileStorage returns a trove.FileStorage on store: one object per file
// id, whose key is the id, whose content type is the file's, and whose
// metadata holds its filename. Size and hash come from the store, which
// computes them from the bytes. It follows every rule of trove.FileStorage:
// ids checked with trove.ValidateFileID, a client hash that does not match
// the bytes is ErrInvalid and stores nothing, the same id with the same bytes
// returns the stored metadata, with other bytes ErrConflict.
//
// The FileStorage does not own store: closing store makes every later call
// return an error wrapping trove.ErrClosed.
func NewFileStorage(store Store) trove.FileStorage {
	return &fileStorage{store: store}
}

type fileStorage struct {
	store Store
}

var (
	_ trove.FileStorage = (*fileStorage)(nil)
	_ trove.FileDeleter = (*fileStorage)(nil)
)

// SaveFile implements trove.FileStorage.
func (fs *fileStorage) SaveFile(ctx context.Context, f trove.EventFile, data io.Reader) (trove.EventFile, error) {
	if err := trove.ValidateFileID(f.ID); err != nil {
		return trove.EventFile{}, fmt.Errorf("blob: save file: %w", err)
	}
	if f.IsReference {
		return trove.EventFile{}, fmt.Errorf("blob: save file %s: %w: a reference file stores no bytes", f.ID, trove.ErrInvalid)
	}
	if data == nil {
		return trove.EventFile{}, fmt.Errorf("blob: save file %s: %w: no data", f.ID, trove.ErrInvalid)
	}
	opts := PutOptions{ContentType: f.ContentType}
	if f.Filename != "" {
		opts.Metadata = map[string]string{MetaFilename: f.Filename}
	}
	if f.Hash != "" {
		d, err := ParseHash(f.Hash)
		if err != nil {
			return trove.EventFile{}, fmt.Errorf("blob: save file %s: %w", f.ID, err)
		}
		opts.SHA256 = d
	}
	info, err := fs.store.Put(ctx, f.ID, data, opts)
	if errors.Is(err, trove.ErrConflict) {
		return trove.EventFile{}, &conflictError{id: f.ID, err: err}
	}
	if err != nil {
		return trove.EventFile{}, fmt.Errorf("blob: save file %s: %w", f.ID, err)
	}
	return fileOf(info), nil
}

// conflictError is SaveFile's error for an id that holds other bytes: its
// text says so as every file storage does, and it unwraps to the store's
// error (trove.ErrConflict, with the key and the stored digest).
type conflictError struct {
	id  string
	err error
}

func (e *conflictError) Error() string { return "blob: file " + e.id + " exists with other bytes" }
func (e *conflictError) Unwrap() error { return e.err }

// GetFile implements trove.FileStorage.
func (fs *fileStorage) GetFile(ctx context.Context, id string) (trove.EventFile, error) {
	if err := trove.ValidateFileID(id); err != nil {
		return trove.EventFile{}, fmt.Errorf("blob: get file: %w", err)
	}
	info, err := fs.store.Stat(ctx, id)
	if err != nil {
		return trove.EventFile{}, fmt.Errorf("blob: get file %s: %w", id, err)
	}
	return fileOf(info), nil
}

// GetFileData implements trove.FileStorage. The reader implements io.Seeker
// when the store's readers do.
func (fs *fileStorage) GetFileData(ctx context.Context, id string) (io.ReadCloser, error) {
	if err := trove.ValidateFileID(id); err != nil {
		return nil, fmt.Errorf("blob: get file data: %w", err)
	}
	rc, _, err := fs.store.Get(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("blob: get file data %s: %w", id, err)
	}
	return rc, nil
}

// DeleteFile implements trove.FileDeleter: it deletes the object (Store.Delete).
func (fs *fileStorage) DeleteFile(ctx context.Context, id string) error {
	if err := trove.ValidateFileID(id); err != nil {
		return fmt.Errorf("blob: delete file: %w", err)
	}
	if err := fs.store.Delete(ctx, id); err != nil {
		return fmt.Errorf("blob: delete file %s: %w", id, err)
	}
	return nil
}

// FormatHash returns the trove form of a hex SHA-256 digest: "sha256:<hex>".
func FormatHash(digest string) string { return "sha256:" + digest }

// ParseHash reads a trove file hash, "sha256:<64 hex digits>" (the hex in
// either case), and returns the lower-case hex digest. Anything else wraps
// trove.ErrInvalid.
func ParseHash(h string) (string, error) {
	algo, hexDigits, ok := strings.Cut(h, ":")
	d := strings.ToLower(hexDigits)
	if !ok || !strings.EqualFold(algo, "sha256") || !IsDigest(d) {
		return "", fmt.Errorf("%w: file hash %q: want sha256:<64 hex digits>", trove.ErrInvalid, h)
	}
	return d, nil
}

func fileOf(info Info) trove.EventFile {
	return trove.EventFile{
		ID:          info.Key,
		ContentType: info.ContentType,
		Filename:    info.Metadata[MetaFilename],
		Size:        info.Size,
		Hash:        FormatHash(info.SHA256),
	}
}
