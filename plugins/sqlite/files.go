package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/trovedb/trove/plugins/internal/chunkread"
	"io"

	"github.com/trovedb/trove"
)

// SaveFile streams data into the database in chunks of Options.ChunkSize
// bytes, hashing it on the way; at most one chunk is in memory. A file of
// one chunk is written in a single transaction, together with its files
// row. A larger one goes into a new blob chunk by chunk, one statement
// each (so a slow upload never holds SQLite's single writer), and a last
// transaction records the files row — or drops the blob when the id exists
// or the hash does not match. Blobs of uploads a crash interrupted are
// removed by Initialize.
func (s *Store) SaveFile(ctx context.Context, f trove.EventFile, data io.Reader) (trove.EventFile, error) {
	w, _, err := s.pools("save file")
	if err != nil {
		return f, err
	}
	if err := trove.ValidateFileID(f.ID); err != nil {
		return f, err
	}
	h := sha256.New()
	r := io.TeeReader(data, h)
	first := make([]byte, s.opts.ChunkSize)
	m, err := io.ReadFull(r, first)
	small := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
	if err != nil && !small {
		return f, fmt.Errorf("sqlite: save file %s: %w", f.ID, err)
	}
	first = first[:m]
	size := int64(m)
	var blob int64 // 0 until the blob exists
	keep := false
	if !small {
		if blob, err = s.newBlob(ctx, w, first); err != nil {
			return f, err
		}
		defer func() {
			if !keep {
				s.dropBlob(context.WithoutCancel(ctx), w, blob)
			}
		}()
		more, err := s.writeChunks(ctx, w, blob, r, first[:cap(first)])
		if err != nil {
			return f, fmt.Errorf("sqlite: save file %s: %w", f.ID, err)
		}
		size += more
	}
	meta := f
	meta.Data, meta.IsReference = "", false
	meta.Size = size
	meta.Hash = "sha256:" + hex.EncodeToString(h.Sum(nil))
	if f.Hash != "" && f.Hash != meta.Hash {
		return f, fmt.Errorf("%w: sqlite: file %s: hash %s does not match the bytes (%s)", trove.ErrInvalid, f.ID, f.Hash, meta.Hash)
	}

	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return f, fmt.Errorf("sqlite: save file %s: %w", f.ID, err)
	}
	defer tx.Rollback()
	old, err := getFile(ctx, tx, f.ID)
	switch {
	case err == nil:
		if old.Hash != meta.Hash {
			return f, fmt.Errorf("%w: sqlite: file %s exists with other bytes", trove.ErrConflict, f.ID)
		}
		return old, nil
	case !errors.Is(err, trove.ErrNotFound):
		return f, err
	}
	if blob == 0 {
		if blob, err = insertBlob(ctx, tx, s.opts.ChunkSize, first); err != nil {
			return f, fmt.Errorf("sqlite: save file %s: %w", f.ID, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO files (id, content_type, filename, size, hash, blob_pk) VALUES (?, ?, ?, ?, ?, ?)`,
		meta.ID, meta.ContentType, meta.Filename, meta.Size, meta.Hash, blob); err != nil {
		return f, fmt.Errorf("sqlite: save file %s: %w", f.ID, err)
	}
	if err := tx.Commit(); err != nil {
		return f, fmt.Errorf("sqlite: save file %s: %w", f.ID, err)
	}
	keep = true
	return meta, nil
}

// insertBlob creates a blob holding first as its chunk 0 (none when empty)
// and returns its key.
func insertBlob(ctx context.Context, q querier, chunkSize int, first []byte) (int64, error) {
	res, err := q.ExecContext(ctx, `INSERT INTO blobs (chunk_size) VALUES (?)`, chunkSize)
	if err != nil {
		return 0, err
	}
	blob, err := res.LastInsertId()
	if err != nil {
		return 0, err
	}
	if len(first) > 0 {
		if _, err := q.ExecContext(ctx, `INSERT INTO file_chunks (blob_pk, n, data) VALUES (?, 0, ?)`, blob, first); err != nil {
			return 0, err
		}
	}
	return blob, nil
}

// newBlob creates a blob with its first chunk in one transaction.
func (s *Store) newBlob(ctx context.Context, w *sql.DB, first []byte) (int64, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("sqlite: save file: %w", err)
	}
	defer tx.Rollback()
	blob, err := insertBlob(ctx, tx, s.opts.ChunkSize, first)
	if err != nil {
		return 0, fmt.Errorf("sqlite: save file: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("sqlite: save file: %w", err)
	}
	return blob, nil
}

// dropBlob removes a blob no file refers to.
func (s *Store) dropBlob(ctx context.Context, w *sql.DB, blob int64) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	_, _ = w.ExecContext(ctx, `DELETE FROM file_chunks WHERE blob_pk = ?; DELETE FROM blobs WHERE blob_pk = ?`, blob, blob)
}

// writeChunks copies r into the blob's chunks from chunk 1 on and returns
// the byte count. Each chunk is read into buf with no lock held, then
// inserted (one autocommit statement, durable when it returns) holding the
// writer for just that.
func (s *Store) writeChunks(ctx context.Context, w *sql.DB, blob int64, r io.Reader, buf []byte) (int64, error) {
	var size int64
	for n := 1; ; n++ {
		m, err := io.ReadFull(r, buf)
		last := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
		if err != nil && !last {
			return 0, err
		}
		if m > 0 {
			s.writeMu.Lock()
			_, err := w.ExecContext(ctx, `INSERT INTO file_chunks (blob_pk, n, data) VALUES (?, ?, ?)`, blob, n, buf[:m])
			s.writeMu.Unlock()
			if err != nil {
				return 0, err
			}
			size += int64(m)
		}
		if last {
			return size, nil
		}
	}
}

// getFile reads a file's metadata, or ErrNotFound.
func getFile(ctx context.Context, q querier, id string) (trove.EventFile, error) {
	f := trove.EventFile{ID: id}
	err := q.QueryRowContext(ctx, `SELECT content_type, filename, size, hash FROM files WHERE id = ?`, id).Scan(&f.ContentType, &f.Filename, &f.Size, &f.Hash)
	if errors.Is(err, sql.ErrNoRows) {
		return f, fmt.Errorf("%w: sqlite: file %s", trove.ErrNotFound, id)
	}
	if err != nil {
		return f, fmt.Errorf("sqlite: file %s: %w", id, err)
	}
	return f, nil
}

// GetFile returns a file's metadata.
func (s *Store) GetFile(ctx context.Context, id string) (trove.EventFile, error) {
	_, r, err := s.pools("get file")
	if err != nil {
		return trove.EventFile{}, err
	}
	if err := trove.ValidateFileID(id); err != nil {
		return trove.EventFile{}, err
	}
	return getFile(ctx, r, id)
}

// GetFileData returns a reader of a file's bytes that fetches one chunk at a
// time; it also implements io.Seeker. It holds no connection between
// reads.
func (s *Store) GetFileData(ctx context.Context, id string) (io.ReadCloser, error) {
	_, r, err := s.pools("get file data")
	if err != nil {
		return nil, err
	}
	if err := trove.ValidateFileID(id); err != nil {
		return nil, err
	}
	var blob int64
	fr := &chunkread.Reader{Pkg: "sqlite", Table: "file_chunks", ID: id, Fetch: func(n int64, dst []byte) ([]byte, error) {
		err := r.QueryRow(`SELECT data FROM file_chunks WHERE blob_pk = ? AND n = ?`, blob, n).Scan(&dst)
		return dst, err
	}}
	err = r.QueryRowContext(ctx, `SELECT f.size, f.blob_pk, b.chunk_size FROM files f JOIN blobs b USING (blob_pk) WHERE f.id = ?`, id).
		Scan(&fr.Size, &blob, &fr.ChunkSize)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: sqlite: file %s", trove.ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: file %s: %w", id, err)
	}
	return fr, nil
}

var _ trove.FileDeleter = (*Store)(nil)

// DeleteFile removes a file's row and its blob in one transaction (see
// trove.FileDeleter). A reader already open fails at its next chunk.
func (s *Store) DeleteFile(ctx context.Context, id string) error {
	w, _, err := s.pools("delete file")
	if err != nil {
		return err
	}
	if err := trove.ValidateFileID(id); err != nil {
		return err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: delete file %s: %w", id, err)
	}
	defer tx.Rollback()
	var blob int64
	err = tx.QueryRowContext(ctx, `SELECT blob_pk FROM files WHERE id = ?`, id).Scan(&blob)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: sqlite: file %s", trove.ErrNotFound, id)
	}
	if err != nil {
		return fmt.Errorf("sqlite: delete file %s: %w", id, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM files WHERE id = ?; DELETE FROM file_chunks WHERE blob_pk = ?; DELETE FROM blobs WHERE blob_pk = ?`, id, blob, blob); err != nil {
		return fmt.Errorf("sqlite: delete file %s: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: delete file %s: %w", id, err)
	}
	return nil
}
