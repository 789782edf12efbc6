package jsonfile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/trovedb/trove"
)

// Report is what Check found.
type Report struct {
	Events   int // distinct event ids
	Versions int // event versions (event files)
	Links    int // links, saved with events and added later
	Files    int // files, each read back and hashed
	Schemas  int // registered schemas
	// Problems lists every damaged file found, one line each.
	Problems []string
}

// Check opens the store in dir as Initialize does — taking its lock,
// finishing an interrupted batch, cutting a torn link tail, and checking
// every event file, the links log, file metadata and the schema registry —
// then reads every file's bytes back and compares size and sha256 with its
// metadata. A store that does not open is reported with the
// *trove.CorruptionError that stopped it; damaged file bytes are listed in
// Report.Problems and the returned error wraps trove.ErrCorrupt.
func Check(ctx context.Context, dir string) (Report, error) {
	var rep Report
	s, err := New(Options{Directory: dir})
	if err != nil {
		return rep, err
	}
	if err := s.Initialize(ctx, nil); err != nil {
		var ce *trove.CorruptionError
		if errors.As(err, &ce) {
			rep.Problems = append(rep.Problems, ce.Error())
		}
		return rep, err
	}
	defer s.Shutdown(ctx)
	s.mu.RLock()
	rep.Events = len(s.mu.byID)
	rep.Versions = len(s.mu.log)
	rep.Links = len(s.mu.links)
	rep.Schemas = len(s.mu.regs)
	files := make([]trove.EventFile, 0, len(s.mu.files))
	for _, f := range s.mu.files {
		files = append(files, f)
	}
	s.mu.RUnlock()
	slices.SortFunc(files, func(a, b trove.EventFile) int { return strings.Compare(a.ID, b.ID) })
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		rep.Files++
		if p := s.checkFileData(f); p != "" {
			rep.Problems = append(rep.Problems, p)
		}
	}
	if len(rep.Problems) > 0 {
		return rep, fmt.Errorf("%w: jsonfile: %d damaged files in %s", trove.ErrCorrupt, len(rep.Problems), dir)
	}
	return rep, nil
}

// checkFileData hashes a file's bytes and describes any mismatch.
func (s *Store) checkFileData(f trove.EventFile) string {
	path := s.fileDataPath(f.ID)
	r, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("%s: %v", path, err)
	}
	defer r.Close()
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return fmt.Sprintf("%s: %v", path, err)
	}
	if sum := "sha256:" + hex.EncodeToString(h.Sum(nil)); n != f.Size || sum != f.Hash {
		return fmt.Sprintf("%s: %d bytes hashing to %s, metadata says %d bytes, %s", path, n, sum, f.Size, f.Hash)
	}
	return ""
}
