package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/trovedb/trove/plugins/internal/chunkread"
	"io"

	"github.com/jackc/pgx/v5"
	"github.com/trovedb/trove"
)

// SaveFile streams data into the file_chunks table in pieces of
// Options.ChunkSize bytes, hashing it on the way; at most one chunk is in
// memory. A file of one chunk is written by one statement (its row and
// bytes together). A larger one is written in one transaction: the files
// row is claimed first (a concurrent save of the same id waits for it), the
// chunks follow, and the size and hash are set last. Either way nobody sees
// a partial file and a failed upload leaves nothing behind. An id that exists is compared by
// hash: the same bytes are an idempotent retry, others ErrConflict.
func (s *Store) SaveFile(ctx context.Context, f trove.EventFile, data io.Reader) (trove.EventFile, error) {
	pool, err := s.pool("save file")
	if err != nil {
		return f, err
	}
	if err := trove.ValidateFileID(f.ID); err != nil {
		return f, err
	}
	meta := f
	meta.Data, meta.IsReference, meta.Size, meta.Hash = "", false, 0, ""
	h := sha256.New()
	buf := make([]byte, s.opts.ChunkSize)
	m, rerr := io.ReadFull(data, buf)
	small := errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF)
	if rerr != nil && !small {
		return f, fmt.Errorf("postgres: save file %s: %w", f.ID, rerr)
	}
	h.Write(buf[:m])
	sum := func() string { return "sha256:" + hex.EncodeToString(h.Sum(nil)) }
	if small {
		// One chunk: the file row and its bytes in one statement.
		meta.Size, meta.Hash = int64(m), sum()
		if f.Hash != "" && f.Hash != meta.Hash {
			return f, fmt.Errorf("%w: postgres: file %s: hash %s does not match the bytes (%s)", trove.ErrInvalid, f.ID, f.Hash, meta.Hash)
		}
		var inserted int
		err := pool.QueryRow(ctx, `WITH f AS (
	INSERT INTO files (id, content_type, filename, size, hash, chunk_size) VALUES ($1, $2, $3, $4, $5, $6)
	ON CONFLICT (id) DO NOTHING RETURNING id),
c AS (INSERT INTO file_chunks (file_id, n, data) SELECT id, 0, $7 FROM f WHERE $4 > 0)
SELECT count(*) FROM f`, f.ID, f.ContentType, f.Filename, meta.Size, meta.Hash, s.opts.ChunkSize, buf[:m]).Scan(&inserted)
		if err != nil {
			return f, fmt.Errorf("postgres: save file %s: %w", f.ID, err)
		}
		if inserted == 1 {
			s.wrote(ctx, pool)
			return meta, nil
		}
		return s.sameFile(ctx, pool, f, meta.Hash)
	}
	var existing bool
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO files (id, content_type, filename, size, hash, chunk_size) VALUES ($1, $2, $3, 0, '', $4)
ON CONFLICT (id) DO NOTHING`, f.ID, f.ContentType, f.Filename, s.opts.ChunkSize)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			existing = true
			return nil
		}
		for n := 0; ; n++ {
			if n > 0 {
				m, rerr = io.ReadFull(data, buf)
				small = errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF)
				if rerr != nil && !small {
					return rerr
				}
				h.Write(buf[:m])
			}
			if m > 0 {
				if _, err := tx.Exec(ctx, `INSERT INTO file_chunks (file_id, n, data) VALUES ($1, $2, $3)`, f.ID, n, buf[:m]); err != nil {
					return err
				}
				meta.Size += int64(m)
			}
			if small {
				break
			}
		}
		meta.Hash = sum()
		if f.Hash != "" && f.Hash != meta.Hash {
			return fmt.Errorf("%w: postgres: file %s: hash %s does not match the bytes (%s)", trove.ErrInvalid, f.ID, f.Hash, meta.Hash)
		}
		_, err = tx.Exec(ctx, `UPDATE files SET size = $2, hash = $3 WHERE id = $1`, f.ID, meta.Size, meta.Hash)
		return err
	})
	if err != nil {
		if errors.Is(err, trove.ErrInvalid) {
			return f, err
		}
		return f, fmt.Errorf("postgres: save file %s: %w", f.ID, err)
	}
	if !existing {
		s.wrote(ctx, pool)
		return meta, nil
	}
	if _, err := io.Copy(h, data); err != nil {
		return f, fmt.Errorf("postgres: save file %s: %w", f.ID, err)
	}
	got := sum()
	if f.Hash != "" && f.Hash != got {
		return f, fmt.Errorf("%w: postgres: file %s: hash %s does not match the bytes (%s)", trove.ErrInvalid, f.ID, f.Hash, got)
	}
	return s.sameFile(ctx, pool, f, got)
}

// sameFile answers a save of file f whose id exists: the stored file when
// its hash is hash (an idempotent retry), else ErrConflict.
func (s *Store) sameFile(ctx context.Context, q querier, f trove.EventFile, hash string) (trove.EventFile, error) {
	old, err := getFile(ctx, q, f.ID)
	if err != nil {
		return f, err
	}
	if old.Hash != hash {
		return f, fmt.Errorf("%w: postgres: file %s exists with other bytes", trove.ErrConflict, f.ID)
	}
	return old, nil
}

// getFile reads a file's metadata, or ErrNotFound.
func getFile(ctx context.Context, q querier, id string) (trove.EventFile, error) {
	f := trove.EventFile{ID: id}
	err := q.QueryRow(ctx, `SELECT content_type, filename, size, hash FROM files WHERE id = $1`, id).Scan(&f.ContentType, &f.Filename, &f.Size, &f.Hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return f, fmt.Errorf("%w: postgres: file %s", trove.ErrNotFound, id)
	}
	if err != nil {
		return f, fmt.Errorf("postgres: file %s: %w", id, err)
	}
	return f, nil
}

// GetFile returns a file's metadata.
func (s *Store) GetFile(ctx context.Context, id string) (trove.EventFile, error) {
	q, err := s.reader(ctx, "get file")
	if err != nil {
		return trove.EventFile{}, err
	}
	if err := trove.ValidateFileID(id); err != nil {
		return trove.EventFile{}, err
	}
	return getFile(ctx, q, id)
}

// GetFileData returns a reader of a file's bytes that fetches one chunk at a
// time; it also implements io.Seeker. It holds no connection between
// reads.
func (s *Store) GetFileData(ctx context.Context, id string) (io.ReadCloser, error) {
	q, err := s.reader(ctx, "get file data")
	if err != nil {
		return nil, err
	}
	if err := trove.ValidateFileID(id); err != nil {
		return nil, err
	}
	fr := &chunkread.Reader{Pkg: "postgres", Table: "file_chunks", ID: id, Fetch: func(n int64, dst []byte) ([]byte, error) {
		err := q.QueryRow(context.Background(), `SELECT data FROM file_chunks WHERE file_id = $1 AND n = $2`, id, n).Scan(&dst)
		return dst, err
	}}
	err = q.QueryRow(ctx, `SELECT size, chunk_size FROM files WHERE id = $1`, id).Scan(&fr.Size, &fr.ChunkSize)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: postgres: file %s", trove.ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: file %s: %w", id, err)
	}
	return fr, nil
}

var _ trove.FileDeleter = (*Store)(nil)

// DeleteFile removes a file's row and its chunks in one transaction (see
// trove.FileDeleter). A reader already open fails at its next chunk.
func (s *Store) DeleteFile(ctx context.Context, id string) error {
	pool, err := s.pool("delete file")
	if err != nil {
		return err
	}
	if err := trove.ValidateFileID(id); err != nil {
		return err
	}
	var found bool
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM file_chunks WHERE file_id = $1`, id); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM files WHERE id = $1`, id)
		found = tag.RowsAffected() > 0
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: delete file %s: %w", id, err)
	}
	if !found {
		return fmt.Errorf("%w: postgres: file %s", trove.ErrNotFound, id)
	}
	s.wrote(ctx, pool)
	return nil
}
