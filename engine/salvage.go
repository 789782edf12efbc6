package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/backup"
	"github.com/trovedb/trove/blob"
	"github.com/trovedb/trove/blob/local"
	"github.com/trovedb/trove/index"
	"github.com/trovedb/trove/segment"
)

// SalvageReport says what Salvage read and what it had to skip.
type SalvageReport struct {
	Segments   int // sealed segment files read (in whole or in part)
	Blocks     int // intact blocks read
	WALEntries int // intact WAL entries read
	Events     int
	Files      int
	Links      int
	Schemas    int
	// Skipped has one line for each part that could not be read: a
	// segment file, a block (with its positions), the WAL's damaged part,
	// an event whose schema was lost, a link whose source was lost.
	Skipped []string
}

// Salvage reads every intact record of the store in dir without opening
// it and without changing anything on disk, for a store that no longer
// opens: the records of every sealed segment block whose checksum holds,
// in order, then those of every WAL entry after the sealed ones that reads
// back intact (the WAL is read in a private copy, its torn tail cut there;
// a WAL damaged before its tail, which does not open, is read entry by
// entry around each damaged stretch, segment.ScanWAL).
// Events, links added with SaveLink, registered schemas and the files
// events name (read whole from the store's file directory, before the
// first event that names them) go to the functions of to in log order; what could not be read is listed in the
// report. Of the index snapshot only the schema dictionary and the
// registered schemas are read (when it reads back intact), for events whose
// schema record was in a damaged part.
func Salvage(ctx context.Context, dir string, to backup.Sink) (SalvageReport, error) {
	sv := &salvager{to: to, ids: map[uint64]trove.EventID{}, registered: map[string]bool{}}
	if _, err := os.Stat(dir); err != nil {
		return sv.rep, fmt.Errorf("engine: salvage: %w", err)
	}
	if err := sv.snapshotSchemas(filepath.Join(dir, "index.snap")); err != nil {
		return sv.rep, err
	}
	if sv.to.File != nil {
		// File bytes live in the store's file directory, read without
		// changing it: every file whose record reads back intact, around
		// any damaged part of a pack.
		blobs, err := local.OpenReadOnly(ctx, filepath.Join(dir, "files"))
		if err != nil {
			sv.skip("the file directory: %v", err)
		} else {
			defer blobs.Close()
			sv.fs = blob.NewFileStorage(blobs)
			sv.written = map[string]bool{}
		}
	}
	names, err := filepath.Glob(filepath.Join(dir, "segments", "*.seg"))
	if err != nil {
		return sv.rep, fmt.Errorf("engine: salvage: %w", err)
	}
	slices.Sort(names)
	var lastSealed uint64
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return sv.rep, err
		}
		seg, err := segment.OpenSegment(name)
		if err != nil {
			sv.skip("segment %s: %v", name, err)
			// Its WAL entries were truncated when it was sealed: they are
			// gone with it; the name says where they started.
			if first, perr := strconv.ParseUint(strings.TrimSuffix(filepath.Base(name), ".seg"), 10, 64); perr == nil {
				lastSealed = max(lastSealed, first)
			}
			continue
		}
		sv.rep.Segments++
		m := seg.Meta()
		lastSealed = max(lastSealed, m.LastWALIndex)
		for i := range seg.NumBlocks() {
			recs, err := seg.ReadBlock(i)
			if err != nil {
				sv.skip("segment %s block %d (from position %d): %v", name, i, seg.BlockFirst(i), err)
				continue
			}
			sv.rep.Blocks++
			if err := sv.records(name, recs); err != nil {
				seg.Close()
				return sv.rep, err
			}
		}
		seg.Close()
	}
	if err := sv.wal(ctx, filepath.Join(dir, "wal"), lastSealed); err != nil {
		return sv.rep, err
	}
	return sv.rep, nil
}

type salvager struct {
	to         backup.Sink
	fs         trove.FileStorage // the store's files; nil when not read
	written    map[string]bool   // files handed to to.File
	rep        SalvageReport
	schemas    []trove.Schema // by dictionary number; zero where lost
	ids        map[uint64]trove.EventID
	registered map[string]bool
	last       uint64 // last event position read
}

func (sv *salvager) skip(format string, args ...any) {
	sv.rep.Skipped = append(sv.rep.Skipped, fmt.Sprintf(format, args...))
}

// snapshotSchemas takes the schema dictionary and the registered schemas
// from the index snapshot when it reads back intact, so that events whose
// schema record went with a damaged part are still read. A damaged or
// missing snapshot is noted and the log alone is read.
func (sv *salvager) snapshotSchemas(path string) error {
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	var sm snapMeta
	if err == nil {
		var ix *index.Index
		var meta []byte
		if ix, meta, err = index.Decode(path, data); err == nil {
			ix.Close()
			err = json.Unmarshal(meta, &sm)
		}
	}
	if err != nil {
		sv.skip("the index snapshot %s (only the log's own schema records are used): %v", path, err)
		return nil
	}
	for i, raw := range sm.Schemas {
		sc, err := trove.NewSchema(raw)
		if err != nil {
			sv.skip("the index snapshot's schema %d: %v", i, err)
			continue
		}
		if i >= len(sv.schemas) {
			sv.schemas = append(sv.schemas, make([]trove.Schema, i+1-len(sv.schemas))...)
		}
		sv.schemas[i] = sc
	}
	for _, rs := range sm.Registered {
		if err := sv.registeredSchema(rs); err != nil {
			return err
		}
	}
	return nil
}

func (sv *salvager) registeredSchema(rs trove.RegisteredSchema) error {
	key := rs.ID + "\x00" + rs.Version
	if sv.registered[key] {
		return nil
	}
	sv.registered[key] = true
	sv.rep.Schemas++
	if sv.to.Schema != nil {
		return sv.to.Schema(rs)
	}
	return nil
}

// files hands the files e names that were not handed yet to to.File,
// each read whole into a temporary file first, so that a damaged file is
// skipped (and reported) rather than cut short in the stream.
func (sv *salvager) files(e trove.Event) error {
	if sv.fs == nil {
		return nil
	}
	for _, f := range e.Files {
		if f.IsReference || f.ID == "" || sv.written[f.ID] {
			continue
		}
		sv.written[f.ID] = true
		if err := sv.file(f.ID); err != nil {
			return err
		}
	}
	return nil
}

func (sv *salvager) file(id string) error {
	ctx := context.Background()
	meta, err := sv.fs.GetFile(ctx, id)
	if err != nil {
		sv.skip("file %s: %v", id, err)
		return nil
	}
	rc, err := sv.fs.GetFileData(ctx, id)
	if err != nil {
		sv.skip("file %s: %v", id, err)
		return nil
	}
	defer rc.Close()
	tmp, err := os.CreateTemp("", "trove-salvage-*")
	if err != nil {
		return fmt.Errorf("engine: salvage: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if n, err := io.Copy(tmp, io.LimitReader(rc, meta.Size+1)); err != nil || n != meta.Size {
		sv.skip("file %s: its bytes are missing or damaged (%d of %d read: %v)", id, n, meta.Size, err)
		return nil
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("engine: salvage: %w", err)
	}
	sv.rep.Files++
	return sv.to.File(meta, tmp)
}

// wal reads the WAL entries after lastSealed from a private copy.
func (sv *salvager) wal(ctx context.Context, walDir string, lastSealed uint64) error {
	if _, err := os.Stat(walDir); os.IsNotExist(err) {
		return nil
	}
	cp, err := copyWAL(walDir, lastSealed+1)
	if err != nil {
		return fmt.Errorf("engine: salvage: %w", err)
	}
	defer os.RemoveAll(cp.dir)
	w, tail, err := cp.open(walDir, segment.WALOptions{})
	if err != nil {
		// Damage before the tail: read the store's own files entry by
		// entry (read only), around every damaged stretch.
		sv.skip("WAL %s does not open (%v): read entry by entry", walDir, err)
		return segment.ScanWAL(walDir, lastSealed+1, func(index uint64, recs []segment.Record) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			sv.rep.WALEntries++
			return sv.records(fmt.Sprintf("WAL entry %d", index), recs)
		}, func(c *trove.CorruptionError) error {
			sv.skip("WAL: %v", c)
			return nil
		})
	}
	defer w.Close()
	if tail != nil {
		sv.skip("WAL %s: a torn tail from entry %d (never acknowledged): %s", tail.file, tail.first, tail.reason)
	}
	first, last := w.FirstIndex(), w.LastIndex()
	for i := max(first, lastSealed+1); first != 0 && i <= last; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		recs, err := w.Read(i)
		if err != nil {
			sv.skip("WAL entry %d: %v", i, err)
			continue
		}
		sv.rep.WALEntries++
		if err := sv.records(fmt.Sprintf("WAL entry %d", i), recs); err != nil {
			return err
		}
	}
	return nil
}

func (sv *salvager) records(where string, recs []segment.Record) error {
	for i := range recs {
		rec := &recs[i]
		switch rec.Type {
		case recSchemaDoc:
			num, sc, err := decodeSchemaDoc(rec.Body)
			if err != nil {
				sv.skip("%s: a schema document: %v", where, err)
				continue
			}
			if int(num) >= len(sv.schemas) {
				sv.schemas = append(sv.schemas, make([]trove.Schema, int(num)+1-len(sv.schemas))...)
			}
			sv.schemas[num] = sc
		case recRegistered:
			var rs trove.RegisteredSchema
			if err := json.Unmarshal(rec.Body, &rs); err != nil {
				sv.skip("%s: a registered schema: %v", where, err)
				continue
			}
			if err := sv.registeredSchema(rs); err != nil {
				return err
			}
		case recEvent:
			if rec.Position <= sv.last {
				continue // read already
			}
			e, err := decodeEvent(rec, sv.schemas)
			if err == nil && e.Schema.IsZero() {
				err = fmt.Errorf("its schema document was lost")
			}
			if err != nil {
				sv.skip("%s: the event at position %d: %v", where, rec.Position, err)
				continue
			}
			if rec.Position != sv.last+1 {
				sv.skip("positions %d to %d: not found", sv.last+1, rec.Position-1)
			}
			sv.last = rec.Position
			sv.ids[rec.Position] = e.ID
			if err := sv.files(e); err != nil {
				return err
			}
			sv.rep.Events++
			if sv.to.Event != nil {
				if err := sv.to.Event(e); err != nil {
					return err
				}
			}
		case recLink:
			src, l, err := decodeLinkRecord(rec.Body)
			if err != nil {
				sv.skip("%s: a link: %v", where, err)
				continue
			}
			id, ok := sv.ids[src]
			if !ok {
				sv.skip("%s: a link from position %d, whose event was lost", where, src)
				continue
			}
			sv.rep.Links++
			if sv.to.Link != nil {
				if err := sv.to.Link(id, l); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
