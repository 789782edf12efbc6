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

	ew := NewWriter(w)
	if err := ew.Header(opts.From, stats.Last); err != nil {
		return stats, err
	}
	for _, rs := range c.Schemas() {
		if err := ew.Schema(rs); err != nil {
			return stats, err
		}
		stats.Schemas++
	}
	writeLinks := func(ls []pendingLink) error {
		for _, l := range ls {
			if err := ew.Link(l.source, l.link); err != nil {
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
			ok, err := exportFile(ctx, c, ew, f.ID)
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
		if err := ew.Event(e); err != nil {
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
	if err := ew.Flush(); err != nil {
		return stats, fmt.Errorf("backup: export: %w", err)
	}
	return stats, nil
}

// exportFile writes file id's metadata and bytes; false when file storage
// does not hold it.
func exportFile(ctx context.Context, c *trove.Core, ew *Writer, id string) (bool, error) {
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
	return true, ew.File(meta, rc)
}

// Writer writes the lines of the export format (FORMAT.md) in the order
// its caller gives them; Export and salvage tools use it. Call Flush at the
// end.
type Writer struct {
	bw  *bufio.Writer
	enc *json.Encoder
	buf []byte
}

// NewWriter returns a Writer on w.
func NewWriter(w io.Writer) *Writer {
	bw := bufio.NewWriterSize(w, 1<<20)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	return &Writer{bw: bw, enc: enc}
}

// Header writes the header line: the export holds the events after from up
// to last.
func (w *Writer) Header(from, last uint64) error {
	return w.enc.Encode(header{TroveExport: FormatVersion, From: from, Last: last})
}

// Schema writes a registered schema.
func (w *Writer) Schema(rs trove.RegisteredSchema) error {
	return w.enc.Encode(schemaLine{RegisteredSchema: &rs})
}

// Event writes an event version, without its position.
func (w *Writer) Event(e trove.Event) error {
	e.Position = 0
	return w.enc.Encode(e)
}

// Link writes a link added to the event version source.
func (w *Writer) Link(source trove.EventID, l trove.EventLink) error {
	l.SourceEvent = nil
	return w.enc.Encode(linkLine{Link: linkRecord{Source: source, EventLink: l}})
}

// File writes a file's metadata and the bytes read from data, which must
// be meta.Size bytes (else ErrCorrupt, and the stream is unusable).
func (w *Writer) File(meta trove.EventFile, data io.Reader) error {
	meta.Data = ""
	if err := w.enc.Encode(fileLine{File: &meta}); err != nil {
		return err
	}
	if w.buf == nil {
		w.buf = make([]byte, chunkSize)
	}
	var n int64
	for {
		k, rerr := io.ReadFull(data, w.buf)
		if k > 0 {
			n += int64(k)
			if err := w.enc.Encode(fileDataLine{FileData: base64.StdEncoding.EncodeToString(w.buf[:k])}); err != nil {
				return err
			}
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			return fmt.Errorf("backup: file %s: %w", meta.ID, rerr)
		}
	}
	if n != meta.Size {
		return fmt.Errorf("%w: backup: file %s: %d bytes read, %d recorded", trove.ErrCorrupt, meta.ID, n, meta.Size)
	}
	return w.enc.Encode(fileEndLine{FileEnd: meta.ID})
}

// Flush writes what is buffered.
func (w *Writer) Flush() error { return w.bw.Flush() }
