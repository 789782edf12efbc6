package backup

import (
	"context"
	"fmt"

	"github.com/trovedb/trove"
)

// linkPlan places the links added with SaveLink among the events of an
// export so that importing the stream in order reproduces every link
// listing: each source version's outgoing links and each target's incoming
// links in their original order. It is a topological order of these
// constraints:
//
//   - a link comes after its source event;
//   - the links added to one source version keep their order;
//   - the links into one target keep their order (incoming listings mix
//     links saved with events, which come with their event, and added
//     ones).
//
// The events themselves keep position order; after each event every link
// whose constraints are met is written (Kahn's algorithm with the events as
// a fixed chain). The store's own history is one such order, so one always
// exists for a consistent store.
type linkPlan struct {
	links    []pendingLink
	bySource map[trove.EventID][]int // added links of each source version, in order
	// waiting holds, per event position, the links that wait for it.
	waiting map[uint64][]int
	// eventPreds counts, per event position, the links that must come
	// before it (a target's incoming order puts them before its own link).
	eventPreds map[uint64]int
	queue      []int
	emitted    int
}

type pendingLink struct {
	source    trove.EventID
	sourcePos uint64
	link      trove.EventLink
	preds     int      // constraints not met yet
	next      []int    // links that wait for this one
	nextEvent []uint64 // events that wait for this one
}

// addSource records the links added to the event version at pos, in order.
func (p *linkPlan) addSource(source trove.EventID, pos uint64, added []trove.EventLink) {
	if p.bySource == nil {
		p.bySource = map[trove.EventID][]int{}
		p.waiting = map[uint64][]int{}
		p.eventPreds = map[uint64]int{}
	}
	prev := -1
	for _, l := range added {
		k := len(p.links)
		l.SourceEvent = nil
		p.links = append(p.links, pendingLink{source: source, sourcePos: pos, link: l, preds: 1})
		p.waiting[pos] = append(p.waiting[pos], k)
		if prev >= 0 {
			p.links[prev].next = append(p.links[prev].next, k)
			p.links[k].preds++
		}
		p.bySource[source] = append(p.bySource[source], k)
		prev = k
	}
}

// node is one entry of a target's incoming listing: an added link of the
// plan, or an exported event (whose own link it is), or nothing to order.
type node struct {
	link  int    // >= 0: an added link
	event uint64 // > 0: an event
}

// order adds the constraints of every target's incoming listing. Events at
// or before from, or after last, are outside the export and order nothing.
func (p *linkPlan) order(ctx context.Context, c *trove.Core, from, last uint64) error {
	targets := map[string]bool{}
	var list []string
	for _, l := range p.links {
		if t := l.link.TargetEvent.ID; !targets[t] {
			targets[t] = true
			list = append(list, t)
		}
	}
	positions := map[trove.EventID]uint64{}
	for _, t := range list {
		in, err := c.GetLinks(ctx, trove.EventID{ID: t}, trove.LinkOptions{Direction: trove.Incoming})
		if err != nil {
			return fmt.Errorf("backup: links into %s: %w", t, err)
		}
		used := map[int]bool{}
		prev := node{link: -1}
		for _, l := range in {
			if l.SourceEvent == nil {
				return fmt.Errorf("%w: backup: a link into %s has no source", trove.ErrCorrupt, t)
			}
			n := node{link: -1}
			for _, k := range p.bySource[*l.SourceEvent] {
				if !used[k] && p.links[k].link.Same(l) {
					n.link = k
					used[k] = true
					break
				}
			}
			if n.link < 0 {
				pos, ok := positions[*l.SourceEvent]
				if !ok {
					e, err := c.GetEvent(ctx, *l.SourceEvent)
					if err != nil {
						return fmt.Errorf("backup: source of a link into %s: %w", t, err)
					}
					pos = e.Position
					positions[*l.SourceEvent] = pos
				}
				if pos <= from || pos > last {
					continue // outside the export: orders nothing
				}
				n.event = pos
			}
			p.edge(prev, n)
			prev = n
		}
	}
	return nil
}

// edge makes b wait for a.
func (p *linkPlan) edge(a, b node) {
	switch {
	case a.link < 0 && a.event == 0: // no predecessor
	case a.link >= 0 && b.link >= 0:
		p.links[a.link].next = append(p.links[a.link].next, b.link)
		p.links[b.link].preds++
	case a.link >= 0:
		p.links[a.link].nextEvent = append(p.links[a.link].nextEvent, b.event)
		p.eventPreds[b.event]++
	case b.link >= 0:
		p.waiting[a.event] = append(p.waiting[a.event], b.link)
		p.links[b.link].preds++
	}
	// Event before event: the chain of positions orders them already.
}

// ready returns the links that wait for nothing.
func (p *linkPlan) ready() []pendingLink {
	for k := range p.links {
		if p.links[k].preds == 0 {
			p.queue = append(p.queue, k)
		}
	}
	return p.drain()
}

// done marks the event at pos written and returns the links now ready, in
// the order to write them.
func (p *linkPlan) done(pos uint64) ([]pendingLink, error) {
	if p.eventPreds[pos] > 0 {
		return nil, fmt.Errorf("%w: backup: the links into an event's targets are in an order no replay gives (position %d)", trove.ErrCorrupt, pos)
	}
	for _, k := range p.waiting[pos] {
		if p.links[k].preds--; p.links[k].preds == 0 {
			p.queue = append(p.queue, k)
		}
	}
	delete(p.waiting, pos)
	return p.drain(), nil
}

func (p *linkPlan) drain() []pendingLink {
	var out []pendingLink
	for len(p.queue) > 0 {
		k := p.queue[0]
		p.queue = p.queue[1:]
		l := &p.links[k]
		out = append(out, *l)
		p.emitted++
		for _, n := range l.next {
			if p.links[n].preds--; p.links[n].preds == 0 {
				p.queue = append(p.queue, n)
			}
		}
		for _, e := range l.nextEvent {
			p.eventPreds[e]--
		}
	}
	return out
}

// left is the number of links not written yet.
func (p *linkPlan) left() int { return len(p.links) - p.emitted }
