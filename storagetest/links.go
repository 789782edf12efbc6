package storagetest

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/trovedb/trove"
)

func linkTests() []test {
	return []test{
		{"SaveLink", testSaveLink},
		{"SavedTwice", testLinkSavedTwice},
		{"Outgoing", testLinksOutgoing},
		{"Incoming", testLinksIncoming},
		{"Versions", testLinksVersions},
		{"LinkedEvents", testLinkedEvents},
	}
}

func lnk(typ, target string, version int) trove.EventLink {
	return trove.EventLink{Type: typ, TargetEvent: trove.EventID{ID: target, Version: version}}
}

// linkList renders links as "source>type>target" for comparisons.
func linkList(links []trove.EventLink) string {
	parts := make([]string, len(links))
	for i, l := range links {
		src := "?"
		if l.SourceEvent != nil {
			src = l.SourceEvent.String()
		}
		parts[i] = fmt.Sprintf("%s>%s>%s", src, l.Type, l.TargetEvent)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func (s *store) links(id trove.EventID, opts trove.LinkOptions) string {
	s.t.Helper()
	l, err := s.ls.GetLinks(s.ctx, id, opts)
	if err != nil {
		s.t.Fatalf("GetLinks(%s, %+v): %v", id, opts, err)
	}
	return linkList(l)
}

func (s *store) linked(id trove.EventID, opts trove.LinkOptions) string {
	s.t.Helper()
	e, err := s.ls.GetLinkedEvents(s.ctx, id, opts)
	if err != nil {
		s.t.Fatalf("GetLinkedEvents(%s, %+v): %v", id, opts, err)
	}
	return ids(e)
}

func (s *store) saveLink(source trove.EventID, l trove.EventLink) {
	s.t.Helper()
	if err := s.ls.SaveLink(s.ctx, source, l); err != nil {
		s.t.Fatalf("SaveLink(%s, %+v): %v", source, l, err)
	}
}

func id(s string) trove.EventID { return trove.EventID{ID: s} }

func testSaveLink(t *testing.T, k *kit) {
	s := k.open(t, "links")
	s.save(ev("src", "kit.note", `{}`))
	err := s.ls.SaveLink(s.ctx, id("missing"), lnk("parent", "src", 0))
	wantErr(t, "SaveLink from a missing source", err, trove.ErrNotFound)
	err = s.ls.SaveLink(s.ctx, trove.EventID{ID: "src", Version: 2}, lnk("parent", "src", 0))
	wantErr(t, "SaveLink from a missing version", err, trove.ErrNotFound)
	for name, l := range map[string]trove.EventLink{
		"no type":          lnk("", "x", 0),
		"no target":        lnk("parent", "", 0),
		"negative version": lnk("parent", "x", -1),
		"metadata array":   {Type: "parent", TargetEvent: id("x"), Metadata: json.RawMessage(`[1]`)},
	} {
		wantErr(t, "SaveLink with "+name, s.ls.SaveLink(s.ctx, id("src"), l), trove.ErrInvalid)
	}
	if got := s.links(id("src"), trove.LinkOptions{}); got != "[]" {
		t.Fatalf("links after refused saves: %s", got)
	}
	meta := trove.EventLink{Type: "cites", TargetEvent: id("dangling"), Metadata: json.RawMessage(`{"page": 3}`)}
	s.saveLink(id("src"), meta)
	got, err := s.ls.GetLinks(s.ctx, id("src"), trove.LinkOptions{})
	noErr(t, "GetLinks", err)
	if len(got) != 1 || got[0].Type != "cites" || got[0].TargetEvent != id("dangling") || !trove.JSONEqual(got[0].Metadata, meta.Metadata) ||
		got[0].SourceEvent == nil || *got[0].SourceEvent != (trove.EventID{ID: "src", Version: 1}) {
		t.Fatalf("GetLinks: %+v", got)
	}
	// A returned link is a copy.
	got[0].Metadata[1] = 'X'
	got[0].Type = "changed"
	again, _ := s.ls.GetLinks(s.ctx, id("src"), trove.LinkOptions{})
	if again[0].Type != "cites" || !trove.JSONEqual(again[0].Metadata, meta.Metadata) {
		t.Fatalf("changing a returned link changed the store: %+v", again[0])
	}
	// SaveLink does not change the event itself.
	if e := s.get("src", 0); len(e.Links) != 0 {
		t.Fatalf("event links after SaveLink: %+v (links added later are not part of the event)", e.Links)
	}
}

// testLinkSavedTwice: a link is a fact (source version, type, target);
// saving one the source version has, with the event or added before, is a
// no-op that keeps the first one's metadata, also after a reopen.
func testLinkSavedTwice(t *testing.T, k *kit) {
	s := k.open(t, "links")
	a := ev("a", "kit.note", `{}`)
	a.Links = []trove.EventLink{lnk("parent", "b", 0)}
	s.save(a)
	first := trove.EventLink{Type: "cites", TargetEvent: id("b"), Metadata: json.RawMessage(`{"n":1}`)}
	s.saveLink(id("a"), first)
	s.saveLink(id("a"), trove.EventLink{Type: "cites", TargetEvent: id("b"), Metadata: json.RawMessage(`{"n":2}`)})
	s.saveLink(id("a"), lnk("cites", "b", 0))
	s.saveLink(trove.EventID{ID: "a", Version: 1}, lnk("parent", "b", 0)) // saved with the event
	// Not the same fact: another type, another target version, another
	// source version.
	s.saveLink(id("a"), lnk("cites", "b", 1))
	s.saveLink(id("a"), lnk("tag", "b", 0))
	a2 := ev("a", "kit.note", `{}`)
	a2.ID.Version = 2
	s.save(a2)
	s.saveLink(id("a"), lnk("cites", "b", 0))
	s.saveLink(id("a"), lnk("cites", "b", 0))
	check := func(when string) {
		t.Helper()
		want := "[a@1>parent>b a@1>cites>b a@1>cites>b@1 a@1>tag>b]"
		if got := s.links(trove.EventID{ID: "a", Version: 1}, trove.LinkOptions{}); got != want {
			t.Fatalf("%s: links of a@1: %s, want %s", when, got, want)
		}
		if got := s.links(id("a"), trove.LinkOptions{}); got != "[a@2>cites>b]" {
			t.Fatalf("%s: links of a@2: %s", when, got)
		}
		got, err := s.ls.GetLinks(s.ctx, trove.EventID{ID: "a", Version: 1}, trove.LinkOptions{Type: "cites"})
		noErr(t, "GetLinks", err)
		if len(got) != 2 || !trove.JSONEqual(got[0].Metadata, first.Metadata) {
			t.Fatalf("%s: the first link's metadata is kept: %+v", when, got)
		}
		if got := s.links(id("b"), trove.LinkOptions{Direction: trove.Incoming}); got != "[a@1>parent>b a@1>cites>b a@1>cites>b@1 a@1>tag>b a@2>cites>b]" {
			t.Fatalf("%s: incoming links of b: %s", when, got)
		}
	}
	check("after saving")
	if k.b.Persistent {
		s.reopen()
		check("after a reopen")
	}
	// Concurrent adds of one new link store it once.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { s.saveLink(id("a"), lnk("many", "c", 0)) })
	}
	wg.Wait()
	if got := s.links(id("a"), trove.LinkOptions{Type: "many"}); got != "[a@2>many>c]" {
		t.Fatalf("concurrent adds of one link: %s", got)
	}
}

func testLinksOutgoing(t *testing.T, k *kit) {
	s := k.open(t, "links")
	a := ev("a", "kit.note", `{}`)
	a.Links = []trove.EventLink{lnk("parent", "b", 0), lnk("ref", "c", 0)}
	s.save(ev("b", "kit.note", `{}`))
	s.save(a)
	s.save(ev("c", "kit.note", `{}`))
	s.saveLink(id("a"), lnk("tag", "b", 0))
	s.saveLink(id("a"), lnk("parent", "d", 0))
	want := "[a@1>parent>b a@1>ref>c a@1>tag>b a@1>parent>d]"
	if got := s.links(id("a"), trove.LinkOptions{}); got != want {
		t.Fatalf("outgoing links: %s, want %s", got, want)
	}
	if got := s.links(id("a"), trove.LinkOptions{Direction: trove.Outgoing}); got != want {
		t.Fatalf("outgoing links (explicit direction): %s, want %s", got, want)
	}
	if got := s.links(id("a"), trove.LinkOptions{Type: "parent"}); got != "[a@1>parent>b a@1>parent>d]" {
		t.Fatalf("parent links: %s", got)
	}
	if got := s.links(id("a"), trove.LinkOptions{Type: "none"}); got != "[]" {
		t.Fatalf("links of an unused type: %s", got)
	}
	if got := s.links(id("b"), trove.LinkOptions{}); got != "[]" {
		t.Fatalf("links of an event without links: %s", got)
	}
	_, err := s.ls.GetLinks(s.ctx, id("missing"), trove.LinkOptions{})
	wantErr(t, "outgoing links of a missing event", err, trove.ErrNotFound)
	_, err = s.ls.GetLinkedEvents(s.ctx, id("missing"), trove.LinkOptions{})
	wantErr(t, "linked events of a missing event", err, trove.ErrNotFound)
}

func testLinksIncoming(t *testing.T, k *kit) {
	s := k.open(t, "links")
	in := trove.LinkOptions{Direction: trove.Incoming}
	s.save(ev("b", "kit.note", `{}`))
	a := ev("a", "kit.note", `{}`)
	a.Links = []trove.EventLink{lnk("parent", "b", 0), lnk("ref", "c", 0)}
	s.save(a)
	e := ev("e", "kit.note", `{}`)
	e.Links = []trove.EventLink{lnk("ref", "b", 0)}
	s.save(e)
	s.saveLink(id("a"), lnk("tag", "b", 0))
	s.saveLink(id("b"), lnk("self", "b", 0))
	want := "[a@1>parent>b e@1>ref>b a@1>tag>b b@1>self>b]"
	if got := s.links(id("b"), in); got != want {
		t.Fatalf("incoming links of b: %s, want %s", got, want)
	}
	if got := s.links(id("b"), trove.LinkOptions{Direction: trove.Incoming, Type: "ref"}); got != "[e@1>ref>b]" {
		t.Fatalf("incoming ref links of b: %s", got)
	}
	// Incoming links of an id nobody saved: the dangling target c has one,
	// an unknown id has none, and neither is an error.
	if got := s.links(id("c"), in); got != "[a@1>ref>c]" {
		t.Fatalf("incoming links of dangling c: %s", got)
	}
	if got := s.links(id("nobody"), in); got != "[]" {
		t.Fatalf("incoming links of an unknown id: %s", got)
	}
	if got := s.linked(id("b"), in); got != "[a e b]" {
		t.Fatalf("incoming linked events of b: %s, want [a e b]", got)
	}
	if got := s.linked(id("nobody"), in); got != "[]" {
		t.Fatalf("incoming linked events of an unknown id: %s", got)
	}
}

func testLinksVersions(t *testing.T, k *kit) {
	s := k.open(t, "links")
	in := trove.LinkOptions{Direction: trove.Incoming}
	s.save(ev("t", "kit.note", `{"v":1}`))
	t2 := ev("t", "kit.note", `{"v":2}`)
	t2.ID.Version = 2
	s.save(t2)
	a := ev("a", "kit.note", `{}`)
	a.Links = []trove.EventLink{lnk("any", "t", 0), lnk("pin1", "t", 1), lnk("pin2", "t", 2)}
	s.save(a)
	a2 := ev("a", "kit.note", `{"v":2}`)
	a2.ID.Version = 2
	a2.Links = []trove.EventLink{lnk("next", "t", 0)}
	s.save(a2)
	// Links go out from one exact version; Version 0 means the latest.
	if got := s.links(id("a"), trove.LinkOptions{}); got != "[a@2>next>t]" {
		t.Fatalf("links of a (latest): %s", got)
	}
	if got := s.links(trove.EventID{ID: "a", Version: 1}, trove.LinkOptions{}); got != "[a@1>any>t a@1>pin1>t@1 a@1>pin2>t@2]" {
		t.Fatalf("links of a@1: %s", got)
	}
	s.saveLink(id("a"), lnk("later", "t", 0))
	s.saveLink(trove.EventID{ID: "a", Version: 1}, lnk("old", "t", 0))
	if got := s.links(id("a"), trove.LinkOptions{}); got != "[a@2>next>t a@2>later>t]" {
		t.Fatalf("links of a after SaveLink to the latest: %s", got)
	}
	if got := s.links(trove.EventID{ID: "a", Version: 1}, trove.LinkOptions{Type: "old"}); got != "[a@1>old>t]" {
		t.Fatalf("links of a@1 after SaveLink to version 1: %s", got)
	}
	// Incoming: every link to the id; with a version, links pinned to
	// another version are left out.
	if got := s.links(id("t"), in); got != "[a@1>any>t a@1>pin1>t@1 a@1>pin2>t@2 a@2>next>t a@2>later>t a@1>old>t]" {
		t.Fatalf("incoming links of t: %s", got)
	}
	if got := s.links(trove.EventID{ID: "t", Version: 1}, in); got != "[a@1>any>t a@1>pin1>t@1 a@2>next>t a@2>later>t a@1>old>t]" {
		t.Fatalf("incoming links of t@1: %s", got)
	}
	// Linked events: the latest version unless the link pins one.
	if got := s.linked(trove.EventID{ID: "a", Version: 1}, trove.LinkOptions{Type: "pin1"}); got != "[t]" {
		t.Fatalf("events pinned by a@1: %s, want [t] (version 1)", got)
	}
	if got := s.linked(trove.EventID{ID: "a", Version: 1}, trove.LinkOptions{Type: "any"}); got != "[t@2]" {
		t.Fatalf("events linked by a@1 without a pin: %s, want [t@2]", got)
	}
	// Incoming linked events are the exact source versions, each once.
	if got := s.linked(id("t"), in); got != "[a a@2]" {
		t.Fatalf("sources linking to t: %s, want [a a@2]", got)
	}
	// Links keep working in queries for the version that has them.
	q := trove.EventQuery{Links: []trove.LinkCriterion{{Type: "pin1"}}}
	if got := ids(s.query(q)); got != "[]" {
		t.Fatalf("latest versions with a pin1 link: %s (a@2 has none)", got)
	}
	q.AllVersions = true
	if got := ids(s.query(q)); got != "[a]" {
		t.Fatalf("all versions with a pin1 link: %s", got)
	}
	q = trove.EventQuery{Links: []trove.LinkCriterion{{Type: "later"}}}
	if got := ids(s.query(q)); got != "[a@2]" {
		t.Fatalf("events with a later link: %s", got)
	}
}

func testLinkedEvents(t *testing.T, k *kit) {
	s := k.open(t, "links")
	for _, n := range []string{"b", "c", "e"} {
		s.save(ev(n, "kit.note", `{}`))
	}
	a := ev("a", "kit.note", `{}`)
	a.Links = []trove.EventLink{lnk("parent", "c", 0), lnk("ref", "gone", 0), lnk("ref", "b", 0), lnk("also", "c", 0)}
	s.save(a)
	s.saveLink(id("a"), lnk("tag", "b", 0))
	s.saveLink(id("a"), lnk("tag", "e", 0))
	s.saveLink(id("a"), lnk("tag", "a", 0))
	c2 := ev("c", "kit.note", `{"v":2}`)
	c2.ID.Version = 2
	s.save(c2)
	// Link order, each once, dangling skipped, latest versions.
	if got := s.linked(id("a"), trove.LinkOptions{}); got != "[c@2 b e a]" {
		t.Fatalf("linked events of a: %s, want [c@2 b e a]", got)
	}
	if got := s.linked(id("a"), trove.LinkOptions{Type: "tag"}); got != "[b e a]" {
		t.Fatalf("tag-linked events of a: %s", got)
	}
	if got := s.linked(id("a"), trove.LinkOptions{Type: "ref"}); got != "[b]" {
		t.Fatalf("ref-linked events of a: %s (gone dangles)", got)
	}
	if got := s.linked(id("b"), trove.LinkOptions{}); got != "[]" {
		t.Fatalf("linked events of b: %s", got)
	}
	// Returned events are whole events.
	evs, err := s.ls.GetLinkedEvents(s.ctx, id("a"), trove.LinkOptions{Type: "parent"})
	noErr(t, "GetLinkedEvents", err)
	if len(evs) != 1 {
		t.Fatalf("parent-linked: %s", ids(evs))
	}
	checkSame(t, "linked event", evs[0], s.get("c", 0))
	// A target saved after the link stops dangling.
	s.save(ev("gone", "kit.note", `{}`))
	if got := s.linked(id("a"), trove.LinkOptions{Type: "ref"}); got != "[gone b]" {
		t.Fatalf("ref-linked events once the target exists: %s", got)
	}
}
