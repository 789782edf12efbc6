package index

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/trovedb/trove"
)

var updateKeyRunGolden = flag.Bool("update-keyrun", false, "rewrite testdata/keyrun-v1.run")

// keyRunSegs returns n segment indexes of per documents each, from
// position 1, of the versions in turn.
func keyRunSegs(t testing.TB, r *rand.Rand, n, per int, versions ...uint32) ([]*SegIndex, []Doc) {
	t.Helper()
	var segs []*SegIndex
	var all []Doc
	for i := range n {
		first := uint32(i*per + 1)
		docs, prevs := segDocs(r, first, per)
		for k := range docs {
			docs[k].ID = fmt.Sprintf("%d-%s", first, docs[k].ID) // ids unique per segment
			docs[k].Version, prevs[k] = 1, 0
		}
		s, err := DecodeSegIndex(fmt.Sprintf("seg-%d", i), buildSegIndexVersion(t, versions[i%len(versions)], first, docs, prevs))
		if err != nil {
			t.Fatal(err)
		}
		segs = append(segs, s)
		all = append(all, docs...)
	}
	return segs, all
}

func writeKeyRun(t testing.TB, segs []*SegIndex) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteKeyRun(&buf, segs); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestKeyRunCandidates: every key of every segment index of a run is a
// candidate of its segment (no false negatives), for segment indexes of
// every version and runs of 1 to 64 segments; most absent keys are no
// one's candidate.
func TestKeyRunCandidates(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	segs, _ := keyRunSegs(t, r, MaxKeyRunSegments, 40, 3, 1, 2)
	for _, n := range []int{1, 7, 8, 9, 33, 64} {
		run, err := DecodeKeyRun("run", writeKeyRun(t, segs[:n]))
		if err != nil {
			t.Fatal(err)
		}
		if run.Segments() != n || run.First() != 1 || run.Last() != segs[n-1].Last() {
			t.Fatalf("run of %d: %d segments, positions %d-%d", n, run.Segments(), run.First(), run.Last())
		}
		for i, s := range segs[:n] {
			if run.SegmentFirst(i) != s.First() {
				t.Fatalf("run of %d: segment %d starts at %d, want %d", n, i, run.SegmentFirst(i), s.First())
			}
			keys := 0
			err := s.keyHashes(func(h32 uint32) {
				keys++
				h := uint64(h32)<<32 | uint64(r.Uint32())
				if m := run.Candidates(h); m&(1<<i) == 0 {
					t.Fatalf("run of %d: key %x of segment %d (version %d) not a candidate (%b)", n, h, i, s.format, m)
				}
				if m := run.Candidates(h); m>>n != 0 {
					t.Fatalf("run of %d: candidates %b beyond its segments", n, m)
				}
			})
			if err != nil || keys == 0 {
				t.Fatalf("segment %d: %d keys, %v", i, keys, err)
			}
		}
		pass := 0
		const probes = 20000
		for range probes {
			pass += popcount(run.Candidates(r.Uint64()))
		}
		if rate := float64(pass) / float64(probes*n); rate > 0.03 {
			t.Fatalf("run of %d: %.3f of absent keys pass a segment's filter", n, rate)
		}
	}
}

func popcount(m uint64) int {
	n := 0
	for ; m != 0; m &= m - 1 {
		n++
	}
	return n
}

// TestKeyRunPostings: with key runs, every posting of the sealed log
// (each key's positions in whole and in ranges, its least and its
// greatest) answers as it does without them, whether the runs fit the
// segment indexes or not, and the index reports the runs it uses.
func TestKeyRunPostings(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	segs, docs := keyRunSegs(t, r, 21, 30, 3, 2, 1)
	last := segs[len(segs)-1].Last()
	ix := New(Options{MaxPathValues: 8})
	for i, d := range docs {
		if err := ix.Add(uint32(i+1), d); err != nil {
			t.Fatal(err)
		}
	}
	ix.SetSegments(segs)
	type ask struct {
		name string
		get  func(Reader) Posting
	}
	var asks []ask
	for k := range 10 {
		id := fmt.Sprintf("t-%d", k)
		asks = append(asks, ask{"link " + id, func(rd Reader) Posting { return rd.LinkTarget(id) }})
	}
	for k := range 3 {
		name := fmt.Sprintf("schema-%d", k)
		asks = append(asks, ask{name, func(rd Reader) Posting { return rd.Schema(name) }})
	}
	asks = append(asks, ask{"link parent", func(rd Reader) Posting { return rd.LinkType("parent") }})
	for k := range 5 {
		v := fmt.Sprintf("k%d", k)
		asks = append(asks, ask{"kind " + v, func(rd Reader) Posting {
			p, indexed := rd.Term("kind", "s"+v)
			if !indexed {
				t.Fatal("kind is not indexed")
			}
			return p
		}})
	}
	ranges := [][2]uint64{{1, uint64(last) + 1}, {1, 2}, {30, 95}, {31, 32}, {200, 241}, {241, 600}, {600, uint64(last) + 5}}
	answers := func() []string {
		var out []string
		ix.Read(func(rd Reader) {
			for _, a := range asks {
				p := a.get(rd)
				line := a.name
				for _, rg := range ranges {
					bm := p.Bitmap(rg[0], rg[1]).Clone()
					bm.RemoveRange(0, rg[0])
					bm.RemoveRange(rg[1], uint64(last)+10)
					line += fmt.Sprintf(" %v", bm.ToArray())
				}
				lo, okLo := p.Least()
				hi, okHi := p.Greatest()
				out = append(out, fmt.Sprintf("%s least %d %t greatest %d %t", line, lo, okLo, hi, okHi))
			}
		})
		for _, pos := range []int{1, 29, 30, 31, 200, 331, 630, 631, 999} {
			v := fmt.Sprintf("o-%d", pos)
			ix.Read(func(rd Reader) {
				if _, indexed := rd.Term("order", "s"+v); indexed {
					t.Fatal("order is indexed in memory")
				}
				bm, upTo, ok := rd.SegmentTerm("order", "s"+v)
				out = append(out, fmt.Sprintf("order %s: %v up to %d %t", v, bm.ToArray(), upTo, ok))
			})
		}
		return out
	}
	want := answers()
	found := 0
	for _, line := range want {
		if !strings.Contains(line, "least 0 false") {
			found++
		}
	}
	if found < len(asks)*3/4 {
		t.Fatalf("only %d of %d keys found: the test asks too little", found, len(asks))
	}
	run := func(from, to int) *KeyRun {
		k, err := DecodeKeyRun("run", writeKeyRun(t, segs[from:to]))
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	layouts := []struct {
		name string
		runs []*KeyRun
		used int
	}{
		{"one run of all", []*KeyRun{run(0, 21)}, 1},
		{"runs of 8, 8 and 1", []*KeyRun{run(0, 8), run(8, 16), run(16, 17)}, 3},
		{"runs with gaps", []*KeyRun{run(2, 5), run(10, 18)}, 2},
		{"runs of one", []*KeyRun{run(0, 1), run(1, 2), run(20, 21)}, 3},
		{"a run of other segments", []*KeyRun{run(0, 8), run(9, 12), run(12, 14)}, 3},
		{"overlapping runs", []*KeyRun{run(0, 8), run(4, 12), run(8, 16)}, 1},
	}
	for _, l := range layouts {
		ix.SetKeyRuns(l.runs)
		if got := len(ix.KeyRuns()); got != l.used {
			t.Fatalf("%s: the index uses %d runs, want %d", l.name, got, l.used)
		}
		got := answers()
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%s:\n got %s\nwant %s", l.name, got[i], want[i])
			}
		}
	}
	// A run that covers segment indexes that are not those of the index
	// is not used: here the index's segments start elsewhere.
	other, _ := keyRunSegs(t, rand.New(rand.NewPCG(9, 9)), 2, 15, 3)
	ix.SetKeyRuns([]*KeyRun{run(0, 8), decodeKeyRunOrFatal(t, writeKeyRun(t, other))})
	if got := len(ix.KeyRuns()); got != 1 {
		t.Fatalf("the index uses %d runs, want 1", got)
	}
	ix.SetKeyRuns(nil)
	if got := answers(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatal("answers changed once the runs are gone")
	}
}

func decodeKeyRunOrFatal(t testing.TB, data []byte) *KeyRun {
	t.Helper()
	k, err := DecodeKeyRun("run", data)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestKeyRunDamage: every byte of a run is checked: each single byte
// changed, and every shorter or longer file, is a *trove.CorruptionError.
func TestKeyRunDamage(t *testing.T) {
	segs, _ := keyRunSegs(t, rand.New(rand.NewPCG(5, 6)), 3, 20, 3)
	data := writeKeyRun(t, segs)
	if _, err := DecodeKeyRun("run", data); err != nil {
		t.Fatal(err)
	}
	var ce *trove.CorruptionError
	for i := range data {
		bad := bytes.Clone(data)
		bad[i] ^= 0x10
		if _, err := DecodeKeyRun("run", bad); !errors.As(err, &ce) || ce.File != "run" {
			t.Fatalf("byte %d changed: %v, want a corruption error", i, err)
		}
	}
	for n := range len(data) {
		if _, err := DecodeKeyRun("run", data[:n]); !errors.As(err, &ce) {
			t.Fatalf("cut to %d bytes: %v", n, err)
		}
	}
	if _, err := DecodeKeyRun("run", append(bytes.Clone(data), 0)); !errors.As(err, &ce) {
		t.Fatalf("a byte longer: %v", err)
	}
}

// TestWriteKeyRunRefuses: no segment index, more than a run holds, and
// segment indexes that do not follow each other.
func TestWriteKeyRunRefuses(t *testing.T) {
	segs, _ := keyRunSegs(t, rand.New(rand.NewPCG(7, 8)), 3, 10, 3)
	many := make([]*SegIndex, MaxKeyRunSegments+1)
	for i := range many {
		many[i] = segs[0]
	}
	for name, in := range map[string][]*SegIndex{
		"none":        nil,
		"too many":    many,
		"a gap":       {segs[0], segs[2]},
		"out of turn": {segs[1], segs[0]},
	} {
		if err := WriteKeyRun(&bytes.Buffer{}, in); !errors.Is(err, trove.ErrInvalid) {
			t.Fatalf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

// TestOpenKeyRun: a run opened from its file (mapped, checked through a
// copy that is then overwritten) and one read into memory answer as the
// decoded bytes do.
func TestOpenKeyRun(t *testing.T) {
	poisonCheckCopies = true
	defer func() { poisonCheckCopies = false }()
	segs, _ := keyRunSegs(t, rand.New(rand.NewPCG(9, 10)), 12, 25, 3, 2)
	data := writeKeyRun(t, segs)
	path := filepath.Join(t.TempDir(), "keys.run")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	want := decodeKeyRunOrFatal(t, data)
	opened, err := OpenKeyRun(path)
	if err != nil {
		t.Fatal(err)
	}
	read, err := ReadKeyRun(path)
	if err != nil {
		t.Fatal(err)
	}
	// Another file checked through the pooled buffer overwrites it.
	if _, err := OpenKeyRun(path); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 1))
	for range 5000 {
		h := r.Uint64()
		if a, b, c := want.Candidates(h), opened.Candidates(h), read.Candidates(h); a != b || a != c {
			t.Fatalf("hash %x: %b decoded, %b opened, %b read", h, a, b, c)
		}
	}
	for i := range want.Segments() {
		if opened.SegmentFirst(i) != want.SegmentFirst(i) {
			t.Fatalf("segment %d starts at %d, want %d", i, opened.SegmentFirst(i), want.SegmentFirst(i))
		}
	}
	// Every byte changed is found by the file's check too.
	var ce *trove.CorruptionError
	bad := filepath.Join(t.TempDir(), "bad.run")
	for i := range data {
		b := bytes.Clone(data)
		b[i] ^= 0x08
		if err := os.WriteFile(bad, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := OpenKeyRun(bad); !errors.As(err, &ce) || ce.File != bad {
			t.Fatalf("byte %d changed: open: %v, want a corruption error naming the file", i, err)
		}
	}
	opened.DropResident()
	if err := opened.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenKeyRun(filepath.Join(t.TempDir(), "missing.run")); err == nil {
		t.Fatal("a missing file opened")
	}
}

// TestKeyRunGolden: the bytes of a run of fixed segment indexes (format
// version 1, KEYRUN.md), and what it answers.
func TestKeyRunGolden(t *testing.T) {
	segs, _ := keyRunSegs(t, rand.New(rand.NewPCG(42, 42)), 3, 16, 3)
	got := writeKeyRun(t, segs)
	path := filepath.Join("testdata", "keyrun-v1.run")
	if *updateKeyRunGolden {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("the run of the golden segment indexes differs from %s (run with -update-keyrun if the format changed on purpose)", path)
	}
	run := decodeKeyRunOrFatal(t, want)
	if run.Segments() != 3 || run.First() != 1 || run.Last() != 48 || run.SegmentFirst(1) != 17 || run.SegmentFirst(2) != 33 {
		t.Fatalf("golden run: %d segments, %d-%d", run.Segments(), run.First(), run.Last())
	}
	for i, s := range segs {
		if err := s.keyHashes(func(h32 uint32) {
			if run.Candidates(uint64(h32)<<32)&(1<<i) == 0 {
				t.Fatalf("golden run: a key of segment %d is not a candidate", i)
			}
		}); err != nil {
			t.Fatal(err)
		}
	}
}

func FuzzDecodeKeyRun(f *testing.F) {
	if data, err := os.ReadFile(filepath.Join("testdata", "keyrun-v1.run")); err == nil {
		f.Add(data)
	}
	segs, _ := keyRunSegs(f, rand.New(rand.NewPCG(1, 1)), 9, 8, 3, 1)
	f.Add(writeKeyRun(f, segs))
	f.Add([]byte(keyRunMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		run, err := DecodeKeyRun("fuzz", data)
		if err != nil {
			var ce *trove.CorruptionError
			if !errors.As(err, &ce) {
				t.Fatalf("not a corruption error: %v", err)
			}
			return
		}
		r := rand.New(rand.NewPCG(uint64(len(data)), 0))
		for range 64 {
			if m := run.Candidates(r.Uint64()); m>>run.Segments() != 0 {
				t.Fatalf("candidates %b beyond %d segments", m, run.Segments())
			}
		}
	})
}

// TestKeyFence: a version 3 segment index finds a key hash through its
// fence exactly where a search of the whole key table does, present or
// absent, at every window's edges.
func TestKeyFence(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	segs, _ := keyRunSegs(t, r, 1, 3000, 3)
	s := segs[0]
	if err := s.checkKeys(); err != nil {
		t.Fatal(err)
	}
	if s.keys < 4*keyFenceStep || len(s.checks.keyFence) != (s.keys+keyFenceStep-1)/keyFenceStep {
		t.Fatalf("%d keys, a fence of %d", s.keys, len(s.checks.keyFence))
	}
	probe := func(k uint32) {
		wi, wf := slices.BinarySearch(s.keyHash32, k)
		if i, found := s.findKey32(k); i != wi && found || found != wf {
			t.Fatalf("key %x: %d %t through the fence, %d %t in the table", k, i, found, wi, wf)
		}
	}
	for _, k := range s.keyHash32 {
		probe(k)
		probe(k - 1)
		probe(k + 1)
	}
	for range 10000 {
		probe(r.Uint32())
	}
	probe(0)
	probe(^uint32(0))
}
