package memory

import (
	"context"
	"fmt"
	"slices"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/plugins/internal/linkbook"
)

// SaveLink adds an outgoing link to source (its latest version when
// source.Version is 0). A link the source version already has is a no-op.
func (s *Store) SaveLink(ctx context.Context, source trove.EventID, link trove.EventLink) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l, err := trove.ValidateLink(link)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.mu.state.Check("save link"); err != nil {
		return err
	}
	r := s.lookupLocked(source)
	if r == nil {
		return fmt.Errorf("%w: memory: link source %s", trove.ErrNotFound, source)
	}
	if slices.ContainsFunc(outLinksLocked(r), l.Same) {
		return nil
	}
	r.added = append(r.added, l)
	s.mu.links = append(s.mu.links, linkbook.Entry{Source: r.ev.ID, Link: l})
	return nil
}

// GetLinks lists the links of id in save order, each with SourceEvent set.
func (s *Store) GetLinks(ctx context.Context, id trove.EventID, opts trove.LinkOptions) ([]trove.EventLink, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.mu.state.Check("get links"); err != nil {
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
	if err := s.mu.state.Check("get linked events"); err != nil {
		return nil, err
	}
	return s.bookLocked().Linked(id, opts)
}

// bookLocked is the store's links as linkbook reads them; the caller holds
// s.mu until it is done with the result.
func (s *Store) bookLocked() linkbook.Book {
	return linkbook.Book{Pkg: "memory", All: s.mu.links, Lookup: func(id trove.EventID) (*trove.Event, []trove.EventLink, bool) {
		r := s.lookupLocked(id)
		if r == nil {
			return nil, nil, false
		}
		return &r.ev, outLinksLocked(r), true
	}}
}
