package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/trovedb/trove"
)

// Report is what Check found.
type Report struct {
	Events   int // distinct event ids
	Versions int // event rows
	Links    int // link rows
	Files    int // files, each read back and hashed
	Schemas  int // distinct schema documents
	// Problems lists every failed check, one line each.
	Problems []string
}

// Check opens the database at path (applying pending migrations, as
// Initialize does) and verifies it: SQLite's integrity_check and
// foreign_key_check, exactly one latest row per event id and on its
// highest version, versions of an id running 1..n, every schema document
// parsing, and every file's chunks adding up to its size and sha256.
// Failures are listed in Report.Problems and the returned error wraps
// trove.ErrCorrupt.
func Check(ctx context.Context, path string) (Report, error) {
	var rep Report
	s, err := New(Options{Path: path})
	if err != nil {
		return rep, err
	}
	if err := s.Initialize(ctx, nil); err != nil {
		return rep, err
	}
	defer s.Shutdown(ctx)
	_, r, err := s.pools("check")
	if err != nil {
		return rep, err
	}
	problem := func(format string, args ...any) { rep.Problems = append(rep.Problems, fmt.Sprintf(format, args...)) }
	rowsOf := func(query string, each func(*sql.Rows) error) error {
		rows, err := r.QueryContext(ctx, query)
		if err != nil {
			return fmt.Errorf("sqlite: check: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			if err := each(rows); err != nil {
				return fmt.Errorf("sqlite: check: %w", err)
			}
		}
		return rows.Err()
	}
	steps := []struct {
		query string
		each  func(*sql.Rows) error
	}{
		{`PRAGMA integrity_check`, func(rows *sql.Rows) error {
			var msg string
			if err := rows.Scan(&msg); err != nil {
				return err
			}
			if msg != "ok" {
				problem("integrity_check: %s", msg)
			}
			return nil
		}},
		{`PRAGMA foreign_key_check`, func(rows *sql.Rows) error {
			var table, parent string
			var rowid sql.NullInt64
			var fk int
			if err := rows.Scan(&table, &rowid, &parent, &fk); err != nil {
				return err
			}
			problem("foreign_key_check: %s row %d refers to a missing %s row", table, rowid.Int64, parent)
			return nil
		}},
		{`SELECT id, count(*), max(version), sum(latest), max(CASE WHEN latest = 1 THEN version END) FROM events GROUP BY id`, func(rows *sql.Rows) error {
			var id string
			var n, maxV, latest int
			var latestV sql.NullInt64
			if err := rows.Scan(&id, &n, &maxV, &latest, &latestV); err != nil {
				return err
			}
			rep.Events++
			rep.Versions += n
			if n != maxV {
				problem("event %s: %d rows for versions up to %d", id, n, maxV)
			}
			if latest != 1 || latestV.Int64 != int64(maxV) {
				problem("event %s: %d rows marked latest (want exactly version %d)", id, latest, maxV)
			}
			return nil
		}},
		{`SELECT count(*) FROM links`, func(rows *sql.Rows) error { return rows.Scan(&rep.Links) }},
		{`SELECT schema_pk, doc FROM schema_docs`, func(rows *sql.Rows) error {
			var pk int64
			var doc string
			if err := rows.Scan(&pk, &doc); err != nil {
				return err
			}
			rep.Schemas++
			if _, err := trove.NewSchema([]byte(doc)); err != nil {
				problem("schema document %d: %v", pk, err)
			}
			return nil
		}},
	}
	for _, st := range steps {
		if err := rowsOf(st.query, st.each); err != nil {
			return rep, err
		}
	}
	var files []trove.EventFile
	if err := rowsOf(`SELECT id, size, hash FROM files ORDER BY id`, func(rows *sql.Rows) error {
		var f trove.EventFile
		files = append(files, f)
		return rows.Scan(&files[len(files)-1].ID, &files[len(files)-1].Size, &files[len(files)-1].Hash)
	}); err != nil {
		return rep, err
	}
	for _, f := range files {
		rep.Files++
		rc, err := s.GetFileData(ctx, f.ID)
		if err != nil {
			problem("file %s: %v", f.ID, err)
			continue
		}
		h := sha256.New()
		n, err := io.Copy(h, rc)
		rc.Close()
		if sum := "sha256:" + hex.EncodeToString(h.Sum(nil)); err != nil || n != f.Size || sum != f.Hash {
			problem("file %s: read %d bytes hashing to %s (%v), metadata says %d bytes, %s", f.ID, n, sum, err, f.Size, f.Hash)
		}
	}
	if len(rep.Problems) > 0 {
		return rep, fmt.Errorf("%w: sqlite: %d problems in %s", trove.ErrCorrupt, len(rep.Problems), path)
	}
	return rep, nil
}
