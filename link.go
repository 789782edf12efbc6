package trove

import "errors"

// Same reports whether l and o are the same link fact: the same type and
// the same target (id and version; version 0 is the target's latest).
// Metadata is not compared. A link belongs to an exact source version, and
// saving a link its source version already has, with the event or added
// later, is a no-op that keeps the first one's metadata.
func (l EventLink) Same(o EventLink) bool {
	return l.Type == o.Type && l.TargetEvent.ID == o.TargetEvent.ID && l.TargetEvent.Version == o.TargetEvent.Version
}

// LinkEnd is the event at the other end of link l, which goes out from
// source, in a listing of direction dir: its target for outgoing links,
// its source for incoming ones.
func LinkEnd(source EventID, l EventLink, dir Direction) EventID {
	if dir == Incoming {
		return source
	}
	return l.TargetEvent
}

// LinkedEvents is the rule of GetLinkedEvents, for every backend: the
// events at ends (LinkEnd of the listed links, in link order), each loaded
// with load and returned once, in that order; an end load reports
// ErrNotFound for (a dangling link) is skipped, any other error returned.
func LinkedEvents(ends []EventID, load func(EventID) (Event, error)) ([]Event, error) {
	out := []Event{}
	seen := map[EventID]bool{}
	for _, id := range ends {
		e, err := load(id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if !seen[e.ID] {
			seen[e.ID] = true
			out = append(out, e)
		}
	}
	return out, nil
}
