package index

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/trovedb/trove"
)

var updateSegIndexGolden = flag.Bool("update-segindex", false, "rewrite testdata/segindex-v1.idx")

// segDocs returns n documents for positions first…: a few schemas and
// producers, versions chained through prev, links, a high-cardinality
// payload path and a low one.
func segDocs(r *rand.Rand, first uint32, n int) (docs []Doc, prevs []uint32) {
	latest := map[string]uint32{}
	versions := map[string]int{}
	for i := range n {
		pos := first + uint32(i)
		id := fmt.Sprintf("id-%d", r.IntN(n))
		if r.IntN(3) > 0 {
			id = fmt.Sprintf("uniq-%d-%d", first, i)
		}
		versions[id]++
		d := Doc{
			ID: id, Version: versions[id], CreatedAt: 1_700_000_000_000 + int64(r.IntN(1e6)) - 5e5,
			Schema: fmt.Sprintf("schema-%d", r.IntN(3)), Producer: fmt.Sprintf("prod-%d", r.IntN(4)),
			Payload: []byte(fmt.Sprintf(`{"order":"o-%d","kind":"k%d","n":%d,"ok":%t,"nested":{"x":null}}`, pos, r.IntN(5), r.IntN(50), r.IntN(2) == 0)),
		}
		if r.IntN(4) == 0 {
			d.Links = []trove.EventLink{{Type: []string{"parent", "child"}[r.IntN(2)], TargetEvent: trove.EventID{ID: fmt.Sprintf("t-%d", r.IntN(10))}}}
		}
		docs = append(docs, d)
		prevs = append(prevs, latest[id])
		latest[id] = pos
	}
	return docs, prevs
}

func buildSegIndex(t testing.TB, first uint32, docs []Doc, prevs []uint32) []byte {
	t.Helper()
	b := NewSegIndexBuilder(first)
	for i, d := range docs {
		if err := b.Add(first+uint32(i), prevs[i], d); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := b.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type postKey struct {
	kind       byte
	key, value string
}

// checkSegIndex compares every answer of s with the documents it was built
// from (a brute-force model).
func checkSegIndex(t *testing.T, s *SegIndex, first uint32, docs []Doc, prevs []uint32) {
	t.Helper()
	if s.First() != first || s.Last() != first+uint32(len(docs))-1 {
		t.Fatalf("range %d…%d, want %d…%d", s.First(), s.Last(), first, first+uint32(len(docs))-1)
	}
	want := map[postKey]*roaring.Bitmap{}
	add := func(k postKey, pos uint32) {
		if want[k] == nil {
			want[k] = roaring.New()
		}
		want[k].Add(pos)
	}
	lo, hi := docs[0].CreatedAt, docs[0].CreatedAt
	for i, d := range docs {
		pos := first + uint32(i)
		lo, hi = min(lo, d.CreatedAt), max(hi, d.CreatedAt)
		if s.Created(pos) != d.CreatedAt || s.Version(pos) != d.Version || s.Prev(pos) != prevs[i] ||
			s.Schemas()[s.SchemaNum(pos)] != d.Schema || s.Producers()[s.ProducerNum(pos)] != d.Producer {
			t.Fatalf("columns at %d disagree", pos)
		}
		found := false
		s.IDCandidates(d.ID, func(p uint32) bool { found = found || p == pos; return true })
		if !found {
			t.Fatalf("id %s at %d not found", d.ID, pos)
		}
		add(postKey{KindSchema, d.Schema, ""}, pos)
		add(postKey{KindProducer, d.Producer, ""}, pos)
		for _, l := range d.Links {
			add(postKey{KindLinkType, l.Type, ""}, pos)
			add(postKey{KindLinkTarget, l.TargetEvent.ID, ""}, pos)
			add(postKey{KindAnyLink, "", ""}, pos)
		}
		var w walker
		walkTerms(d.Payload, &w, func(path, value []byte) { add(postKey{KindTerm, string(path), string(value)}, pos) })
	}
	if l, h := s.TimeRange(); l != lo || h != hi {
		t.Fatalf("time range %d…%d, want %d…%d", l, h, lo, hi)
	}
	for k, bm := range want {
		got, err := s.Postings(k.kind, k.key, k.value)
		if err != nil {
			t.Fatal(err)
		}
		if got == nil || !got.Equals(bm) {
			t.Fatalf("postings of %c %q=%q: %v, want %v", k.kind, k.key, k.value, got, bm)
		}
	}
	for _, k := range []postKey{{KindSchema, "nope", ""}, {KindTerm, "order", "snope"}, {KindLinkTarget, "nope", ""}} {
		if got, err := s.Postings(k.kind, k.key, k.value); got != nil || err != nil {
			t.Fatalf("postings of absent %v: %v, %v", k, got, err)
		}
	}
	s.IDCandidates("absent-id", func(p uint32) bool { t.Fatalf("absent id found at %d", p); return false })
	if err := s.Verify(); err != nil {
		t.Fatal(err)
	}
}

func TestSegIndexRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name  string
		first uint32
		n     int
	}{{"one event", 1, 1}, {"small", 7, 50}, {"several containers", 60_000, 20_000}} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(tc.n), 9))
			docs, prevs := segDocs(r, tc.first, tc.n)
			data := buildSegIndex(t, tc.first, docs, prevs)
			if again := buildSegIndex(t, tc.first, docs, prevs); !bytes.Equal(again, data) {
				t.Fatal("encoding the same events twice gave different bytes")
			}
			s, err := DecodeSegIndex("mem", data)
			if err != nil {
				t.Fatal(err)
			}
			checkSegIndex(t, s, tc.first, docs, prevs)
			// Unaligned bytes decode too (copied).
			odd := append([]byte{0}, data...)[1:]
			if s2, err := DecodeSegIndex("odd", odd); err != nil {
				t.Fatal(err)
			} else {
				checkSegIndex(t, s2, tc.first, docs, prevs)
			}
			path := filepath.Join(t.TempDir(), "x.idx")
			if err := os.WriteFile(path, data, 0o640); err != nil {
				t.Fatal(err)
			}
			f, err := OpenSegIndex(path)
			if err != nil {
				t.Fatal(err)
			}
			checkSegIndex(t, f, tc.first, docs, prevs)
			if f.Size() != len(data) {
				t.Fatalf("size %d, want %d", f.Size(), len(data))
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestSegIndexBuilderRefuses(t *testing.T) {
	b := NewSegIndexBuilder(5)
	if err := b.Add(6, 0, Doc{ID: "a", Version: 1}); err == nil {
		t.Fatal("a gap in positions was accepted")
	}
	if err := b.Add(5, 0, Doc{ID: "a", Version: 0}); err == nil {
		t.Fatal("version 0 was accepted")
	}
	if err := b.Add(5, 0, Doc{ID: "a", Version: 1, Terms: []byte{9}, TermsSet: true}); err == nil {
		t.Fatal("malformed terms were accepted")
	}
	if err := b.Encode(discard{}); err == nil {
		t.Fatal("an empty segment index was encoded")
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// fixSegIndexCRCs recomputes the section and header checksums of a
// (possibly mutated) segment index, where its section table allows.
func fixSegIndexCRCs(data []byte) {
	if len(data) < segHeaderSize {
		return
	}
	for i := range segSections {
		e := data[40+16*i:]
		off, size := binary.LittleEndian.Uint32(e), binary.LittleEndian.Uint32(e[4:])
		if uint64(off)+uint64(size) <= uint64(len(data)) {
			binary.LittleEndian.PutUint32(e[8:], crc32.Checksum(data[off:off+size], castagnoli))
		}
	}
	binary.LittleEndian.PutUint32(data[segHeaderSize-4:], crc32.Checksum(data[:segHeaderSize-4], castagnoli))
}

func TestSegIndexCorruption(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	docs, prevs := segDocs(r, 10, 200)
	good := buildSegIndex(t, 10, docs, prevs)
	secOff := func(i int) int { return int(binary.LittleEndian.Uint32(good[40+16*i:])) }
	cases := []struct {
		name   string
		mutate func([]byte) []byte
		fix    bool // recompute the checksums after mutating
	}{
		{"empty", func([]byte) []byte { return nil }, false},
		{"truncated header", func(b []byte) []byte { return b[:segHeaderSize-1] }, false},
		{"truncated body", func(b []byte) []byte { return b[:len(b)-1] }, false},
		{"trailing bytes", func(b []byte) []byte { return append(b, 0) }, false},
		{"bad magic", func(b []byte) []byte { b[0] ^= 1; return b }, false},
		{"unknown version", func(b []byte) []byte { b[8] = 2; return b }, true},
		{"header checksum", func(b []byte) []byte { b[20] ^= 1; return b }, false},
		{"zero first position", func(b []byte) []byte { clear(b[16:20]); return b }, true},
		{"dict checksum", func(b []byte) []byte { b[secOff(secDict)] ^= 1; return b }, false},
		{"columns checksum", func(b []byte) []byte { b[secOff(secColumns)+3] ^= 1; return b }, false},
		{"ids checksum", func(b []byte) []byte { b[secOff(secIDs)] ^= 1; return b }, false},
		{"keys checksum", func(b []byte) []byte { b[secOff(secKeys)+9] ^= 1; return b }, false},
		{"bitmaps checksum", func(b []byte) []byte { b[secOff(secBitmaps)+1] ^= 1; return b }, false},
		{"schema number past the dictionary", func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[secOff(secColumns)+8*200+4*200*2:], 99)
			return b
		}, true},
		{"prev after its position", func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[secOff(secColumns)+8*200:], 1000)
			return b
		}, true},
		{"id position outside the segment", func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[secOff(secIDs)+8*200:], 5)
			return b
		}, true},
		{"ids out of order", func(b []byte) []byte {
			binary.LittleEndian.PutUint64(b[secOff(secIDs):], ^uint64(0))
			return b
		}, true},
		{"posting out of bounds", func(b []byte) []byte {
			for i := secOff(secKeys); ; i += 16 {
				if binary.LittleEndian.Uint32(b[i+12:]) > 0 {
					binary.LittleEndian.PutUint32(b[i+8:], 1<<30)
					return b
				}
			}
		}, true},
		{"section out of place", func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[40+16*secIDs:], 8)
			return b
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data := tc.mutate(slices.Clone(good))
			if tc.fix {
				fixSegIndexCRCs(data)
			}
			_, err := DecodeSegIndex("bad.idx", data)
			var ce *trove.CorruptionError
			if !errors.Is(err, trove.ErrCorrupt) || !errors.As(err, &ce) || ce.File != "bad.idx" {
				t.Fatalf("decode: %v, want a corruption error naming the file", err)
			}
		})
	}
	// A damaged bitmap behind valid checksums is found by Verify, or when
	// its postings are read.
	data := slices.Clone(good)
	for i := secOff(secBitmaps); i < secOff(secBitmaps)+8; i++ {
		data[i] = 0xff
	}
	fixSegIndexCRCs(data)
	s, err := DecodeSegIndex("bad.idx", data)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Verify(); !errors.Is(err, trove.ErrCorrupt) {
		t.Fatalf("verify of a damaged bitmap: %v", err)
	}
}

// TestSegIndexGolden decodes a committed version 1 file and checks its
// answers, and that the builder still writes exactly those bytes.
func TestSegIndexGolden(t *testing.T) {
	const golden = "testdata/segindex-v1.idx"
	r := rand.New(rand.NewPCG(42, 42))
	docs, prevs := segDocs(r, 100, 300)
	data := buildSegIndex(t, 100, docs, prevs)
	if *updateSegIndexGolden {
		if err := os.WriteFile(golden, data, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	// Mapped, and read into memory (engine.Options.NoMmap): the same index.
	for name, open := range map[string]func(string) (*SegIndex, error){"mapped": OpenSegIndex, "read": ReadSegIndex} {
		s, err := open(golden)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		checkSegIndex(t, s, 100, docs, prevs)
		if err := s.Close(); err != nil {
			t.Fatalf("%s: close: %v", name, err)
		}
	}
	if _, err := ReadSegIndex("testdata/no-such.idx"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("ReadSegIndex of a missing file: %v", err)
	}
	old, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(old, data) {
		t.Fatal("the builder no longer writes the golden file's bytes: a format change needs a new version")
	}
}

func FuzzDecodeSegIndex(f *testing.F) {
	r := rand.New(rand.NewPCG(3, 4))
	docs, prevs := segDocs(r, 1, 40)
	good := buildSegIndex(f, 1, docs, prevs)
	f.Add(good, false)
	f.Add(good[:100], true)
	f.Add([]byte(segIndexMagic), false)
	if g, err := os.ReadFile("testdata/segindex-v1.idx"); err == nil {
		f.Add(g, false)
	}
	f.Fuzz(func(t *testing.T, data []byte, fix bool) {
		data = slices.Clone(data)
		if fix {
			fixSegIndexCRCs(data)
		}
		s, err := DecodeSegIndex("fuzz", data)
		if err != nil {
			if !errors.Is(err, trove.ErrCorrupt) {
				t.Fatalf("error %v is not a corruption error", err)
			}
			return
		}
		// Everything a decoded index answers stays in bounds.
		for pos := s.First(); pos <= s.Last() && pos-s.First() < 1000; pos++ {
			_ = s.Created(pos) + int64(s.Version(pos)) + int64(s.Prev(pos))
			_ = s.Schemas()[s.SchemaNum(pos)] + s.Producers()[s.ProducerNum(pos)]
		}
		s.IDCandidates("id-1", func(uint32) bool { return true })
		for _, k := range []postKey{{KindSchema, "schema-1", ""}, {KindTerm, "kind", "sk1"}, {KindAnyLink, "", ""}} {
			if bm, err := s.Postings(k.kind, k.key, k.value); err == nil && bm != nil {
				if bm.Minimum() < s.First() || bm.Maximum() > s.Last() {
					t.Fatalf("posting outside the segment")
				}
			} else if err != nil && !errors.Is(err, trove.ErrCorrupt) {
				t.Fatal(err)
			}
		}
		if err := s.Verify(); err != nil && !errors.Is(err, trove.ErrCorrupt) {
			t.Fatal(err)
		}
	})
}

// TestSegmentTerm: the segment indexes answer a path past the guard for
// the positions they cover from 1 without a gap, and a superset there.
func TestSegmentTerm(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	ix := New(Options{MaxPathValues: 4})
	var segs []*SegIndex
	for _, span := range [][2]uint32{{1, 100}, {101, 250}, {251, 300}} {
		docs, prevs := segDocs(r, span[0], int(span[1]-span[0]+1))
		for i, d := range docs {
			d.Version, prevs[i] = 1, 0 // ids are unique per segment here
			d.ID = fmt.Sprintf("%d-%s", span[0], d.ID)
			docs[i] = d
			if err := ix.Add(span[0]+uint32(i), d); err != nil {
				t.Fatal(err)
			}
		}
		s, err := DecodeSegIndex("mem", buildSegIndex(t, span[0], docs, prevs))
		if err != nil {
			t.Fatal(err)
		}
		segs = append(segs, s)
	}
	read := func() (bm *roaring.Bitmap, upTo uint32, ok bool) {
		ix.Read(func(r Reader) {
			if _, indexed := r.Term("order", "so-7"); indexed {
				t.Fatal("order is indexed in memory")
			}
			bm, upTo, ok = r.SegmentTerm("order", "so-7")
		})
		return
	}
	if _, _, ok := read(); ok {
		t.Fatal("answered without segment indexes")
	}
	ix.SetSegments(segs)
	bm, upTo, ok := read()
	if !ok || upTo != 300 || bm.GetCardinality() != 1 || !bm.Contains(7) {
		t.Fatalf("order=o-7: %v up to %d (%t), want {7} up to 300", bm, upTo, ok)
	}
	ix.SetSegments([]*SegIndex{segs[0], nil, segs[2]})
	if _, upTo, ok := read(); !ok || upTo != 100 {
		t.Fatalf("with a gap: covered up to %d (%t), want 100", upTo, ok)
	}
	ix.SetSegments([]*SegIndex{segs[1]})
	if _, _, ok := read(); ok {
		t.Fatal("answered by segments that do not start at position 1")
	}
}
