package jsonfile

import (
	"context"
	"fmt"

	"github.com/trovedb/trove"
)

// SaveLink adds an outgoing link to source (its latest version when
// source.Version is 0). It is appended to links.ndjson and fsynced before
// SaveLink returns.
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
	err = s.checkLocked("save link")
	var r *record
	if err == nil {
		r = s.lookupLocked(source)
	}
	s.mu.RUnlock()
	if err != nil {
		return err
	}
	if r == nil {
		return fmt.Errorf("%w: jsonfile: link source %s", trove.ErrNotFound, source)
	}
	line := linkLine{Source: r.ev.ID, Type: l.Type, TargetEvent: l.TargetEvent, Metadata: l.Metadata, AfterPosition: s.mu.lastPos}
	if err := s.appendLinkLocked(line); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Replace, never append in place: a reader may hold the old slice.
	r.added = append(r.added[:len(r.added):len(r.added)], l)
	s.mu.links = append(s.mu.links, linkEntry{source: r.ev.ID, link: l})
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
	entries, err := s.linksLocked(id, opts)
	if err != nil {
		return nil, err
	}
	out := make([]trove.EventLink, len(entries))
	for i, le := range entries {
		l := le.link
		l.Metadata = append([]byte(nil), l.Metadata...)
		if len(l.Metadata) == 0 {
			l.Metadata = nil
		}
		src := le.source
		l.SourceEvent = &src
		out[i] = l
	}
	return out, nil
}

// linksLocked selects the links GetLinks returns.
func (s *Store) linksLocked(id trove.EventID, opts trove.LinkOptions) ([]linkEntry, error) {
	var out []linkEntry
	switch opts.Direction {
	case trove.Incoming:
		for _, le := range s.mu.links {
			t := le.link.TargetEvent
			if t.ID != id.ID || id.Version != 0 && t.Version != 0 && t.Version != id.Version {
				continue
			}
			if opts.Type == "" || opts.Type == le.link.Type {
				out = append(out, le)
			}
		}
	case "", trove.Outgoing:
		r := s.lookupLocked(id)
		if r == nil {
			return nil, fmt.Errorf("%w: jsonfile: event %s", trove.ErrNotFound, id)
		}
		for _, l := range outLinks(r) {
			if opts.Type == "" || opts.Type == l.Type {
				out = append(out, linkEntry{source: r.ev.ID, link: l})
			}
		}
	default:
		return nil, fmt.Errorf("%w: jsonfile: link direction %q", trove.ErrInvalid, opts.Direction)
	}
	return out, nil
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
	entries, err := s.linksLocked(id, opts)
	if err != nil {
		return nil, err
	}
	out := []trove.Event{}
	seen := map[trove.EventID]bool{}
	for _, le := range entries {
		other := le.link.TargetEvent
		if opts.Direction == trove.Incoming {
			other = le.source
		}
		r := s.lookupLocked(other)
		if r == nil || seen[r.ev.ID] {
			continue
		}
		seen[r.ev.ID] = true
		out = append(out, r.ev.Clone())
	}
	return out, nil
}
