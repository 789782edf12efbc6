package jsonfile

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/internal/fsutil"
	"github.com/trovedb/trove/plugins/internal/linkbook"
	"golang.org/x/sys/unix"
)

// Names in the store's directory; see the package documentation.
const (
	eventsDir   = "events"
	filesDir    = "files"
	linksFile   = "links.ndjson"
	schemasFile = "schemas.json"
	journalFile = "batch.journal"
)

// maxPlainName is the longest escaped id used as a directory name as is;
// longer ones are named by their hash.
const maxPlainName = 200

// idDirName turns an event id into a directory name: letters, digits, '-',
// '_' and '.' stay (a leading '.' is escaped), every other byte becomes
// %XX; a name longer than maxPlainName becomes "~" + sha256 hex of the id.
// The id itself is always inside the event files.
func idDirName(id string) string {
	var b strings.Builder
	for i := 0; i < len(id); i++ {
		c := id[i]
		plain := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' && i > 0
		if plain {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	if b.Len() > maxPlainName {
		sum := sha256.Sum256([]byte(id))
		return "~" + hex.EncodeToString(sum[:])
	}
	return b.String()
}

// eventPath is where version v of id lives.
func (s *Store) eventPath(id string, v int) string {
	return filepath.Join(s.opts.Directory, eventsDir, idDirName(id), strconv.Itoa(v)+".json")
}

// encodeEvent renders a stored event as the pretty-printed JSON of its
// file.
func encodeEvent(e trove.Event) ([]byte, error) {
	raw, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return nil, err
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

// writeEvents publishes the files of new event versions, each with an
// atomic publish (temporary file, fsync, rename, fsync of the directory);
// new id directories are made durable too. It is the path of a single save.
func (s *Store) writeEvents(events []trove.Event) error {
	newDirs, err := s.makeIDDirs(events)
	if err != nil {
		return err
	}
	for _, e := range events {
		b, err := encodeEvent(e)
		if err != nil {
			return fmt.Errorf("jsonfile: event %s: %w", e.ID, err)
		}
		if err := fsutil.WriteFileBytes(s.eventPath(e.ID.ID, e.ID.Version), b, 0o644); err != nil {
			return fmt.Errorf("jsonfile: event %s: %w", e.ID, err)
		}
	}
	if newDirs {
		dir := filepath.Join(s.opts.Directory, eventsDir)
		err := s.faultAt("sync dir", dir)
		if err == nil {
			err = fsutil.SyncDir(dir)
		}
		if err != nil {
			return fmt.Errorf("jsonfile: %w", err)
		}
	}
	return nil
}

// writeJournaledEvents writes the files of a batch whose journal is
// already durable. A torn file is harmless here — the journal rewrites it
// on open — so each file is written in place without its own fsync, and one
// syncfs(2) then makes them all durable before the journal may go.
func (s *Store) writeJournaledEvents(events []trove.Event) error {
	if _, err := s.makeIDDirs(events); err != nil {
		return err
	}
	for _, e := range events {
		b, err := encodeEvent(e)
		if err != nil {
			return fmt.Errorf("jsonfile: event %s: %w", e.ID, err)
		}
		path := s.eventPath(e.ID.ID, e.ID.Version)
		err = s.faultAt("write event", path)
		if err == nil {
			err = os.WriteFile(path, b, 0o644)
		}
		if err != nil {
			return fmt.Errorf("jsonfile: event %s: %w", e.ID, err)
		}
	}
	if err := s.faultAt("syncfs", s.opts.Directory); err != nil {
		return fmt.Errorf("jsonfile: syncfs: %w", err)
	}
	return syncFS(s.opts.Directory)
}

// syncFS flushes the whole file system holding dir (syncfs(2)).
func syncFS(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("jsonfile: sync: %w", err)
	}
	defer d.Close()
	if err := unix.Syncfs(int(d.Fd())); err != nil {
		return fmt.Errorf("jsonfile: syncfs %s: %w", dir, err)
	}
	return nil
}

// makeIDDirs creates the missing id directories of events and reports
// whether it created any.
func (s *Store) makeIDDirs(events []trove.Event) (bool, error) {
	created := false
	for _, e := range events {
		if e.ID.Version > 1 {
			continue // version 1 made the directory
		}
		dir := filepath.Dir(s.eventPath(e.ID.ID, e.ID.Version))
		if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return created, fmt.Errorf("jsonfile: event %s: %w", e.ID, err)
		}
		created = true
	}
	return created, nil
}

// writeJournal publishes the batch journal: one event per line, in
// position order. Once it is on disk the batch is committed: an open after
// a crash rewrites its event files from it.
func (s *Store) writeJournal(events []trove.Event) error {
	var b bytes.Buffer
	for _, e := range events {
		raw, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("jsonfile: journal: event %s: %w", e.ID, err)
		}
		b.Write(raw)
		b.WriteByte('\n')
	}
	path := filepath.Join(s.opts.Directory, journalFile)
	err := fsutil.WriteFileBytes(path, b.Bytes(), 0o644)
	if err == nil {
		// A fault here is a journal published but reported as failed.
		err = s.faultAt("write journal", path)
	}
	if err != nil {
		return fmt.Errorf("jsonfile: journal: %w", err)
	}
	return nil
}

// removeJournal deletes the journal once every event file of its batch is
// durable.
func (s *Store) removeJournal() error {
	path := filepath.Join(s.opts.Directory, journalFile)
	err := s.faultAt("remove journal", path)
	if err == nil {
		err = os.Remove(path)
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("jsonfile: journal: %w", err)
	}
	if err := fsutil.SyncDir(s.opts.Directory); err != nil {
		return fmt.Errorf("jsonfile: journal: %w", err)
	}
	return nil
}

// recoverJournal finishes a batch interrupted by a crash: its journal is
// complete (it was published atomically), so every event in it is written
// again, then the journal is removed.
func (s *Store) recoverJournal() error {
	path := filepath.Join(s.opts.Directory, journalFile)
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("jsonfile: journal: %w", err)
	}
	var events []trove.Event
	off := int64(0)
	for line := range bytes.Lines(raw) {
		var e trove.Event
		if err := json.Unmarshal(line, &e); err != nil || e.Position == 0 {
			return &trove.CorruptionError{File: path, Offset: off, Reason: fmt.Sprintf("bad journal entry: %v", err)}
		}
		events = append(events, e)
		off += int64(len(line))
	}
	if err := s.writeJournaledEvents(events); err != nil {
		return err
	}
	return s.removeJournal()
}

// loadLocked reads the whole directory into memory: the interrupted batch
// first, then every event file, the links log, file metadata and schemas.
func (s *Store) loadLocked(ctx context.Context) error {
	if err := s.recoverJournal(); err != nil {
		return err
	}
	events, err := s.readEvents(ctx)
	if err != nil {
		return err
	}
	for _, e := range events {
		s.addLocked(e, true)
	}
	slices.SortFunc(s.mu.byTime, byTimeOrder)
	if err := s.loadLinksLocked(); err != nil {
		return err
	}
	if err := s.loadFilesLocked(); err != nil {
		return err
	}
	return s.loadSchemasLocked()
}

// readEvents reads every event file and checks the whole: each file's id
// and version match its path, positions are distinct, versions of an id
// run 1..n. Leftover temporary files of an interrupted write are removed.
// Directories are read by a few goroutines: parsing is most of the cost.
func (s *Store) readEvents(ctx context.Context) ([]trove.Event, error) {
	root := filepath.Join(s.opts.Directory, eventsDir)
	dirs, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("jsonfile: load: %w", err)
	}
	workers := min(max(runtime.GOMAXPROCS(0), 2), 8)
	results := make([][]trove.Event, len(dirs))
	errs := make([]error, workers)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(dirs) || ctx.Err() != nil {
					return
				}
				if results[i], errs[w] = s.readIDDir(root, dirs[i]); errs[w] != nil {
					next.Store(int64(len(dirs))) // stop the others
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var events []trove.Event
	for _, r := range results {
		events = append(events, r...)
	}
	slices.SortFunc(events, func(a, b trove.Event) int { return cmp.Compare(a.Position, b.Position) })
	for i := 1; i < len(events); i++ {
		if events[i].Position == events[i-1].Position {
			return nil, &trove.CorruptionError{File: s.eventPath(events[i].ID.ID, events[i].ID.Version), Offset: -1,
				Reason: fmt.Sprintf("position %d is also held by event %s", events[i].Position, events[i-1].ID)}
		}
	}
	return events, nil
}

// readIDDir reads the versions of one id from events/<d>, in version order.
func (s *Store) readIDDir(root string, d os.DirEntry) ([]trove.Event, error) {
	dpath := filepath.Join(root, d.Name())
	if strings.HasPrefix(d.Name(), ".") {
		_ = os.RemoveAll(dpath)
		return nil, nil
	}
	if !d.IsDir() {
		return nil, &trove.CorruptionError{File: dpath, Offset: -1, Reason: "not a directory"}
	}
	files, err := os.ReadDir(dpath)
	if err != nil {
		return nil, fmt.Errorf("jsonfile: load: %w", err)
	}
	var versions []trove.Event
	for _, f := range files {
		fpath := filepath.Join(dpath, f.Name())
		if strings.HasPrefix(f.Name(), ".") {
			_ = os.Remove(fpath) // a temporary file never published
			continue
		}
		e, err := readEventFile(fpath)
		if err != nil {
			return nil, err
		}
		if idDirName(e.ID.ID) != d.Name() || f.Name() != strconv.Itoa(e.ID.Version)+".json" {
			return nil, &trove.CorruptionError{File: fpath, Offset: -1, Reason: fmt.Sprintf("holds event %s, which belongs elsewhere", e.ID)}
		}
		versions = append(versions, e)
	}
	slices.SortFunc(versions, func(a, b trove.Event) int { return a.ID.Version - b.ID.Version })
	for i, e := range versions {
		if e.ID.Version != i+1 {
			return nil, &trove.CorruptionError{File: dpath, Offset: -1, Reason: fmt.Sprintf("event %s: version %d is missing", e.ID.ID, i+1)}
		}
	}
	return versions, nil
}

// readEventFile reads and checks one event file.
func readEventFile(path string) (trove.Event, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return trove.Event{}, fmt.Errorf("jsonfile: load: %w", err)
	}
	var e trove.Event
	if err := json.Unmarshal(raw, &e); err != nil {
		return e, &trove.CorruptionError{File: path, Offset: -1, Reason: err.Error()}
	}
	p, err := trove.Prepare(e, e.CreatedAt)
	switch {
	case err != nil:
		return e, &trove.CorruptionError{File: path, Offset: -1, Reason: err.Error()}
	case e.Position == 0:
		return e, &trove.CorruptionError{File: path, Offset: -1, Reason: "no position"}
	case e.ID.ID == "" || e.ID.Version < 1 || e.CreatedAt.IsZero():
		return e, &trove.CorruptionError{File: path, Offset: -1, Reason: "id, version and createdAt are required"}
	}
	p.Position = e.Position
	return p, nil
}

// linkLine is one line of links.ndjson: a link added with SaveLink, the
// exact event version it goes out from, and the last position committed
// when it was saved (which orders it among the links saved with events).
type linkLine struct {
	Source        trove.EventID   `json:"source"`
	Type          string          `json:"type"`
	TargetEvent   trove.EventID   `json:"targetEvent"`
	Metadata      json.RawMessage `json:"metadata,omitempty"`
	AfterPosition uint64          `json:"afterPosition"`
}

// appendLinkLocked appends one line to links.ndjson and fsyncs it.
func (s *Store) appendLinkLocked(l linkLine) error {
	raw, err := json.Marshal(l)
	if err != nil {
		return fmt.Errorf("jsonfile: link: %w", err)
	}
	raw = append(raw, '\n')
	if _, err := s.mu.linkLog.Write(raw); err != nil {
		return fmt.Errorf("jsonfile: link: %w", err)
	}
	if err := s.mu.linkLog.Sync(); err != nil {
		return fmt.Errorf("jsonfile: link: %w", err)
	}
	return nil
}

// loadLinksLocked reads links.ndjson. A last line without its newline is
// the torn tail of an append that never returned: it is cut off. Any other
// bad line is corruption.
func (s *Store) loadLinksLocked() error {
	path := filepath.Join(s.opts.Directory, linksFile)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("jsonfile: load links: %w", err)
	}
	defer f.Close()
	r := bufio.NewReader(f)
	var off int64
	var lines []linkLine
	for {
		line, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			if len(line) > 0 {
				if err := os.Truncate(path, off); err != nil {
					return fmt.Errorf("jsonfile: load links: cut torn tail: %w", err)
				}
			}
			break
		}
		if err != nil {
			return fmt.Errorf("jsonfile: load links: %w", err)
		}
		var l linkLine
		if err := json.Unmarshal(line, &l); err != nil || l.Type == "" || l.TargetEvent.ID == "" || l.Source.Version < 1 {
			return &trove.CorruptionError{File: path, Offset: off, Reason: fmt.Sprintf("bad link line: %v", err)}
		}
		if s.lookupLocked(l.Source) == nil {
			return &trove.CorruptionError{File: path, Offset: off, Reason: fmt.Sprintf("link from unknown event %s", l.Source)}
		}
		lines = append(lines, l)
		off += int64(len(line))
	}
	if len(lines) == 0 {
		return nil
	}
	// Rebuild the save order: the links saved with the event at position p
	// come before the links added after p was the last position.
	own := s.mu.links
	merged := make([]linkbook.Entry, 0, len(own)+len(lines))
	i := 0
	for _, l := range lines {
		for i < len(own) && s.lookupLocked(own[i].Source).ev.Position <= l.AfterPosition {
			merged = append(merged, own[i])
			i++
		}
		link := trove.EventLink{Type: l.Type, TargetEvent: l.TargetEvent, Metadata: l.Metadata}
		r := s.lookupLocked(l.Source)
		r.added = append(r.added, link)
		s.mu.target[l.TargetEvent.ID] = append(s.mu.target[l.TargetEvent.ID], r)
		merged = append(merged, linkbook.Entry{Source: l.Source, Link: link})
	}
	s.mu.links = append(merged, own[i:]...)
	return nil
}

// fileMetaPath and fileDataPath name a file's two halves.
func (s *Store) fileMetaPath(id string) string {
	return filepath.Join(s.opts.Directory, filesDir, id+".json")
}

func (s *Store) fileDataPath(id string) string {
	return filepath.Join(s.opts.Directory, filesDir, id+".data")
}

// loadFilesLocked reads every files/<id>.json. Data without metadata is a
// save that never returned and is ignored (the next save of that id
// replaces it).
func (s *Store) loadFilesLocked() error {
	dir := filepath.Join(s.opts.Directory, filesDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("jsonfile: load files: %w", err)
	}
	for _, d := range entries {
		name := d.Name()
		path := filepath.Join(dir, name)
		if strings.HasPrefix(name, ".") {
			_ = os.Remove(path)
			continue
		}
		id, ok := strings.CutSuffix(name, ".json")
		if !ok {
			continue
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("jsonfile: load files: %w", err)
		}
		var f trove.EventFile
		if err := json.Unmarshal(raw, &f); err != nil || f.ID != id {
			return &trove.CorruptionError{File: path, Offset: -1, Reason: fmt.Sprintf("bad file metadata (id %q): %v", f.ID, err)}
		}
		s.mu.files[id] = f
	}
	return nil
}

// loadSchemasLocked reads schemas.json.
func (s *Store) loadSchemasLocked() error {
	path := filepath.Join(s.opts.Directory, schemasFile)
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("jsonfile: load schemas: %w", err)
	}
	if err := json.Unmarshal(raw, &s.mu.regs); err != nil {
		return &trove.CorruptionError{File: path, Offset: -1, Reason: err.Error()}
	}
	return nil
}
