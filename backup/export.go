package backup

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/trovedb/trove"
)

// FormatVersion is the version Export writes in its header line.
const FormatVersion = 2

// chunkSize is how many file bytes one fileData line carries.
const chunkSize = 512 << 10

// ExportOptions tune Export.
type ExportOptions struct {
	// From exports only the events after this log position (0: all), with
	// the links added to them. Registered schemas are always written.
	From uint64
}

// ExportStats counts what Export wrote.
type ExportStats struct {
	Schemas int
	Events  int
	Files   int
	// FilesMissing counts files events name that file storage no longer
	// holds; their metadata stays in the events, their bytes are not
	// written.
	FilesMissing int
	Links        int
	// Last is the position of the last event written (From when none).
	Last uint64
}

// Export writes the store behind c to w in the export format (FORMAT.md):
// a header, the registered schemas, then every event version after
// opts.From in position order, each preceded by the files it names that
// were not written yet (metadata and bytes) and followed by the links added
// to events, at a place where importing them in order gives every link
// listing (outgoing and incoming) its original order.
//
// The events written are those committed when Export starts; events and
// links saved while it runs are left out. The event storage must be a
// trove.Replayer.
func Export(ctx context.Context, c *trove.Core, w io.Writer, opts ExportOptions) (ExportStats, error) {
	stats := ExportStats{Last: opts.From}
	rp, ok := c.Events().(trove.Replayer)
	if !ok {
		return stats, fmt.Errorf("%w: backup: the event storage cannot replay its log", trove.ErrInvalid)
	}
	links := c.Links()
	// Pass one: the last position and the links added to each event.
	var plan *linkPlan
	if links != nil {
		plan = &linkPlan{}
	}
	err := rp.Replay(ctx, opts.From, func(e trove.Event) error {
		stats.Last = e.Position
		if plan == nil {
			return nil
		}
		out, err := links.GetLinks(ctx, e.ID, trove.LinkOptions{})
		if err != nil {
			return fmt.Errorf("backup: links of %s: %w", e.ID, err)
		}
		if len(out) > len(e.Links) {
			plan.addSource(e.ID, e.Position, out[len(e.Links):])
		}
		return nil
	})
	if err != nil {
		return stats, err
	}
	if plan != nil {
		if err := plan.order(ctx, c, opts.From, stats.Last); err != nil {
			return stats, err
		}
	}

	bw := bufio.NewWriterSize(w, 1<<20)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(header{TroveExport: FormatVersion, From: opts.From, Last: stats.Last}); err != nil {
		return stats, err
	}
	for _, rs := range c.Schemas() {
		if err := enc.Encode(schemaLine{RegisteredSchema: &rs}); err != nil {
			return stats, err
		}
		stats.Schemas++
	}
	writeLinks := func(ls []pendingLink) error {
		for _, l := range ls {
			src := l.source
			if err := enc.Encode(linkLine{Link: linkRecord{Source: src, EventLink: l.link}}); err != nil {
				return err
			}
			stats.Links++
		}
		return nil
	}
	if plan != nil {
		if err := writeLinks(plan.ready()); err != nil {
			return stats, err
		}
	}
	written := map[string]bool{}
	errStop := errors.New("stop")
	err = rp.Replay(ctx, opts.From, func(e trove.Event) error {
		if e.Position > stats.Last {
			return errStop
		}
		for _, f := range e.Files {
			if f.IsReference || f.ID == "" || written[f.ID] {
				continue
			}
			written[f.ID] = true
			ok, err := writeFile(ctx, c, enc, bw, f.ID)
			if err != nil {
				return err
			}
			if ok {
				stats.Files++
			} else {
				stats.FilesMissing++
			}
		}
		pos := e.Position
		e.Position = 0 // a store assigns its own
		if err := enc.Encode(e); err != nil {
			return err
		}
		stats.Events++
		if plan != nil {
			ls, err := plan.done(pos)
			if err != nil {
				return err
			}
			return writeLinks(ls)
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return stats, fmt.Errorf("backup: export: %w", err)
	}
	if plan != nil && plan.left() > 0 {
		return stats, fmt.Errorf("%w: backup: export: %d added links could not be ordered", trove.ErrCorrupt, plan.left())
	}
	if err := bw.Flush(); err != nil {
		return stats, fmt.Errorf("backup: export: %w", err)
	}
	return stats, nil
}

// writeFile writes file id's metadata and bytes; false when file storage
// does not hold it.
func writeFile(ctx context.Context, c *trove.Core, enc *json.Encoder, bw *bufio.Writer, id string) (bool, error) {
	meta, err := c.GetFile(ctx, id)
	if errors.Is(err, trove.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("backup: file %s: %w", id, err)
	}
	rc, err := c.GetFileData(ctx, id)
	if errors.Is(err, trove.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("backup: file %s: %w", id, err)
	}
	defer rc.Close()
	meta.Data = ""
	if err := enc.Encode(fileLine{File: &meta}); err != nil {
		return false, err
	}
	buf := make([]byte, chunkSize)
	var n int64
	for {
		k, rerr := io.ReadFull(rc, buf)
		if k > 0 {
			n += int64(k)
			if err := enc.Encode(fileDataLine{FileData: base64.StdEncoding.EncodeToString(buf[:k])}); err != nil {
				return false, err
			}
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			return false, fmt.Errorf("backup: file %s: %w", id, rerr)
		}
	}
	if n != meta.Size {
		return false, fmt.Errorf("%w: backup: file %s: %d bytes read, %d recorded", trove.ErrCorrupt, id, n, meta.Size)
	}
	if err := enc.Encode(fileEndLine{FileEnd: id}); err != nil {
		return false, err
	}
	return true, nil
}
