package engine

import (
	"context"
	"fmt"
	"slices"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/index"
)

// SaveLink adds an outgoing link to source (its latest version when
// source.Version is 0), durably, as one WAL entry.
func (s *Store) SaveLink(ctx context.Context, source trove.EventID, link trove.EventLink) error {
	l, err := trove.ValidateLink(link)
	if err != nil {
		return err
	}
	return s.submit(ctx, "save link", &request{kind: reqLink, source: source, link: l}).err
}

type linkEntry struct {
	source trove.EventID
	link   trove.EventLink
}

// links selects what GetLinks returns.
func (s *Store) links(id trove.EventID, opts trove.LinkOptions) ([]linkEntry, error) {
	v := s.view.Load()
	var out []linkEntry
	switch opts.Direction {
	case trove.Incoming:
		refs, err := s.incomingRefs(v, id.ID)
		if err != nil {
			return nil, err
		}
		for _, ref := range refs {
			if uint64(ref.Source) > v.last {
				continue
			}
			src, err := s.eventAt(v, uint64(ref.Source))
			if err != nil {
				return nil, err
			}
			l, ok := s.linkOf(src, ref)
			if !ok {
				continue
			}
			t := l.TargetEvent
			if t.ID != id.ID || id.Version != 0 && t.Version != 0 && t.Version != id.Version {
				continue
			}
			if opts.Type == "" || opts.Type == l.Type {
				out = append(out, linkEntry{source: src.ID, link: l})
			}
		}
	case "", trove.Outgoing:
		p, ok := s.ix.LookupAt(id.ID, id.Version, uint32(v.last))
		if !ok || id.Version < 0 {
			return nil, fmt.Errorf("%w: engine: event %s", trove.ErrNotFound, id)
		}
		e, err := s.eventAt(v, uint64(p))
		if err != nil {
			return nil, err
		}
		all := append(slices.Clip(e.Links), s.ix.AddedLinks(p)...)
		for _, l := range all {
			if opts.Type == "" || opts.Type == l.Type {
				out = append(out, linkEntry{source: e.ID, link: l})
			}
		}
	default:
		return nil, fmt.Errorf("%w: engine: link direction %q", trove.ErrInvalid, opts.Direction)
	}
	return out, nil
}

// incomingRefs returns the links to id in save order: the own links of
// the sealed candidates the index returns, found by reading each event,
// merged with the references the index keeps.
func (s *Store) incomingRefs(v *view, id string) ([]index.LinkRef, error) {
	sealed, kept := s.ix.Incoming(id)
	if sealed == nil || sealed.IsEmpty() {
		return kept, nil
	}
	var own []index.LinkRef
	it := sealed.Iterator()
	for it.HasNext() {
		pos := it.Next()
		if uint64(pos) > v.last {
			break
		}
		e, err := s.eventAt(v, uint64(pos))
		if err != nil {
			return nil, err
		}
		for i, l := range e.Links {
			if l.TargetEvent.ID == id {
				own = append(own, index.LinkRef{Source: pos, Slot: int32(i), After: pos})
			}
		}
	}
	// Both lists are in save order, and a link was saved after every own
	// link of the positions up to its After (an own link's After is its
	// source).
	out := make([]index.LinkRef, 0, len(own)+len(kept))
	i := 0
	for _, r := range kept {
		for i < len(own) && own[i].Source <= r.After {
			out = append(out, own[i])
			i++
		}
		out = append(out, r)
	}
	return append(out, own[i:]...), nil
}

func (s *Store) linkOf(src trove.Event, ref index.LinkRef) (trove.EventLink, bool) {
	if ref.Slot >= 0 {
		if int(ref.Slot) < len(src.Links) {
			return src.Links[ref.Slot], true
		}
		return trove.EventLink{}, false
	}
	added := s.ix.AddedLinks(ref.Source)
	i := int(-ref.Slot - 1)
	if i < len(added) {
		return added[i], true
	}
	return trove.EventLink{}, false
}

// GetLinks lists the links of id in save order, each with SourceEvent set.
func (s *Store) GetLinks(ctx context.Context, id trove.EventID, opts trove.LinkOptions) ([]trove.EventLink, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := s.enter("get links", false); err != nil {
		return nil, err
	}
	defer s.leave(false)
	entries, err := s.links(id, opts)
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

// GetLinkedEvents returns the events at the other end of GetLinks, each
// once, in link order, skipping dangling targets.
func (s *Store) GetLinkedEvents(ctx context.Context, id trove.EventID, opts trove.LinkOptions) ([]trove.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := s.enter("get linked events", false); err != nil {
		return nil, err
	}
	defer s.leave(false)
	entries, err := s.links(id, opts)
	if err != nil {
		return nil, err
	}
	ends := make([]trove.EventID, len(entries))
	for i, le := range entries {
		ends[i] = trove.LinkEnd(le.source, le.link, opts.Direction)
	}
	return trove.LinkedEvents(ends, s.getEvent)
}
