package storagetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/trovedb/trove"
)

// Backend describes the backend under test.
type Backend struct {
	// Open makes (not initializes) the backend's plugin on dir: a fresh
	// temporary directory per subtest, the same dir again for reopen tests.
	// The kit calls Initialize(ctx, nil) and Shutdown.
	Open func(t testing.TB, dir string) trove.Plugin
	// Persistent says that Shutdown then Open on the same dir keeps
	// everything.
	Persistent bool
}

// Run runs the whole kit against b: every rule of the storage contract for
// the roles the plugin's Capabilities list and the optional capabilities it
// implements, then the model test. What does not apply is skipped with a
// message saying so.
func Run(t *testing.T, b Backend) {
	if b.Open == nil {
		t.Fatal("storagetest: Backend.Open is nil")
	}
	k := probe(t, b)
	t.Log("storagetest: " + k.summary())
	for _, g := range groups() {
		t.Run(g.name, func(t *testing.T) {
			for _, c := range g.tests {
				t.Run(c.name, func(t *testing.T) { c.fn(t, k) })
			}
		})
	}
}

type group struct {
	name  string
	tests []test
}

type test struct {
	name string
	fn   func(t *testing.T, k *kit)
}

func groups() []group {
	return []group{
		{"Save", saveTests()},
		{"Query", queryTests()},
		{"Files", fileTests()},
		{"Links", linkTests()},
		{"Refused", refusedTests()},
		{"Capabilities", capTests()},
		{"Lifecycle", lifecycleTests()},
		{"Numbers", numberTests()},
		{"Input", inputTests()},
		{"Model", modelTests()},
	}
}

// kit knows what the backend offers.
type kit struct {
	b       Backend
	name    string
	caps    map[trove.Capability]bool
	tx      bool
	batch   bool
	sub     bool
	replay  bool
	schemas bool
	deleter bool
}

func probe(t *testing.T, b Backend) *kit {
	t.Helper()
	p := b.Open(t, t.TempDir())
	k := &kit{b: b, name: p.Name(), caps: map[trove.Capability]bool{}}
	for _, c := range p.Capabilities() {
		k.caps[c] = true
	}
	_, k.tx = p.(trove.Transactional)
	_, k.batch = p.(trove.BatchSaver)
	_, k.sub = p.(trove.Subscriber)
	_, k.replay = p.(trove.Replayer)
	_, k.schemas = p.(trove.SchemaStore)
	_, k.deleter = p.(trove.FileDeleter)
	if k.caps[trove.CapEvents] {
		if _, ok := p.(trove.EventStorage); !ok {
			t.Fatalf("storagetest: %s lists %s but is no trove.EventStorage", k.name, trove.CapEvents)
		}
	}
	if k.caps[trove.CapFiles] {
		if _, ok := p.(trove.FileStorage); !ok {
			t.Fatalf("storagetest: %s lists %s but is no trove.FileStorage", k.name, trove.CapFiles)
		}
	}
	if k.caps[trove.CapLinks] {
		if _, ok := p.(trove.LinkStorage); !ok {
			t.Fatalf("storagetest: %s lists %s but is no trove.LinkStorage", k.name, trove.CapLinks)
		}
	}
	return k
}

func (k *kit) summary() string {
	var yes, no []string
	add := func(name string, ok bool) {
		if ok {
			yes = append(yes, name)
		} else {
			no = append(no, name)
		}
	}
	add(string(trove.CapEvents), k.caps[trove.CapEvents])
	add(string(trove.CapFiles), k.caps[trove.CapFiles])
	add(string(trove.CapLinks), k.caps[trove.CapLinks])
	add("Transactional", k.tx)
	add("BatchSaver", k.batch)
	add("Subscriber", k.sub)
	add("Replayer", k.replay)
	add("SchemaStore", k.schemas)
	add("FileDeleter", k.deleter)
	add("Persistent", k.b.Persistent)
	s := fmt.Sprintf("%s: testing %s", k.name, strings.Join(yes, ", "))
	if len(no) > 0 {
		s += "; not applicable: " + strings.Join(no, ", ")
	}
	return s
}

// needs skips t, visibly, unless the backend offers every named feature.
func (k *kit) needs(t testing.TB, features ...string) {
	t.Helper()
	for _, f := range features {
		var ok bool
		switch f {
		case "events":
			ok = k.caps[trove.CapEvents]
			f = string(trove.CapEvents)
		case "files":
			ok = k.caps[trove.CapFiles]
			f = string(trove.CapFiles)
		case "links":
			ok = k.caps[trove.CapLinks] && k.caps[trove.CapEvents]
			f = string(trove.CapLinks)
		case "Transactional":
			ok = k.tx
		case "BatchSaver":
			ok = k.batch
		case "Subscriber":
			ok = k.sub
		case "Replayer":
			ok = k.replay
		case "SchemaStore":
			ok = k.schemas
		case "FileDeleter":
			ok = k.deleter
		case "Persistent":
			ok = k.b.Persistent
		default:
			t.Fatalf("storagetest: unknown feature %q", f)
		}
		if !ok {
			t.Skipf("not applicable: %s has no %s", k.name, f)
		}
	}
}

// store is one opened, initialized plugin in its own directory.
type store struct {
	t   testing.TB
	k   *kit
	ctx context.Context
	dir string
	p   trove.Plugin
	ev  trove.EventStorage
	fs  trove.FileStorage
	ls  trove.LinkStorage
}

// open skips unless the backend offers features, then opens a fresh store
// that is shut down when the test ends.
func (k *kit) open(t testing.TB, features ...string) *store {
	t.Helper()
	k.needs(t, features...)
	s := &store{t: t, k: k, ctx: context.Background(), dir: t.TempDir()}
	s.start()
	return s
}

func (s *store) start() {
	s.t.Helper()
	p := s.k.b.Open(s.t, s.dir)
	if err := p.Initialize(s.ctx, nil); err != nil {
		s.t.Fatalf("Initialize: %v", err)
	}
	s.p = p
	s.ev, _ = p.(trove.EventStorage)
	s.fs, _ = p.(trove.FileStorage)
	s.ls, _ = p.(trove.LinkStorage)
	s.t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
}

// reopen shuts the plugin down and opens a new one on the same directory.
func (s *store) reopen() {
	s.t.Helper()
	if err := s.p.Shutdown(s.ctx); err != nil {
		s.t.Fatalf("Shutdown: %v", err)
	}
	s.start()
}

// save saves e and fails the test on error.
func (s *store) save(e trove.Event) trove.Event {
	s.t.Helper()
	out, err := s.ev.SaveEvent(s.ctx, e)
	if err != nil {
		s.t.Fatalf("SaveEvent(%s): %v", e.ID, err)
	}
	return out
}

// get returns an event and fails the test on error.
func (s *store) get(id string, version int) trove.Event {
	s.t.Helper()
	out, err := s.ev.GetEvent(s.ctx, trove.EventID{ID: id, Version: version})
	if err != nil {
		s.t.Fatalf("GetEvent(%s@%d): %v", id, version, err)
	}
	return out
}

// query runs q and fails the test on error.
func (s *store) query(q trove.EventQuery) []trove.Event {
	s.t.Helper()
	out, err := s.ev.QueryEvents(s.ctx, q)
	if err != nil {
		s.t.Fatalf("QueryEvents(%s): %v", queryString(q), err)
	}
	return out
}

// all returns every stored version, in position order.
func (s *store) all() []trove.Event {
	s.t.Helper()
	return s.query(trove.EventQuery{AllVersions: true})
}

func queryString(q trove.EventQuery) string {
	b, err := q.MarshalJSON()
	if err != nil {
		return fmt.Sprintf("%+v", q)
	}
	return string(b)
}

// wantErr fails unless err wraps target.
func wantErr(t testing.TB, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

// noErr fails on err.
func noErr(t testing.TB, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}
