package jsonfile

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/backup"
)

// SalvageReport says what Salvage read and what it had to skip.
type SalvageReport struct {
	Events, Links, Files, Schemas int
	// Skipped has one line for each file or line that could not be read.
	Skipped []string
}

// Salvage reads every intact part of the store in dir without opening it
// and without changing anything on disk, for a store that no longer opens:
// the registered schemas, every file whose metadata and bytes agree, every
// event file that parses (in position order; of two files claiming one
// position, the first read wins), and every line of links.ndjson that
// parses and names a salvaged event, after the event that was last when it
// was saved. What could not be read is listed in the report.
func Salvage(ctx context.Context, dir string, to backup.Sink) (SalvageReport, error) {
	var rep SalvageReport
	skip := func(format string, args ...any) { rep.Skipped = append(rep.Skipped, fmt.Sprintf(format, args...)) }
	if _, err := os.Stat(dir); err != nil {
		return rep, fmt.Errorf("jsonfile: salvage: %w", err)
	}

	if raw, err := os.ReadFile(filepath.Join(dir, schemasFile)); err == nil {
		var regs []trove.RegisteredSchema
		if err := json.Unmarshal(raw, &regs); err != nil {
			skip("%s: %v", schemasFile, err)
		}
		for _, rs := range regs {
			rep.Schemas++
			if to.Schema != nil {
				if err := to.Schema(rs); err != nil {
					return rep, err
				}
			}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		skip("%s: %v", schemasFile, err)
	}

	if err := salvageFiles(filepath.Join(dir, filesDir), to, &rep, skip); err != nil {
		return rep, err
	}

	// Events, in position order.
	root := filepath.Join(dir, eventsDir)
	dirs, err := os.ReadDir(root)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		skip("%s: %v", eventsDir, err)
	}
	var events []trove.Event
	for _, d := range dirs {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		dpath := filepath.Join(root, d.Name())
		if strings.HasPrefix(d.Name(), ".") || !d.IsDir() {
			continue
		}
		files, err := os.ReadDir(dpath)
		if err != nil {
			skip("%s: %v", dpath, err)
			continue
		}
		for _, f := range files {
			if strings.HasPrefix(f.Name(), ".") {
				continue
			}
			e, err := readEventFile(filepath.Join(dpath, f.Name()))
			if err != nil {
				skip("%v", err)
				continue
			}
			events = append(events, e)
		}
	}
	slices.SortStableFunc(events, func(a, b trove.Event) int { return cmp.Compare(a.Position, b.Position) })
	events = slices.CompactFunc(events, func(a, b trove.Event) bool {
		if a.Position == b.Position {
			skip("event %s: position %d is also held by event %s", b.ID, b.Position, a.ID)
			return true
		}
		return false
	})
	have := map[trove.EventID]bool{}
	for _, e := range events {
		have[e.ID] = true
	}
	links := salvageLinks(filepath.Join(dir, linksFile), have, skip)

	for _, e := range events {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		// Links saved while an earlier event was the last come before it.
		for len(links) > 0 && links[0].AfterPosition < e.Position {
			if err := emitLink(links[0], to, &rep); err != nil {
				return rep, err
			}
			links = links[1:]
		}
		rep.Events++
		if to.Event != nil {
			if err := to.Event(e); err != nil {
				return rep, err
			}
		}
	}
	for _, l := range links {
		if err := emitLink(l, to, &rep); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

func emitLink(l linkLine, to backup.Sink, rep *SalvageReport) error {
	rep.Links++
	if to.Link == nil {
		return nil
	}
	return to.Link(l.Source, trove.EventLink{Type: l.Type, TargetEvent: l.TargetEvent, Metadata: l.Metadata})
}

// salvageLinks reads the lines of links.ndjson that parse and name an
// event in have.
func salvageLinks(path string, have map[trove.EventID]bool, skip func(string, ...any)) []linkLine {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		skip("%s: %v", path, err)
		return nil
	}
	defer f.Close()
	var out []linkLine
	r := bufio.NewReader(f)
	var off int64
	for {
		line, err := r.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			var l linkLine
			switch uerr := json.Unmarshal(line, &l); {
			case err != nil:
				// A last line without its newline: never acknowledged.
			case uerr != nil || l.Type == "" || l.TargetEvent.ID == "" || l.Source.Version < 1:
				skip("%s at offset %d: a bad link line", path, off)
			case !have[l.Source]:
				skip("%s at offset %d: a link from %s, which was not salvaged", path, off, l.Source)
			default:
				out = append(out, l)
			}
		}
		off += int64(len(line))
		if err != nil {
			if !errors.Is(err, io.EOF) {
				skip("%s: %v", path, err)
			}
			return out
		}
	}
}

// salvageFiles hands every file whose metadata parses and whose bytes have
// the recorded size to to.File.
func salvageFiles(dir string, to backup.Sink, rep *SalvageReport, skip func(string, ...any)) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		skip("%s: %v", dir, err)
		return nil
	}
	for _, d := range entries {
		id, ok := strings.CutSuffix(d.Name(), ".json")
		if !ok || strings.HasPrefix(d.Name(), ".") {
			continue
		}
		path := filepath.Join(dir, d.Name())
		raw, err := os.ReadFile(path)
		var f trove.EventFile
		if err == nil {
			err = json.Unmarshal(raw, &f)
		}
		if err == nil && f.ID != id {
			err = fmt.Errorf("it names file %q", f.ID)
		}
		if err != nil {
			skip("%s: %v", path, err)
			continue
		}
		data, err := os.Open(filepath.Join(dir, id+".data"))
		if err != nil {
			skip("file %s: %v", id, err)
			continue
		}
		fi, err := data.Stat()
		if err == nil && fi.Size() != f.Size {
			err = fmt.Errorf("%d bytes where %d were recorded", fi.Size(), f.Size)
		}
		if err != nil {
			data.Close()
			skip("file %s: %v", id, err)
			continue
		}
		rep.Files++
		if to.File != nil {
			err = to.File(f, data)
		}
		data.Close()
		if err != nil {
			return err
		}
	}
	return nil
}
