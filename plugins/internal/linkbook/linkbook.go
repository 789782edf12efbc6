package linkbook

import (
	"fmt"

	"github.com/trovedb/trove"
)

// Entry is one link with the exact event version it goes out from.
type Entry struct {
	Source trove.EventID
	Link   trove.EventLink
}

// Book is a backend's view of its links, read under the backend's lock.
type Book struct {
	// Pkg starts error texts ("memory", "jsonfile").
	Pkg string
	// All is every link in save order.
	All []Entry
	// Lookup returns the stored version id names (its latest for Version
	// 0) and that version's outgoing links in order, or ok false. The event
	// is the backend's own; Linked clones it.
	Lookup func(id trove.EventID) (ev *trove.Event, out []trove.EventLink, ok bool)
}

// Select returns the links GetLinks lists for id and opts, in save order.
func (b Book) Select(id trove.EventID, opts trove.LinkOptions) ([]Entry, error) {
	var out []Entry
	switch opts.Direction {
	case trove.Incoming:
		for _, le := range b.All {
			t := le.Link.TargetEvent
			if t.ID != id.ID || id.Version != 0 && t.Version != 0 && t.Version != id.Version {
				continue
			}
			if opts.Type == "" || opts.Type == le.Link.Type {
				out = append(out, le)
			}
		}
	case "", trove.Outgoing:
		ev, links, ok := b.Lookup(id)
		if !ok {
			return nil, fmt.Errorf("%w: %s: event %s", trove.ErrNotFound, b.Pkg, id)
		}
		for _, l := range links {
			if opts.Type == "" || opts.Type == l.Type {
				out = append(out, Entry{Source: ev.ID, Link: l})
			}
		}
	default:
		return nil, fmt.Errorf("%w: %s: link direction %q", trove.ErrInvalid, b.Pkg, opts.Direction)
	}
	return out, nil
}

// Links returns what GetLinks answers for id and opts: copies of the
// selected links, each with SourceEvent set.
func (b Book) Links(id trove.EventID, opts trove.LinkOptions) ([]trove.EventLink, error) {
	entries, err := b.Select(id, opts)
	if err != nil {
		return nil, err
	}
	out := make([]trove.EventLink, len(entries))
	for i, le := range entries {
		l := le.Link
		l.Metadata = append([]byte(nil), l.Metadata...)
		if len(l.Metadata) == 0 {
			l.Metadata = nil
		}
		src := le.Source
		l.SourceEvent = &src
		out[i] = l
	}
	return out, nil
}

// Linked returns what GetLinkedEvents answers for id and opts: clones of
// the events at the other end of the selected links, each once, in link
// order, skipping dangling targets.
func (b Book) Linked(id trove.EventID, opts trove.LinkOptions) ([]trove.Event, error) {
	entries, err := b.Select(id, opts)
	if err != nil {
		return nil, err
	}
	ends := make([]trove.EventID, len(entries))
	for i, le := range entries {
		ends[i] = trove.LinkEnd(le.Source, le.Link, opts.Direction)
	}
	return trove.LinkedEvents(ends, func(id trove.EventID) (trove.Event, error) {
		ev, _, ok := b.Lookup(id)
		if !ok {
			return trove.Event{}, trove.ErrNotFound
		}
		return ev.Clone(), nil
	})
}

// Outgoing returns an event version's outgoing links: own (saved with the
// event), then added (by SaveLink), without changing either slice.
func Outgoing(own, added []trove.EventLink) []trove.EventLink {
	if len(added) == 0 {
		return own
	}
	return append(own[:len(own):len(own)], added...)
}
