package storagetest

import (
	"fmt"
	"testing"

	"github.com/trovedb/trove"
)

// The model's picture of links: GetLinks and GetLinkedEvents, both
// directions, compared for random ids with what the store answers.

const modelLinkChecks = 150

type mlink struct {
	source trove.EventID // the exact version the link goes out from
	link   trove.EventLink
}

// lookup finds an event version in the model (latest for Version 0).
func (m *model) lookup(id trove.EventID) *mevent {
	vs := m.byID[id.ID]
	switch {
	case len(vs) == 0 || id.Version > len(vs):
		return nil
	case id.Version == 0:
		return vs[len(vs)-1]
	}
	return vs[id.Version-1]
}

// outLinks and inLinks answer GetLinks; linked answers GetLinkedEvents.
func (m *model) outLinks(id trove.EventID, typ string) []mlink {
	e := m.lookup(id)
	var out []mlink
	for _, l := range e.links {
		if typ == "" || l.Type == typ {
			out = append(out, mlink{source: e.ev.ID, link: l})
		}
	}
	return out
}

func (m *model) inLinks(id trove.EventID, typ string) []mlink {
	var out []mlink
	for _, ml := range m.linkLog {
		t := ml.link.TargetEvent
		if t.ID != id.ID || id.Version != 0 && t.Version != 0 && t.Version != id.Version {
			continue
		}
		if typ == "" || ml.link.Type == typ {
			out = append(out, ml)
		}
	}
	return out
}

func (m *model) linked(links []mlink, incoming bool) []trove.Event {
	out := []trove.Event{}
	seen := map[trove.EventID]bool{}
	for _, ml := range links {
		other := ml.link.TargetEvent
		if incoming {
			other = ml.source
		}
		e := m.lookup(other)
		if e == nil || seen[e.ev.ID] {
			continue
		}
		seen[e.ev.ID] = true
		out = append(out, e.ev)
	}
	return out
}

func modelLinkList(links []mlink) string {
	ls := make([]trove.EventLink, len(links))
	for i, ml := range links {
		l := ml.link
		src := ml.source
		l.SourceEvent = &src
		ls[i] = l
	}
	return linkList(ls)
}

func (m *model) checkLinks(t *testing.T, s *store, g gen, seed uint64) {
	for i := range modelLinkChecks {
		id := trove.EventID{ID: fmt.Sprintf("m-%04d", g.pick(modelEvents+100))}
		if vs := m.byID[id.ID]; len(vs) > 1 && g.chance(0.4) {
			id.Version = 1 + g.pick(len(vs))
		}
		typ := ""
		if g.chance(0.3) {
			typ = g.str(modelTypes)
		}
		in := trove.LinkOptions{Direction: trove.Incoming, Type: typ}
		if got, want := s.links(id, in), modelLinkList(m.inLinks(id, typ)); got != want {
			t.Fatalf("check %d: incoming links of %s type %q:\n got  %s\n want %s; seed %d", i, id, typ, got, want, seed)
		}
		if got, want := s.linked(id, in), ids(m.linked(m.inLinks(id, typ), true)); got != want {
			t.Fatalf("check %d: incoming linked events of %s type %q:\n got  %s\n want %s; seed %d", i, id, typ, got, want, seed)
		}
		out := trove.LinkOptions{Type: typ}
		if m.lookup(id) == nil {
			_, err := s.ls.GetLinks(s.ctx, id, out)
			wantErr(t, fmt.Sprintf("outgoing links of missing %s (seed %d)", id, seed), err, trove.ErrNotFound)
			continue
		}
		if got, want := s.links(id, out), modelLinkList(m.outLinks(id, typ)); got != want {
			t.Fatalf("check %d: links of %s type %q:\n got  %s\n want %s; seed %d", i, id, typ, got, want, seed)
		}
		if got, want := s.linked(id, out), ids(m.linked(m.outLinks(id, typ), false)); got != want {
			t.Fatalf("check %d: linked events of %s type %q:\n got  %s\n want %s; seed %d", i, id, typ, got, want, seed)
		}
	}
	t.Logf("model: links and linked events of %d ids agreed with the model", modelLinkChecks)
}
