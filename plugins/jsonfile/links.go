package jsonfile

import (
	"context"
	"fmt"
	"slices"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/plugins/internal/linkbook"
)

// SaveLink adds an outgoing link to source (its latest version when
// source.Version is 0). It is appended to links.ndjson and fsynced before
// SaveLink returns. A link the source version already has is a no-op.
func (s *Store) SaveLink(ctx context.Context, source trove.EventID, link trove.EventLink) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l, err := trove.ValidateLink(link)
	if err != nil {
		return err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.mu.RLock()
	err = s.checkWriteLocked("save link")
	var r *record
	dup := false
	if err == nil {
		if r = s.lookupLocked(source); r != nil {
			dup = slices.ContainsFunc(linkbook.Outgoing(r.ev.Links, r.added), l.Same)
		}
	}
	s.mu.RUnlock()
	if err != nil {
		return err
	}
	if r == nil {
		return fmt.Errorf("%w: jsonfile: link source %s", trove.ErrNotFound, source)
	}
	if dup {
		return nil
	}
	line := linkLine{Source: r.ev.ID, Type: l.Type, TargetEvent: l.TargetEvent, Metadata: l.Metadata, AfterPosition: s.mu.lastPos}
	if err := s.appendLinkLocked(line); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Replace, never append in place: a reader may hold the old slice.
	r.added = append(r.added[:len(r.added):len(r.added)], l)
	s.mu.links = append(s.mu.links, linkbook.Entry{Source: r.ev.ID, Link: l})
	s.mu.target[l.TargetEvent.ID] = append(s.mu.target[l.TargetEvent.ID], r)
	return nil
}

// GetLinks lists the links of id in save order, each with SourceEvent set.
func (s *Store) GetLinks(ctx context.Context, id trove.EventID, opts trove.LinkOptions) ([]trove.EventLink, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.checkLocked("get links"); err != nil {
		return nil, err
	}
	return s.bookLocked().Links(id, opts)
}

// GetLinkedEvents returns the events at the other end of GetLinks, each
// once, in link order, skipping dangling targets.
func (s *Store) GetLinkedEvents(ctx context.Context, id trove.EventID, opts trove.LinkOptions) ([]trove.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.checkLocked("get linked events"); err != nil {
		return nil, err
	}
	return s.bookLocked().Linked(id, opts)
}

// bookLocked is the store's links as linkbook reads them; the caller holds
// s.mu until it is done with the result.
func (s *Store) bookLocked() linkbook.Book {
	return linkbook.Book{Pkg: "jsonfile", All: s.mu.links, Lookup: func(id trove.EventID) (*trove.Event, []trove.EventLink, bool) {
		r := s.lookupLocked(id)
		if r == nil {
			return nil, nil, false
		}
		return &r.ev, outLinks(r), true
	}}
}
