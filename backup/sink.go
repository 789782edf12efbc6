package backup

import (
	"io"

	"github.com/trovedb/trove"
)

// Sink receives what a salvage of a damaged store reads, in the order an
// export holds it: schemas, each file before the first event that names
// it, events in position order, links after their source. A nil function
// skips that kind; an error from one stops the salvage and is returned.
// The storages' Salvage functions (engine, jsonfile, sqlite) take one.
type Sink struct {
	Schema func(trove.RegisteredSchema) error
	// File receives a file's metadata and exactly its bytes.
	File  func(f trove.EventFile, data io.Reader) error
	Event func(trove.Event) error
	// Link receives a link added to the event version source.
	Link func(source trove.EventID, l trove.EventLink) error
}

// Counts is what a Sink of a Writer wrote.
type Counts struct {
	Schemas, Events, Files, Links int
	Last                          uint64 // the last event's position
}

// Sink returns a Sink that writes what it receives to w as export lines and
// counts it in c. Finish the stream with End(c…) and Flush.
func (w *Writer) Sink(c *Counts) Sink {
	return Sink{
		Schema: func(rs trove.RegisteredSchema) error { c.Schemas++; return w.Schema(rs) },
		File:   func(f trove.EventFile, data io.Reader) error { c.Files++; return w.File(f, data) },
		Event: func(e trove.Event) error {
			c.Events++
			c.Last = e.Position
			return w.Event(e)
		},
		Link: func(src trove.EventID, l trove.EventLink) error { c.Links++; return w.Link(src, l) },
	}
}
