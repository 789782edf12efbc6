package backup

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/trovedb/trove"
)

// MaxLine caps one line of an import, in bytes.
const MaxLine = 32 << 20

// ImportOptions tune Import.
type ImportOptions struct {
	// Batch is how many events are saved in one atomic batch; 0 means 1000.
	Batch int
}

// ImportStats counts what Import read: what it stored and what the store
// held already (an import is idempotent).
type ImportStats struct {
	Schemas, SchemasPresent int
	Events, EventsPresent   int
	Files, FilesPresent     int
	// Links counts the added links saved, LinksPresent those the source
	// version had already (a link is a fact: saving it again is a no-op).
	Links, LinksPresent int
}

// LineError is an import error at a line of the stream. It unwraps to the
// cause; what the lines before it held is saved.
type LineError struct {
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("backup: line %d: %v", e.Line, e.Err) }
func (e *LineError) Unwrap() error { return e.Err }

// Import reads an export from r (FORMAT.md; version 1 streams, events and
// registeredSchema lines without a header, too) and saves it into c: the
// registered schemas, the files, the events in atomic batches of
// opts.Batch, and the added links, in stream order. Into an empty store it
// reproduces the exported one: positions, links in their order, file
// bytes. Importing the same stream again stores nothing new.
func Import(ctx context.Context, c *trove.Core, r io.Reader, opts ImportOptions) (ImportStats, error) {
	batch := opts.Batch
	if batch <= 0 {
		batch = 1000
	}
	im := &importer{ctx: ctx, c: c, batch: batch}
	defer im.abandonFile()
	head, err := lastPosition(ctx, c)
	if err != nil {
		return im.stats, err
	}
	im.head = head
	br := bufio.NewReaderSize(r, 1<<20)
	line := 0
	for {
		b, rerr := readLine(br)
		if len(bytes.TrimSpace(b)) > 0 {
			line++
			if err := im.line(line, b); err != nil {
				return im.stats, atLine(line, err)
			}
		} else if rerr == nil {
			line++
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return im.stats, &LineError{Line: line + 1, Err: rerr}
		}
		if err := ctx.Err(); err != nil {
			return im.stats, err
		}
	}
	if im.file != nil {
		return im.stats, &LineError{Line: line, Err: fmt.Errorf("%w: file %s is not ended (no fileEnd line)", trove.ErrInvalid, im.fileID)}
	}
	if err := im.flush(); err != nil {
		return im.stats, atLine(line, err)
	}
	if im.version >= 2 && !im.ended {
		return im.stats, &LineError{Line: line, Err: fmt.Errorf("%w: the export is cut short: it has no end line (what came before is saved)", trove.ErrInvalid)}
	}
	return im.stats, nil
}

// atLine places err at line n unless it names its line already.
func atLine(n int, err error) error {
	var le *LineError
	if errors.As(err, &le) {
		return le
	}
	return &LineError{Line: n, Err: err}
}

type importer struct {
	ctx     context.Context
	c       *trove.Core
	batch   int
	head    uint64 // the store's last position before the pending batch
	seen    bool   // a line other than the header was read
	version int    // the header's format version; 1 without a header
	ended   bool   // the end line was read
	counts  endCounts
	events  []trove.Event
	lines   []int // the line of each pending event
	stats   ImportStats

	// The file being read: its bytes go through a pipe to SaveFile.
	file   *io.PipeWriter
	fileID string
	saved  chan error
}

func (im *importer) line(n int, b []byte) error {
	kind := kindOf(b)
	if im.file != nil && kind != kindFileData && kind != kindFileEnd {
		return fmt.Errorf("%w: file %s is not ended before this line", trove.ErrInvalid, im.fileID)
	}
	if im.ended {
		return fmt.Errorf("%w: a line after the end line", trove.ErrInvalid)
	}
	switch kind {
	case kindHeader:
		var h header
		if err := strictDecode(b, &h); err != nil {
			return err
		}
		if im.seen {
			return fmt.Errorf("%w: the header must be the first line", trove.ErrInvalid)
		}
		if h.TroveExport < 1 || h.TroveExport > FormatVersion {
			return fmt.Errorf("%w: export format version %d (this build reads 1 to %d)", trove.ErrInvalid, h.TroveExport, FormatVersion)
		}
		im.version = h.TroveExport
	case kindSchema:
		var sl schemaLine
		if err := strictDecode(b, &sl); err != nil {
			return err
		}
		if sl.RegisteredSchema == nil {
			return fmt.Errorf("%w: registeredSchema is null", trove.ErrInvalid)
		}
		// Events after it may refer to it: save those before it first.
		if err := im.flush(); err != nil {
			return err
		}
		rs := *sl.RegisteredSchema
		im.counts.Schemas++
		if _, err := im.c.Schema(rs.ID, rs.Version); err == nil && rs.Version != "" {
			im.stats.SchemasPresent++
		} else {
			im.stats.Schemas++
		}
		if _, err := im.c.RegisterSchema(im.ctx, rs); err != nil {
			return err
		}
	case kindFile:
		var fl fileLine
		if err := strictDecode(b, &fl); err != nil {
			return err
		}
		if fl.File == nil {
			return fmt.Errorf("%w: file is null", trove.ErrInvalid)
		}
		im.counts.Files++
		im.startFile(*fl.File)
	case kindFileData:
		var fd fileDataLine
		if err := strictDecode(b, &fd); err != nil {
			return err
		}
		if im.file == nil {
			return fmt.Errorf("%w: fileData outside a file", trove.ErrInvalid)
		}
		data, err := base64.StdEncoding.DecodeString(fd.FileData)
		if err != nil {
			return fmt.Errorf("%w: fileData is not base64: %v", trove.ErrInvalid, err)
		}
		if _, err := im.file.Write(data); err != nil {
			// SaveFile stopped reading: its error says why.
			return im.endFile()
		}
	case kindFileEnd:
		var fe fileEndLine
		if err := strictDecode(b, &fe); err != nil {
			return err
		}
		if im.file == nil || fe.FileEnd != im.fileID {
			return fmt.Errorf("%w: fileEnd %q does not end the file being read", trove.ErrInvalid, fe.FileEnd)
		}
		return im.endFile()
	case kindEnd:
		var el endLine
		if err := strictDecode(b, &el); err != nil {
			return err
		}
		if err := im.flush(); err != nil {
			return err
		}
		c := im.counts
		if el.End.Schemas != c.Schemas || el.End.Events != c.Events || el.End.Files != c.Files || el.End.Links != c.Links {
			return fmt.Errorf("%w: the export says it holds %d schemas, %d events, %d files and %d links; it held %d, %d, %d and %d",
				trove.ErrInvalid, el.End.Schemas, el.End.Events, el.End.Files, el.End.Links, c.Schemas, c.Events, c.Files, c.Links)
		}
		im.ended = true
	case kindLink:
		var ll linkLine
		if err := strictDecode(b, &ll); err != nil {
			return err
		}
		// Its source may be pending.
		if err := im.flush(); err != nil {
			return err
		}
		im.counts.Links++
		present, err := im.hasLink(ll.Link.Source, ll.Link.EventLink)
		if err != nil {
			return err
		}
		if present {
			im.stats.LinksPresent++
			break
		}
		if err := im.c.SaveLink(im.ctx, ll.Link.Source, ll.Link.EventLink); err != nil {
			return err
		}
		im.stats.Links++
	default:
		var e trove.Event
		if err := json.Unmarshal(b, &e); err != nil {
			return fmt.Errorf("%w: not an event: %v", trove.ErrInvalid, err)
		}
		e.Position = 0
		im.counts.Events++
		im.events = append(im.events, e)
		im.lines = append(im.lines, n)
		if len(im.events) == im.batch {
			if err := im.flush(); err != nil {
				return err
			}
		}
	}
	im.seen = true
	return nil
}

// hasLink reports whether source's outgoing links hold l already. A source
// that does not exist has none: SaveLink then says so.
func (im *importer) hasLink(source trove.EventID, l trove.EventLink) (bool, error) {
	links, err := im.c.GetLinks(im.ctx, source, trove.LinkOptions{Type: l.Type})
	if errors.Is(err, trove.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, have := range links {
		if have.Same(l) {
			return true, nil
		}
	}
	return false, nil
}

// flush saves the pending events in one atomic batch.
func (im *importer) flush() error {
	if len(im.events) == 0 {
		return nil
	}
	saved, err := im.c.CreateEvents(im.ctx, im.events)
	if err != nil {
		var be *trove.BatchError
		if errors.As(err, &be) && be.Index < len(im.lines) {
			return &LineError{Line: im.lines[be.Index], Err: be.Err}
		}
		return fmt.Errorf("batch of lines %d-%d: %w", im.lines[0], im.lines[len(im.lines)-1], err)
	}
	// New events take positions after every stored one; a retried event
	// keeps the position it has.
	head := im.head
	for _, e := range saved {
		if e.Position > im.head {
			im.stats.Events++
			head = max(head, e.Position)
		} else {
			im.stats.EventsPresent++
		}
	}
	im.head = head
	im.events, im.lines = im.events[:0], im.lines[:0]
	return nil
}

func (im *importer) startFile(f trove.EventFile) {
	if _, err := im.c.GetFile(im.ctx, f.ID); err == nil {
		im.stats.FilesPresent++
	} else {
		im.stats.Files++
	}
	f.Data = ""
	pr, pw := io.Pipe()
	im.file, im.fileID, im.saved = pw, f.ID, make(chan error, 1)
	go func() {
		_, err := im.c.SaveFile(im.ctx, f, pr)
		pr.CloseWithError(cmpErr(err, io.ErrClosedPipe))
		im.saved <- err
	}()
}

func (im *importer) endFile() error {
	im.file.Close()
	err := <-im.saved
	im.file, im.saved = nil, nil
	if err != nil {
		return fmt.Errorf("file %s: %w", im.fileID, err)
	}
	return nil
}

// abandonFile stops a file being read when the import ends early.
func (im *importer) abandonFile() {
	if im.file != nil {
		im.file.CloseWithError(errors.New("backup: import stopped"))
		<-im.saved
		im.file = nil
	}
}

func cmpErr(err, otherwise error) error {
	if err != nil {
		return err
	}
	return otherwise
}

// lastPosition is the position of the store's last event, 0 when empty.
func lastPosition(ctx context.Context, c *trove.Core) (uint64, error) {
	last, err := c.QueryEvents(ctx, trove.EventQuery{AllVersions: true,
		Sort: []trove.SortField{{Field: "position", Direction: "desc"}}, Limit: trove.Limit(1)})
	if err != nil {
		return 0, fmt.Errorf("backup: the store's last position: %w", err)
	}
	if len(last) == 0 {
		return 0, nil
	}
	return last[0].Position, nil
}

// strictDecode decodes one line into v, refusing unknown keys.
func strictDecode(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", trove.ErrInvalid, err)
	}
	return nil
}

// readLine returns the next line without its newline, up to MaxLine bytes.
func readLine(r *bufio.Reader) ([]byte, error) {
	var buf []byte
	for {
		chunk, err := r.ReadSlice('\n')
		buf = append(buf, chunk...)
		if len(buf) > MaxLine {
			return nil, fmt.Errorf("%w: a line is longer than %d bytes", trove.ErrInvalid, MaxLine)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		return bytes.TrimRight(buf, "\r\n"), err
	}
}
