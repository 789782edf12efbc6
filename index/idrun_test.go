package index

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"unsafe"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/trovedb/trove"
)

var updateIDRunGolden = flag.Bool("update-idrun", false, "rewrite testdata/idrun-v2.run")

// segIndexes builds consecutive segment indexes over docs, cut at the
// given sizes, with prevs chained across them.
func segIndexes(t testing.TB, docs []Doc, prevs []uint32, sizes ...int) []*SegIndex {
	t.Helper()
	var segs []*SegIndex
	first := 1
	for _, n := range sizes {
		data := buildSegIndex(t, uint32(first), docs[first-1:first-1+n], prevs[first-1:first-1+n])
		s, err := DecodeSegIndex(fmt.Sprintf("seg-%d", first), data)
		if err != nil {
			t.Fatal(err)
		}
		segs = append(segs, s)
		first += n
	}
	return segs
}

// chainedDocs returns n documents whose ids repeat across the whole range
// (versions chained through prevs from position 1).
func chainedDocs(r *rand.Rand, n int) (docs []Doc, prevs []uint32) {
	latest := map[string]uint32{}
	versions := map[string]int{}
	for i := range n {
		id := fmt.Sprintf("id-%d", r.IntN(n/2+1))
		versions[id]++
		docs = append(docs, Doc{ID: id, Version: versions[id], CreatedAt: 1_700_000_000_000 + int64(i),
			Schema: "s", Producer: "p", Payload: []byte(`{}`)})
		prevs = append(prevs, latest[id])
		latest[id] = uint32(i + 1)
	}
	return docs, prevs
}

func encodeRun(t testing.TB, srcs ...IDSourceOf) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := MergeIDRuns(&buf, srcs...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// checkRun compares a run's entries with the documents it covers: every
// (hash, position) once, in order, every id found by its candidates, the
// filter passing every id.
func checkRun(t *testing.T, r *IDRun, docs []Doc, first, last uint32) {
	t.Helper()
	if r.First() != first || r.Last() != last {
		t.Fatalf("run covers %d-%d, want %d-%d", r.First(), r.Last(), first, last)
	}
	type entry struct {
		h   uint64
		pos uint32
	}
	var want []entry
	for p := first; p <= last; p++ {
		want = append(want, entry{segIDHash(docs[p-1].ID), p})
	}
	slices.SortFunc(want, func(a, b entry) int {
		if a.h != b.h {
			return cmpU64(a.h, b.h)
		}
		return int(a.pos) - int(b.pos)
	})
	if len(r.hash) != len(want) {
		t.Fatalf("%d entries, want %d", len(r.hash), len(want))
	}
	for i, e := range want {
		if r.hash[i] != e.h || r.pos[i] != e.pos {
			t.Fatalf("entry %d: %x@%d, want %x@%d", i, r.hash[i], r.pos[i], e.h, e.pos)
		}
	}
	for p := first; p <= last; p++ {
		h := segIDHash(docs[p-1].ID)
		if !r.filter.has(h) {
			t.Fatalf("the filter rules out the id at %d", p)
		}
		var got []uint32
		idCandidates(r.hash, r.pos, r.fence, h, ^uint32(0), func(q uint32) bool { got = append(got, q); return false })
		if !slices.Contains(got, p) || !slices.IsSortedFunc(got, func(a, b uint32) int { return int(b) - int(a) }) {
			t.Fatalf("candidates of the id at %d: %v (newest first)", p, got)
		}
		got = got[:0]
		idCandidates(r.hash, r.pos, r.fence, h, p-1, func(q uint32) bool { got = append(got, q); return false })
		if slices.ContainsFunc(got, func(q uint32) bool { return q >= p }) {
			t.Fatalf("candidates up to %d: %v", p-1, got)
		}
		// The run's own lookup (read from the file when mapped) agrees.
		for _, upTo := range []uint32{^uint32(0), p - 1, p} {
			var want, fromRun []uint32
			idCandidates(r.hash, r.pos, r.fence, h, upTo, func(q uint32) bool { want = append(want, q); return false })
			if _, err := r.candidates(h, upTo, func(q uint32) bool { fromRun = append(fromRun, q); return false }); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(fromRun, want) {
				t.Fatalf("id at %d, up to %d: the run's lookup gives %v, want %v", p, upTo, fromRun, want)
			}
		}
	}
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// TestIDRunMerge merges segment indexes into runs, and runs with segment
// indexes into larger runs: each decodes, mapped and read, to exactly the
// entries of the positions it covers.
func TestIDRunMerge(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	docs, prevs := chainedDocs(r, 900)
	segs := segIndexes(t, docs, prevs, 100, 150, 1, 249, 200, 200)
	a, err := DecodeIDRun("a", encodeRun(t, SegSource(segs[0]), SegSource(segs[1]), SegSource(segs[2])))
	if err != nil {
		t.Fatal(err)
	}
	checkRun(t, a, docs, 1, 251)
	b, err := DecodeIDRun("b", encodeRun(t, RunSource(a), SegSource(segs[3]), SegSource(segs[4])))
	if err != nil {
		t.Fatal(err)
	}
	checkRun(t, b, docs, 1, 700)
	// One source; the same bytes from runs as from their segments.
	one, err := DecodeIDRun("one", encodeRun(t, SegSource(segs[5])))
	if err != nil {
		t.Fatal(err)
	}
	checkRun(t, one, docs, 701, 900)
	all := encodeRun(t, RunSource(b), RunSource(one))
	var srcs []IDSourceOf
	for _, s := range segs {
		srcs = append(srcs, SegSource(s))
	}
	if !bytes.Equal(all, encodeRun(t, srcs...)) {
		t.Fatal("merging runs and merging their segments differ")
	}
	path := t.TempDir() + "/all.run"
	if err := os.WriteFile(path, all, 0o640); err != nil {
		t.Fatal(err)
	}
	for name, open := range map[string]func(string) (*IDRun, error){"mapped": OpenIDRun, "read": ReadIDRun} {
		run, err := open(path)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		checkRun(t, run, docs, 1, 900)
		if !bytes.Equal(run.Bytes(), all) || run.Size() != len(all) {
			t.Fatalf("%s: bytes differ", name)
		}
		if err := run.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// Sources must be consecutive and non-empty.
	var buf bytes.Buffer
	if err := MergeIDRuns(&buf, SegSource(segs[0]), SegSource(segs[2])); err == nil {
		t.Fatal("a merge of sources with a gap succeeded")
	}
	if err := MergeIDRuns(&buf); err == nil {
		t.Fatal("a merge of nothing succeeded")
	}
	if _, err := OpenIDRun(path + ".missing"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("open of a missing run: %v", err)
	}
}

// fixIDRunCRCs recomputes a run's checksums after a test changed it.
func fixIDRunCRCs(data []byte) {
	if len(data) < idRunHeaderSize+idRunTrailer {
		return
	}
	binary.LittleEndian.PutUint32(data[28:], crc32.Checksum(data[:28], castagnoli))
	first, last := binary.LittleEndian.Uint32(data[12:]), binary.LittleEndian.Uint32(data[16:])
	if last < first {
		return
	}
	n := uint64(last-first) + 1
	words := uint64(binary.LittleEndian.Uint32(data[20:]))
	tr := data[len(data)-idRunTrailer:]
	off := uint64(idRunHeaderSize)
	for k, size := range []uint64{8 * n, (4*n + 7) &^ 7, 8 * words} {
		if size > uint64(len(data)) || off+size > uint64(len(data)-idRunTrailer) {
			return
		}
		binary.LittleEndian.PutUint32(tr[4*k:], crc32.Checksum(data[off:off+size], castagnoli))
		off += size
	}
	binary.LittleEndian.PutUint32(tr[12:], crc32.Checksum(tr[:12], castagnoli))
}

// TestIDRunCorruption: every kind of damage is a CorruptionError at the
// right offset, never a panic or a run that answers wrongly.
func TestIDRunCorruption(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	docs, prevs := chainedDocs(r, 300)
	segs := segIndexes(t, docs, prevs, 120, 180)
	good := encodeRun(t, SegSource(segs[0]), SegSource(segs[1]))
	n := 300
	posOff := idRunHeaderSize + 8*n
	filterOff := posOff + 4*n
	cases := []struct {
		name   string
		change func([]byte) []byte
		fix    bool
		offset int64
	}{
		{"empty", func([]byte) []byte { return nil }, false, 0},
		{"truncated", func(b []byte) []byte { return b[:len(b)-1] }, false, 0},
		{"magic", func(b []byte) []byte { b[0] = 'X'; return b }, false, 0},
		{"version", func(b []byte) []byte { b[8] = 3; return b }, false, 8},
		{"version 0", func(b []byte) []byte { b[8] = 0; return b }, false, 8},
		{"header CRC", func(b []byte) []byte { b[13] ^= 1; return b }, false, 28},
		{"hash section", func(b []byte) []byte { b[idRunHeaderSize+5] ^= 1; return b }, false, idRunHeaderSize},
		{"position section", func(b []byte) []byte { b[posOff+1] ^= 1; return b }, false, int64(posOff)},
		{"filter section", func(b []byte) []byte { b[filterOff+3] ^= 1; return b }, false, int64(filterOff)},
		{"trailer", func(b []byte) []byte { b[len(b)-3] ^= 1; return b }, false, -1},
		{"range", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[12:], 0); return b }, true, 12},
		{"filter size", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[20:], 8); return b }, true, 20},
		{"filter bits too few", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[24:], minFilterBits-1); return b }, true, 24},
		{"filter bits too many", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[24:], maxFilterBits+1); return b }, true, 24},
		{"filter bits other than its size", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[24:], 16); return b }, true, 20},
		{"version 1 with version 2's filter", func(b []byte) []byte { b[8] = 1; return b }, true, 24},
		{"order", func(b []byte) []byte {
			binary.LittleEndian.PutUint64(b[idRunHeaderSize:], ^uint64(0))
			return b
		}, true, -1},
		{"position outside", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[posOff:], 301); return b }, true, -1},
	}
	for _, c := range cases {
		data := c.change(bytes.Clone(good))
		if c.fix {
			fixIDRunCRCs(data)
		}
		_, err := DecodeIDRun("damaged.run", data)
		var ce *trove.CorruptionError
		if !errors.As(err, &ce) || ce.File != "damaged.run" {
			t.Fatalf("%s: %v, want a CorruptionError", c.name, err)
		}
		if c.offset >= 0 && ce.Offset != c.offset {
			t.Errorf("%s: offset %d, want %d (%v)", c.name, ce.Offset, c.offset, err)
		}
		if c.name == "trailer" && ce.Offset != int64(len(data)-4) {
			t.Errorf("trailer: offset %d, want %d", ce.Offset, len(data)-4)
		}
		// Opened from a file, mapped (checked on a copy) or read.
		if len(data) == 0 {
			continue
		}
		path := filepath.Join(t.TempDir(), "damaged.run")
		if err := os.WriteFile(path, data, 0o640); err != nil {
			t.Fatal(err)
		}
		// Every way reports the damage as DecodeIDRun does; a run too
		// large for a copy is checked from its file (checkIDRunFile).
		for name, open := range map[string]func(string) (*IDRun, error){"mapped": OpenIDRun, "read": ReadIDRun,
			"mapped, checked from the file": func(p string) (*IDRun, error) { return inPlace(OpenIDRun, p) }} {
			var oe *trove.CorruptionError
			if _, err := open(path); !errors.As(err, &oe) || oe.File != path || oe.Offset != ce.Offset || oe.Reason != ce.Reason {
				t.Fatalf("%s: %s: %v, want a CorruptionError naming the file, as %v", c.name, name, err, ce)
			}
		}
	}
}

// TestIDRunGolden pins the run format: the encoder writes the checked-in
// bytes, which decode to the documents' entries; a version 1 run (written
// before the filter's size was in the header) still opens and answers.
func TestIDRunGolden(t *testing.T) {
	const golden, v1 = "testdata/idrun-v2.run", "testdata/idrun-v1.run"
	r := rand.New(rand.NewPCG(42, 43))
	docs, prevs := chainedDocs(r, 200)
	segs := segIndexes(t, docs, prevs, 70, 130)
	data := encodeRun(t, SegSource(segs[0]), SegSource(segs[1]))
	if *updateIDRunGolden {
		if err := os.WriteFile(golden, data, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	old, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(old, data) {
		t.Fatal("the merge no longer writes the golden file's bytes: a format change needs a new version")
	}
	for _, path := range []string{golden, v1} {
		for name, open := range map[string]func(string) (*IDRun, error){"mapped": OpenIDRun, "read": ReadIDRun} {
			run, err := open(path)
			if err != nil {
				t.Fatalf("%s, %s: %v", path, name, err)
			}
			checkRun(t, run, docs, 1, 200)
			run.Close()
		}
	}
	// The version 1 file: same entries, a filter of 16 bits an entry, the
	// field after the filter's size zero (and nothing else accepted there).
	b1, err := os.ReadFile(v1)
	if err != nil {
		t.Fatal(err)
	}
	if binary.LittleEndian.Uint32(b1[8:]) != 1 || binary.LittleEndian.Uint32(b1[24:]) != 0 ||
		binary.LittleEndian.Uint32(b1[20:]) != uint32(filterWordsFor(200, 16)) {
		t.Fatal("testdata/idrun-v1.run is not a version 1 run")
	}
	if !bytes.Equal(b1[idRunHeaderSize:idRunHeaderSize+12*200], data[idRunHeaderSize:idRunHeaderSize+12*200]) {
		t.Fatal("versions 1 and 2 hold different entries")
	}
	binary.LittleEndian.PutUint32(b1[24:], 16)
	fixIDRunCRCs(b1)
	var ce *trove.CorruptionError
	if _, err := DecodeIDRun("v1", b1); !errors.As(err, &ce) || ce.Offset != 24 {
		t.Fatalf("version 1 with a filter size in its zero field: %v, want a CorruptionError at 24", err)
	}
}

func FuzzDecodeIDRun(f *testing.F) {
	r := rand.New(rand.NewPCG(5, 6))
	docs, prevs := chainedDocs(r, 60)
	segs := segIndexes(f, docs, prevs, 25, 35)
	good := encodeRun(f, SegSource(segs[0]), SegSource(segs[1]))
	f.Add(good, false)
	f.Add(good[:40], true)
	f.Add([]byte(idRunMagic), false)
	for _, g := range []string{"testdata/idrun-v1.run", "testdata/idrun-v2.run"} {
		if b, err := os.ReadFile(g); err == nil {
			f.Add(b, false)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, fix bool) {
		data = slices.Clone(data)
		if fix {
			fixIDRunCRCs(data)
		}
		run, err := DecodeIDRun("fuzz", data)
		if err != nil {
			if !errors.Is(err, trove.ErrCorrupt) {
				t.Fatalf("error %v is not a corruption error", err)
			}
			return
		}
		// A decoded run answers inside its range.
		for _, id := range []string{"id-1", "id-2", "x"} {
			idCandidates(run.hash, run.pos, run.fence, segIDHash(id), ^uint32(0), func(p uint32) bool {
				if p < run.First() || p > run.Last() {
					t.Fatalf("candidate %d outside %d-%d", p, run.First(), run.Last())
				}
				return false
			})
			_ = run.filter.has(segIDHash(id))
		}
	})
}

// TestSealedIDLookups runs an index against a model: ids with many
// versions, segments handed over at random points (their ids then found in
// the segment indexes), runs merging some of them, snapshots taken and
// decoded along the way. Every lookup by id, by version and as of an
// earlier position answers as the model does, and the id table holds only
// the head's ids.
func TestSealedIDLookups(t *testing.T) {
	smallTrimSteps(t)
	for seed := range uint64(4) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { sealedIDModel(t, seed) })
	}
}

func sealedIDModel(t *testing.T, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 99))
	log := &idLog{}
	ix := New(Options{IDAt: log.at})
	defer func() { ix.Close() }()
	h := newIDHead(log)
	var segs []*SegIndex
	var runs []*IDRun
	sealedTo := uint32(0)
	// lookup is the model: the position of id's version (latest when 0)
	// among positions up to last.
	lookup := func(id string, version int, last uint32) (uint32, bool) {
		var best uint32
		for p := uint32(1); p <= last && int(p) <= len(h.docs); p++ {
			d := h.docs[p-1]
			if d.ID == id && (version == 0 || d.Version == version) {
				best = p
			}
		}
		return best, best != 0
	}
	check := func(what string) {
		t.Helper()
		n := uint32(len(h.docs))
		for range 200 {
			id := fmt.Sprintf("id-%d", r.IntN(60))
			version := r.IntN(4)
			last := n
			if r.IntN(3) == 0 {
				last = uint32(r.IntN(int(n) + 1))
			}
			wp, wok := lookup(id, version, last)
			gp, gok := ix.LookupAt(id, version, last)
			if wp != gp || wok != gok {
				t.Fatalf("%s: lookup %s v%d up to %d: %d %v, want %d %v", what, id, version, last, gp, gok, wp, wok)
			}
			// FindWith reads ids through the caller's function alone, and
			// answers the same; when every read fails, it finds nothing
			// that exists and says why.
			calls, reads := log.calls, 0
			fp, fok, err := ix.FindWith(id, version, last, func(p uint32) (string, error) {
				reads++
				return log.ids[p-1], nil
			})
			if err != nil || fp != wp || fok != wok {
				t.Fatalf("%s: FindWith %s v%d up to %d: %d %v %v, want %d %v", what, id, version, last, fp, fok, err, wp, wok)
			}
			if log.calls != calls || wok && reads == 0 {
				t.Fatalf("%s: FindWith %s read %d ids through IDAt and %d through its own function", what, id, log.calls-calls, reads)
			}
			if _, ok, err := ix.FindWith(id, version, last, func(uint32) (string, error) { return "", errors.New("unreadable") }); wok && (ok || err == nil) {
				t.Fatalf("%s: FindWith %s with failing reads: found %v, error %v", what, id, ok, err)
			}
		}
		// Once trimmed, the id table holds exactly the ids whose latest
		// version is in the head; while a trim runs, some of the others.
		headIDs := 0
		for _, p := range h.latest {
			if p > ix.Trimmed() {
				headIDs++
			}
		}
		if ix.st.idsLeft == 0 && ix.st.ids.n != headIDs || ix.st.ids.n < headIDs || ix.st.ids.n > len(h.latest) {
			t.Fatalf("%s: the id table holds %d ids, the head %d (%d sub-tables to trim)", what, ix.st.ids.n, headIDs, ix.st.idsLeft)
		}
	}
	for step := range 40 {
		// Add a batch.
		for range 1 + r.IntN(40) {
			h.add(t, ix, fmt.Sprintf("id-%d", r.IntN(50)), nil)
		}
		ix.Readable(uint32(len(h.docs)))
		// Seal what is not sealed yet, sometimes.
		if n := uint32(len(h.docs)); r.IntN(2) == 0 && n > sealedTo {
			first := sealedTo + 1
			data := buildSegIndex(t, first, h.docs[first-1:], h.prevs[first-1:])
			s, err := DecodeSegIndex("seg", data)
			if err != nil {
				t.Fatal(err)
			}
			segs = append(segs, s)
			sealedTo = n
			ix.SetSegments(segs)
			// Part of the trim, then the rest: the answers hold
			// throughout.
			for range r.IntN(3) {
				ix.TrimStep()
			}
			check(fmt.Sprintf("step %d, trim under way", step))
			for ix.TrimStep() {
			}
		}
		// Merge the sources after the last run, sometimes.
		if r.IntN(3) == 0 {
			var upTo uint32
			if len(runs) > 0 {
				upTo = runs[len(runs)-1].Last()
			}
			var srcs []IDSourceOf
			for _, s := range segs {
				if s.First() > upTo {
					srcs = append(srcs, SegSource(s))
				}
			}
			if len(srcs) > 1 {
				run, err := DecodeIDRun("run", encodeRun(t, srcs...))
				if err != nil {
					t.Fatal(err)
				}
				runs = append(runs, run)
				ix.SetIDRuns(runs)
				if got := ix.IDRuns(); len(got) != len(runs) {
					t.Fatalf("the index uses %d of %d runs", len(got), len(runs))
				}
			}
		}
		check(fmt.Sprintf("step %d", step))
		// A snapshot round trip, sometimes: the decoded index answers the
		// same once it has the segment indexes and runs.
		if r.IntN(4) == 0 {
			dec := snapRoundTrip(t, fmt.Sprintf("step %d", step), ix.Encode, log.at)
			dec.Readable(uint32(len(h.docs)))
			dec.SetIDRuns(runs)
			dec.SetSegments(segs)
			ix.Close()
			ix = dec
			check(fmt.Sprintf("step %d, decoded", step))
		}
	}
}

// smallTrimSteps makes TrimStep's batches a few sub-tables and links for
// the test, so that a trim takes several steps.
func smallTrimSteps(t *testing.T) {
	slots, links := trimStepSlots, trimStepLinks
	trimStepSlots, trimStepLinks = 64, 2
	t.Cleanup(func() { trimStepSlots, trimStepLinks = slots, links })
}

// TestTrimInSteps: while TrimStep drops the sealed ids and own links of
// the head a batch at a time, every answer stays what it is after the
// trim, and a snapshot frozen halfway holds the head alone.
func TestTrimInSteps(t *testing.T) {
	smallTrimSteps(t)
	r := rand.New(rand.NewPCG(7, 7))
	log := &idLog{}
	ix := New(Options{IDAt: log.at})
	defer ix.Close()
	h := newIDHead(log)
	var segs []*SegIndex
	var sealedTo uint32
	for step := range 12 {
		for range 20 + r.IntN(40) {
			var links []trove.EventLink
			for range r.IntN(3) {
				links = append(links, trove.EventLink{Type: "t", TargetEvent: trove.EventID{ID: fmt.Sprintf("target-%d", r.IntN(10))}})
			}
			pos := h.add(t, ix, fmt.Sprintf("id-%d", r.IntN(80)), links)
			if r.IntN(10) == 0 {
				ix.AddLink(uint32(1+r.IntN(int(pos))), trove.EventLink{Type: "added", TargetEvent: trove.EventID{ID: "target-0"}})
			}
		}
		ix.Readable(uint32(len(h.docs)))
		n := uint32(len(h.docs))
		s, err := DecodeSegIndex("seg", buildSegIndex(t, sealedTo+1, h.docs[sealedTo:], h.prevs[sealedTo:]))
		if err != nil {
			t.Fatal(err)
		}
		segs = append(segs, s)
		sealedTo = n
		// The answers of a fully trimmed index, from a twin.
		want := func(target string) (own []uint32, added []LinkRef) {
			sealed, refs := ix.Incoming(target)
			if sealed == nil {
				sealed = roaring.New()
			}
			for _, p := range sealed.ToArray() {
				for _, l := range h.docs[p-1].Links {
					if l.TargetEvent.ID == target {
						own = append(own, p)
					}
				}
			}
			for _, ref := range refs {
				if ref.Slot >= 0 {
					if ref.Source <= ix.Trimmed() {
						t.Fatalf("step %d: Incoming(%s) lists own link of %d, in the trimmed prefix %d", step, target, ref.Source, ix.Trimmed())
					}
					own = append(own, ref.Source)
				} else {
					added = append(added, ref)
				}
			}
			return own, added
		}
		before := map[string][2]any{}
		for k := range 10 {
			target := fmt.Sprintf("target-%d", k)
			own, added := want(target)
			before[target] = [2]any{own, added}
		}
		ix.SetSegments(segs)
		var frozen *Frozen
		for k := 0; ; k++ {
			for target, w := range before {
				own, added := want(target)
				if fmt.Sprint(own) != fmt.Sprint(w[0]) || fmt.Sprint(added) != fmt.Sprint(w[1]) {
					t.Fatalf("step %d, trim step %d: Incoming(%s): own %v added %v, want %v %v", step, k, target, own, added, w[0], w[1])
				}
			}
			for id, p := range h.latest {
				if got, ok := ix.Lookup(id, 0); !ok || got != p {
					t.Fatalf("step %d, trim step %d: Lookup(%s) = %d %v, want %d", step, k, id, got, ok, p)
				}
			}
			if k == 1 {
				if frozen, err = ix.Freeze(); err != nil {
					t.Fatal(err)
				}
			}
			if !ix.TrimStep() {
				break
			}
		}
		if frozen != nil {
			snapRoundTrip(t, fmt.Sprintf("step %d, a snapshot frozen during a trim", step), frozen.Encode, log.at).Close()
		}
	}
}

// snapRoundTrip writes a snapshot with encode and decodes it, with ids
// read through idAt.
func snapRoundTrip(t *testing.T, what string, encode func(io.Writer, []byte) error, idAt func(uint32) (string, error)) *Index {
	t.Helper()
	var buf bytes.Buffer
	if err := encode(&buf, nil); err != nil {
		t.Fatalf("%s: encode: %v", what, err)
	}
	dec, _, err := DecodeWith("snap", buf.Bytes(), Options{IDAt: idAt})
	if err != nil {
		t.Fatalf("%s: decode: %v", what, err)
	}
	return dec
}

// idHead is the documents an id test adds to ix, with the ids' previous
// and latest positions, to check the index against.
type idHead struct {
	log      *idLog
	docs     []Doc
	prevs    []uint32
	latest   map[string]uint32
	versions map[string]int
}

func newIDHead(log *idLog) *idHead {
	return &idHead{log: log, latest: map[string]uint32{}, versions: map[string]int{}}
}

// add adds the next version of id, with links, to ix at the next
// position, which it returns.
func (h *idHead) add(t *testing.T, ix *Index, id string, links []trove.EventLink) uint32 {
	t.Helper()
	h.versions[id]++
	pos := uint32(len(h.docs) + 1)
	d := Doc{ID: id, Version: h.versions[id], CreatedAt: int64(pos), Schema: "s", Producer: "p", Links: links, Payload: []byte(`{"k":1}`)}
	h.docs = append(h.docs, d)
	h.prevs = append(h.prevs, h.latest[id])
	h.latest[id] = pos
	h.log.ids = append(h.log.ids, id)
	if err := ix.Add(pos, d); err != nil {
		t.Fatal(err)
	}
	return pos
}

// TestIDRunLookupAcrossWindows: an id whose entries span several of the
// fence's windows (an id saved in hundreds of versions) is found whole,
// newest first, by a run read from its file as in memory; a lookup stops
// at the first candidate its caller accepts.
func TestIDRunLookupAcrossWindows(t *testing.T) {
	var docs []Doc
	var prevs []uint32
	latest, versions := map[string]uint32{}, map[string]int{}
	for i := range 1500 {
		id := fmt.Sprintf("u-%d", i)
		if i%2 == 0 && i < 1400 {
			id = "hot"
		}
		versions[id]++
		docs = append(docs, Doc{ID: id, Version: versions[id], CreatedAt: 1_700_000_000_000 + int64(i),
			Schema: "s", Producer: "p", Payload: []byte(`{}`)})
		prevs = append(prevs, latest[id])
		latest[id] = uint32(i + 1)
	}
	segs := segIndexes(t, docs, prevs, 900, 600)
	data := encodeRun(t, SegSource(segs[0]), SegSource(segs[1]))
	mapped, path := openRunFile(t, "hot.run", data)
	if mapped.f == nil {
		t.Fatal("a mapped run without its file")
	}
	mem, err := DecodeIDRun("hot", data)
	if err != nil {
		t.Fatal(err)
	}
	h := segIDHash("hot")
	for _, run := range []*IDRun{mapped, mem} {
		checkRun(t, run, docs, 1, 1500)
		var got []uint32
		if _, err := run.candidates(h, ^uint32(0), func(p uint32) bool { got = append(got, p); return false }); err != nil {
			t.Fatal(err)
		}
		if len(got) != 700 || got[0] != 1399 || got[699] != 1 {
			t.Fatalf("hot: %d candidates, %v … %v", len(got), got[:min(3, len(got))], got[max(0, len(got)-3):])
		}
		n := 0
		ok, err := run.candidates(h, 1000, func(p uint32) bool { n++; return p == 901 })
		if err != nil || !ok || n != 50 {
			t.Fatalf("hot up to 1000, stopping at 901: %v %v after %d candidates, want 50", ok, err, n)
		}
	}
	// A run whose file shrank under it reports the damage.
	if err := os.Truncate(path, int64(idRunHeaderSize+8*100)); err != nil {
		t.Fatal(err)
	}
	_, err = mapped.candidates(h, ^uint32(0), func(uint32) bool { return false })
	var ce *trove.CorruptionError
	if !errors.As(err, &ce) || ce.File != path {
		t.Fatalf("lookup in a truncated run: %v, want a CorruptionError naming it", err)
	}
}

// A mapped run keeps its filter in the heap, not in its map: every lookup
// probes it, and a page of the map can leave the page cache. prefetch,
// which only hints the kernel, accepts any hash, and lookups after it
// answer as before.
func TestMappedRunFilterAndPrefetch(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	docs, prevs := chainedDocs(r, 1200)
	segs := segIndexes(t, docs, prevs, 700, 500)
	data := encodeRun(t, SegSource(segs[0]), SegSource(segs[1]))
	run, _ := openRunFile(t, "f.run", data)
	if run.mapped {
		lo := uintptr(unsafe.Pointer(unsafe.SliceData(run.data)))
		at := uintptr(unsafe.Pointer(unsafe.SliceData(run.filter)))
		if at >= lo && at < lo+uintptr(len(run.data)) {
			t.Fatal("a mapped run's filter reads its map")
		}
		for _, h := range []uint64{0, 1, run.hash[0], run.hash[len(run.hash)/2], run.hash[len(run.hash)-1], ^uint64(0)} {
			run.prefetch(h)
		}
	}
	mem, err := DecodeIDRun("f", data)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(run.filter, mem.filter) {
		t.Fatal("the mapped run's filter differs from the file's")
	}
	checkRun(t, run, docs, 1, 1200)
}

// A mapped run's filter is read from its file after the run was checked:
// bytes that changed in between are damage, not a filter.
func TestMappedRunFilterChanged(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	docs, prevs := chainedDocs(r, 400)
	segs := segIndexes(t, docs, prevs, 400)
	data := encodeRun(t, SegSource(segs[0]))
	run, path := openRunFile(t, "c.run", data)
	if !run.mapped {
		t.Skip("runs are not mapped on this platform")
	}
	if err := run.copyFilter(); err != nil {
		t.Fatalf("copying an unchanged filter: %v", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	at := int64(len(data) - idRunTrailer - 8*len(run.filter) + 3)
	if _, err := f.WriteAt([]byte{data[at] ^ 0x10}, at); err != nil {
		t.Fatal(err)
	}
	f.Close()
	var ce *trove.CorruptionError
	if err := run.copyFilter(); !errors.As(err, &ce) || ce.File != path {
		t.Fatalf("copying a changed filter: %v, want a CorruptionError naming the run", err)
	}
}

// openRunFile writes data to a file named name in a fresh directory and
// opens it with OpenIDRun (closed when the test ends); it returns the run
// and the file's path.
func openRunFile(t *testing.T, name string, data []byte) (*IDRun, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o640); err != nil {
		t.Fatal(err)
	}
	run, err := OpenIDRun(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { run.Close() })
	return run, path
}
