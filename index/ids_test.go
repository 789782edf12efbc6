package index

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/trovedb/trove"
)

// idLog is a resolver over a test's own record of ids by position, which
// counts its calls.
type idLog struct {
	ids   []string
	calls int
}

func (l *idLog) at(pos uint32) (string, error) {
	l.calls++
	if pos == 0 || int(pos) > len(l.ids) {
		return "", fmt.Errorf("no position %d", pos)
	}
	return l.ids[pos-1], nil
}

// TestIDsSharedHash: ids whose hashes are all equal are still told apart,
// by their text (kept while not readable) or through IDAt; versions chain
// and LookupAt sees the index as it was; a snapshot keeps all of it.
func TestIDsSharedHash(t *testing.T) {
	for _, hash := range []func(string) uint64{
		func(string) uint64 { return 7 },                        // every id one hash
		func(id string) uint64 { return uint64(len(id)) << 40 }, // same fingerprint, different sub-tables
		nil, // the real hash
	} {
		log := &idLog{}
		ix := New(Options{IDAt: log.at})
		ix.st.ids.hashFn = hash
		var n uint32
		add := func(id string, v int) {
			t.Helper()
			n++
			log.ids = append(log.ids, id)
			if err := ix.AddBatch(n, []Doc{{ID: id, Version: v, Schema: "s", Producer: "p"}}); err != nil {
				t.Fatal(err)
			}
		}
		// Three rounds of versions over 40 ids; the first round stays
		// unreadable (pending text), the later ones are readable.
		for round := 1; round <= 3; round++ {
			for k := range 40 {
				add(fmt.Sprintf("id-%d", k), round)
			}
			if round >= 2 {
				ix.Readable(n)
			}
		}
		for k := range 40 {
			id := fmt.Sprintf("id-%d", k)
			for v := 1; v <= 3; v++ {
				want := uint32((v-1)*40 + k + 1)
				if p, ok := ix.Lookup(id, v); !ok || p != want {
					t.Fatalf("%s@%d: %d %v, want %d", id, v, p, ok, want)
				}
			}
			if p, ver, ok := ix.Latest(id); !ok || ver != 3 || p != uint32(80+k+1) {
				t.Fatalf("latest %s: %d %d %v", id, p, ver, ok)
			}
			// As of position 60: version 2 only for ids 0..19.
			p, ok := ix.LookupAt(id, 0, 60)
			if want := uint32(40 + k + 1); k < 20 && (!ok || p != want) || k >= 20 && (!ok || p != uint32(k+1)) {
				t.Fatalf("%s as of 60: %d %v", id, p, ok)
			}
		}
		if _, ok := ix.Lookup("id-40", 0); ok {
			t.Fatal("an id never added was found")
		}
		var buf bytes.Buffer
		if err := ix.Encode(&buf, nil); err != nil {
			t.Fatal(err)
		}
		ix2, _, err := DecodeWith("f", buf.Bytes(), Options{IDAt: log.at})
		if err != nil {
			t.Fatal(err)
		}
		ix2.st.ids.hashFn = hash
		ix2.Readable(n)
		for k := range 40 {
			if p, ok := ix2.Lookup(fmt.Sprintf("id-%d", k), 2); !ok || p != uint32(40+k+1) {
				t.Fatalf("decoded id-%d@2: %d %v", k, p, ok)
			}
		}
		ix.Close()
		ix2.Close()
		if _, ok := ix.Lookup("id-1", 0); ok {
			t.Fatal("a closed index found an id")
		}
		if err := ix.Add(n+1, Doc{ID: "x"}); err == nil {
			t.Fatal("a closed index accepted an add")
		}
	}
}

// TestIDsReadable: once positions are readable the index drops their text
// and asks IDAt; a failing IDAt fails the add instead of splitting an id.
func TestIDsReadable(t *testing.T) {
	log := &idLog{}
	ix := New(Options{IDAt: log.at})
	defer ix.Close()
	var docs []Doc
	for i := range 3000 {
		id := fmt.Sprintf("e-%d", i%1000)
		docs = append(docs, Doc{ID: id, Version: i/1000 + 1})
		log.ids = append(log.ids, id)
	}
	// One batch: versions 2 and 3 are verified against the batch's own
	// text, never through IDAt (nothing is readable yet).
	if err := ix.AddBatch(1, docs); err != nil {
		t.Fatal(err)
	}
	if log.calls != 0 || len(ix.st.pend.ends) != 3000 {
		t.Fatalf("IDAt called %d times, %d ids kept", log.calls, len(ix.st.pend.ends))
	}
	ix.Readable(2000)
	if len(ix.st.pend.ends) != 1000 || ix.st.pend.start != 2000 {
		t.Fatalf("after Readable(2000): %d ids kept from %d", len(ix.st.pend.ends), ix.st.pend.start)
	}
	if p, ok := ix.Lookup("e-5", 2); !ok || p != 1006 {
		t.Fatalf("e-5@2: %d %v", p, ok)
	}
	if p, ok := ix.LookupAt("e-5", 0, 1500); !ok || p != 1006 || log.calls == 0 {
		t.Fatalf("e-5 as of 1500: %d %v (%d calls)", p, ok, log.calls)
	}
	ix.Readable(5000) // beyond the last position: later adds keep nothing
	log.ids = append(log.ids, "e-7")
	if err := ix.Add(3001, Doc{ID: "e-7", Version: 4}); err != nil {
		t.Fatal(err)
	}
	if len(ix.st.pend.ends) != 0 {
		t.Fatalf("%d ids kept", len(ix.st.pend.ends))
	}
	if p, v, ok := ix.Latest("e-7"); !ok || p != 3001 || v != 4 {
		t.Fatalf("latest e-7: %d %d %v", p, v, ok)
	}
	broken := errors.New("disk gone")
	ix.opts.IDAt = func(uint32) (string, error) { return "", broken }
	if err := ix.Add(3002, Doc{ID: "e-8", Version: 5}); !errors.Is(err, broken) {
		t.Fatalf("add with a failing IDAt: %v", err)
	}
}

// TestGoldenOldRejected: snapshots of versions 1 to 3 are refused with
// ErrOldSnapshot (not damage), so that the engine rebuilds its index from
// the log once (version 2 spelled numbers' terms differently; version 3 had
// no trimmed prefix and no save point of added links); an unknown version
// is damage at the version field.
func TestGoldenOldRejected(t *testing.T) {
	for _, name := range []string{"v1.snap", "v2.snap", "v3.snap"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err = Decode(name, data); !errors.Is(err, ErrOldSnapshot) || errors.Is(err, trove.ErrCorrupt) {
			t.Fatalf("%s: %v", name, err)
		}
		for _, v := range []byte{0, 6, 0xff} {
			bad := bytes.Clone(data)
			bad[8] = v
			var ce *trove.CorruptionError
			if _, _, err = Decode(name, bad); !errors.As(err, &ce) || ce.Offset != 8 {
				t.Fatalf("%s as version %d: %v", name, v, err)
			}
		}
	}
}

// TestIDsAfterDecode: a decoded index (no id text) whose caller has
// declared only part of it readable keeps the text of what it adds next
// at the right positions.
func TestIDsAfterDecode(t *testing.T) {
	for _, readable := range []uint32{0, 60, 100, 200} {
		log := &idLog{}
		ix := New(Options{IDAt: log.at})
		add := func(ix *Index, id string, v int) {
			t.Helper()
			log.ids = append(log.ids, id)
			if err := ix.Add(uint32(len(log.ids)), Doc{ID: id, Version: v}); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 100 {
			add(ix, fmt.Sprintf("a-%d", i), 1)
		}
		ix.Readable(100)
		var buf bytes.Buffer
		if err := ix.Encode(&buf, nil); err != nil {
			t.Fatal(err)
		}
		ix.Close()
		ix, _, err := DecodeWith("f", buf.Bytes(), Options{IDAt: log.at})
		if err != nil {
			t.Fatal(err)
		}
		ix.Readable(readable)
		if readable == 0 {
			// Nothing readable: a new version of a-0 cannot be verified,
			// and is refused rather than taken for a new id.
			if err := ix.Add(101, Doc{ID: "a-0", Version: 2}); err == nil {
				t.Fatal("an unverifiable add was accepted")
			}
			if ix.Last() != 100 {
				t.Fatalf("last %d after a refused add", ix.Last())
			}
			ix.Close()
			continue
		}
		// Positions 101..150: version 2 of a-0..a-24, new ids b-0..b-24.
		for i := range 25 {
			add(ix, fmt.Sprintf("a-%d", i), 2)
			add(ix, fmt.Sprintf("b-%d", i), 1)
		}
		ix.Readable(readable) // again: nothing new is readable yet
		for i := range 25 {
			if p, v, ok := ix.Latest(fmt.Sprintf("a-%d", i)); !ok || v != 2 || p != uint32(101+2*i) {
				t.Fatalf("readable %d: latest a-%d: %d %d %v", readable, i, p, v, ok)
			}
			if p, ok := ix.Lookup(fmt.Sprintf("b-%d", i), 1); !ok || p != uint32(102+2*i) {
				t.Fatalf("readable %d: b-%d: %d %v", readable, i, p, ok)
			}
		}
		if readable >= 100 {
			if p, ok := ix.Lookup("a-70", 0); !ok || p != 71 {
				t.Fatalf("readable %d: a-70: %d %v", readable, p, ok)
			}
		}
		ix.Close()
	}
}

// TestTrimIDsInPlace: trimming deletes exactly the entries at or before
// the cut and leaves every other one where a probe finds it, in crowded
// sub-tables (few fingerprint bits, long clusters that wrap around), and
// leaves every sub-table its size.
func TestTrimIDsInPlace(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	var tab idTable
	model := map[uint64]uint32{} // sub<<32|fp → position
	pos := uint32(0)
	add := func(n int) {
		for range n {
			pos++
			sub, fp := r.IntN(4), uint32(r.IntN(1<<16))
			if _, ok := model[uint64(sub)<<32|uint64(fp)]; ok {
				continue
			}
			model[uint64(sub)<<32|uint64(fp)] = pos
			tab.insert(sub, fp, pos)
		}
	}
	check := func(cut uint32) {
		t.Helper()
		n := 0
		for k, p := range model {
			sub, fp := int(k>>32), uint32(k)
			_, got, found := tab.probe(sub, fp, func(q uint32) bool { return q == p })
			if p <= cut {
				if found {
					t.Fatalf("cut %d: entry at %d still found", cut, p)
				}
				continue
			}
			n++
			if !found || got != p {
				t.Fatalf("cut %d: entry at %d lost (found %v at %d)", cut, p, found, got)
			}
		}
		used := 0
		for sub := range tab.subs {
			st := &tab.subs[sub]
			used += st.used
			live := 0
			for _, v := range st.slots {
				if v != 0 {
					live++
				}
			}
			if live != st.used || st.used*5 > len(st.slots)*4 {
				t.Fatalf("sub-table %d: %d slots hold entries, used %d, %d slots", sub, live, st.used, len(st.slots))
			}
		}
		if used != n || tab.n != n {
			t.Fatalf("cut %d: %d entries used, table says %d, want %d", cut, used, tab.n, n)
		}
	}
	add(20000)
	for _, frac := range []int{10, 30, 31, 60, 90, 100} {
		cut := pos * uint32(frac) / 100
		var sizes [numSubs]int
		for sub := range tab.subs {
			sizes[sub] = len(tab.subs[sub].slots)
		}
		tab.trimIDs(cut)
		for sub := range tab.subs {
			if len(tab.subs[sub].slots) != sizes[sub] {
				t.Fatalf("cut %d: sub-table %d went from %d slots to %d", cut, sub, sizes[sub], len(tab.subs[sub].slots))
			}
		}
		for k, p := range model {
			if p <= cut {
				delete(model, k)
			}
		}
		check(cut)
		add(3000)
		check(cut)
	}
}
