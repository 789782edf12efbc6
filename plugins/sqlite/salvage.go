package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/backup"
)

// SalvageReport says what Salvage read and what it had to skip.
type SalvageReport struct {
	Events, Links, Files, Schemas int
	// Skipped has one line for each row or range that could not be read.
	Skipped []string
}

// salvagePage is how many events Salvage reads per query while the
// database answers; past a damaged page it reads one position at a time
// for as many.
const salvagePage = 512

// Salvage reads every intact row of the database at path, which need not
// open as a store, without writing to it (it is opened read-only, its WAL
// included; SQLite may create its shared-memory file beside it): the
// registered schemas, every file whose bytes read back
// with their recorded size and hash, every event in position order, and
// the links added with SaveLink in their save order after all events.
// Where SQLite reports damage it steps past it one position at a time and
// lists what it skipped. Links added later come after every event, so an
// incoming listing can mix them differently from the original.
func Salvage(ctx context.Context, path string, to backup.Sink) (SalvageReport, error) {
	var rep SalvageReport
	skip := func(format string, args ...any) { rep.Skipped = append(rep.Skipped, fmt.Sprintf(format, args...)) }
	if _, err := os.Stat(path); err != nil {
		return rep, fmt.Errorf("sqlite: salvage: %w", err)
	}
	q := url.Values{}
	q.Add("mode", "ro") // the WAL is read too: acknowledged rows may live only there
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?"+q.Encode())
	if err != nil {
		return rep, fmt.Errorf("sqlite: salvage: %w", err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)

	// The registry.
	if rows, err := db.QueryContext(ctx, `SELECT id, version, doc FROM registered_schemas ORDER BY seq`); err != nil {
		skip("registered schemas: %v", err)
	} else {
		for rows.Next() {
			var rs trove.RegisteredSchema
			var doc string
			if err := rows.Scan(&rs.ID, &rs.Version, &doc); err != nil {
				skip("a registered schema: %v", err)
				continue
			}
			rs.Schema = json.RawMessage(doc)
			rep.Schemas++
			if to.Schema != nil {
				if err := to.Schema(rs); err != nil {
					rows.Close()
					return rep, err
				}
			}
		}
		if err := rows.Err(); err != nil {
			skip("registered schemas after %d: %v", rep.Schemas, err)
		}
		rows.Close()
	}

	// Schema documents, by key.
	docs := map[int64]trove.Schema{}
	if rows, err := db.QueryContext(ctx, `SELECT schema_pk, doc FROM schema_docs`); err != nil {
		skip("schema documents: %v", err)
	} else {
		for rows.Next() {
			var pk int64
			var doc string
			if err := rows.Scan(&pk, &doc); err != nil {
				skip("a schema document: %v", err)
				continue
			}
			sc, err := trove.NewSchema(json.RawMessage(doc))
			if err != nil {
				skip("schema document %d: %v", pk, err)
				continue
			}
			docs[pk] = sc
		}
		if err := rows.Err(); err != nil {
			skip("schema documents: %v", err)
		}
		rows.Close()
	}

	if err := salvageFiles(ctx, db, to, &rep, skip); err != nil {
		return rep, err
	}
	if err := salvageEvents(ctx, db, docs, to, &rep, skip); err != nil {
		return rep, err
	}

	// Links added with SaveLink, in save order.
	if rows, err := db.QueryContext(ctx, `SELECT source_id, source_version, type, target_id, target_version, metadata FROM links WHERE own = 0 ORDER BY seq`); err != nil {
		skip("links: %v", err)
	} else {
		defer rows.Close()
		for rows.Next() {
			var src trove.EventID
			var l trove.EventLink
			var meta sql.NullString
			if err := rows.Scan(&src.ID, &src.Version, &l.Type, &l.TargetEvent.ID, &l.TargetEvent.Version, &meta); err != nil {
				skip("a link: %v", err)
				continue
			}
			if meta.Valid {
				l.Metadata = json.RawMessage(meta.String)
			}
			rep.Links++
			if to.Link != nil {
				if err := to.Link(src, l); err != nil {
					return rep, err
				}
			}
		}
		if err := rows.Err(); err != nil {
			skip("links after %d: %v", rep.Links, err)
		}
	}
	return rep, nil
}

// salvageEvents reads the events in position order, a page at a time
// while the database answers, one position at a time past a damaged page.
func salvageEvents(ctx context.Context, db *sql.DB, docs map[int64]trove.Schema, to backup.Sink, rep *SalvageReport, skip func(string, ...any)) error {
	var last int64
	if err := db.QueryRowContext(ctx, `SELECT coalesce(max(position), 0) FROM events`).Scan(&last); err != nil {
		skip("events: the last position cannot be read (%v); reading on until nothing answers", err)
		last = -1
	}
	emit := func(r scanned) error {
		sc, ok := docs[r.SchemaPK]
		if !ok {
			skip("event %s at position %d: its schema document was lost", r.Event.ID, r.Event.Position)
			return nil
		}
		r.Event.Schema = sc
		rep.Events++
		if to.Event != nil {
			return to.Event(r.Event)
		}
		return nil
	}
	var pos int64 // the last position read or skipped
	for last < 0 || pos < last {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := readEventPage(ctx, db, pos, emit, &pos)
		if err == nil && n == 0 {
			return nil // no event after pos
		}
		if err == nil {
			continue
		}
		if _, stop := err.(stopError); stop {
			return err.(stopError).err
		}
		// Damage: step past it one position at a time.
		from := pos + 1
		misses := 0
		for i := 0; i < salvagePage && (last < 0 || pos < last); i++ {
			pos++
			row := db.QueryRowContext(ctx, `SELECT `+eventCols+` FROM events e WHERE e.position = ?`, pos)
			r, err := scanEvent(row)
			if err == sql.ErrNoRows {
				misses++
				continue
			}
			if err != nil {
				skip("the event at position %d: %v", pos, err)
				continue
			}
			if err := emit(r); err != nil {
				return err
			}
		}
		if misses > 0 {
			skip("positions %d to %d: %d not found (damaged index pages or rows)", from, pos, misses)
		}
		if last < 0 && misses == salvagePage {
			return nil
		}
	}
	return nil
}

// stopError carries an error of the caller's functions out of
// readEventPage, as opposed to the database's own.
type stopError struct{ err error }

func (e stopError) Error() string { return e.err.Error() }

// readEventPage reads up to salvagePage events after from, moving *pos to
// each one read.
func readEventPage(ctx context.Context, db *sql.DB, from int64, emit func(scanned) error, pos *int64) (int, error) {
	rows, err := db.QueryContext(ctx, `SELECT `+eventCols+` FROM events e WHERE e.position > ? ORDER BY e.position LIMIT ?`, from, salvagePage)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		r, err := scanEvent(rows)
		if err != nil {
			return n, err
		}
		if err := emit(r); err != nil {
			return n, stopError{err}
		}
		*pos = int64(r.Event.Position)
		n++
	}
	return n, rows.Err()
}

// salvageFiles hands every file whose bytes read back whole, with the
// recorded size and hash, to to.File.
func salvageFiles(ctx context.Context, db *sql.DB, to backup.Sink, rep *SalvageReport, skip func(string, ...any)) error {
	rows, err := db.QueryContext(ctx, `SELECT id, content_type, filename, size, hash, blob_pk FROM files ORDER BY id`)
	if err != nil {
		skip("files: %v", err)
		return nil
	}
	type fileRow struct {
		f    trove.EventFile
		blob int64
	}
	var files []fileRow
	for rows.Next() {
		var r fileRow
		if err := rows.Scan(&r.f.ID, &r.f.ContentType, &r.f.Filename, &r.f.Size, &r.f.Hash, &r.blob); err != nil {
			skip("a file: %v", err)
			continue
		}
		files = append(files, r)
	}
	if err := rows.Err(); err != nil {
		skip("files after %d: %v", len(files), err)
	}
	rows.Close()
	for _, r := range files {
		if err := salvageFile(ctx, db, r.f, r.blob, to, rep, skip); err != nil {
			return err
		}
	}
	return nil
}

// salvageFile copies one file's chunks aside, checking their size and
// hash, and hands the copy to to.File.
func salvageFile(ctx context.Context, db *sql.DB, f trove.EventFile, blob int64, to backup.Sink, rep *SalvageReport, skip func(string, ...any)) error {
	tmp, err := os.CreateTemp("", "trove-salvage-*")
	if err != nil {
		return fmt.Errorf("sqlite: salvage: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	h := sha256.New()
	if err := copyBlob(ctx, db, blob, f.Size, io.MultiWriter(tmp, h)); err != nil {
		skip("file %s: %v", f.ID, err)
		return nil
	}
	if "sha256:"+hex.EncodeToString(h.Sum(nil)) != f.Hash {
		skip("file %s: its bytes do not match its hash", f.ID)
		return nil
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("sqlite: salvage: %w", err)
	}
	rep.Files++
	if to.File != nil {
		return to.File(f, tmp)
	}
	return nil
}

// copyBlob writes a file's chunks to w in order; they must add up to size.
func copyBlob(ctx context.Context, db *sql.DB, blob, size int64, w io.Writer) error {
	rows, err := db.QueryContext(ctx, `SELECT data FROM file_chunks WHERE blob_pk = ? ORDER BY n`, blob)
	if err != nil {
		return err
	}
	defer rows.Close()
	var n int64
	for rows.Next() && n <= size {
		var chunk []byte
		if err := rows.Scan(&chunk); err != nil {
			return err
		}
		if _, err := w.Write(chunk); err != nil {
			return err
		}
		n += int64(len(chunk))
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("%d bytes read, %d recorded", n, size)
	}
	return nil
}
