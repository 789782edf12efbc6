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

var updateSegIndexGolden = flag.Bool("update-segindex", false, "rewrite testdata/segindex-v3.idx (the current version's golden file)")

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
	return buildSegIndexVersion(t, SegIndexVersion, first, docs, prevs)
}

func buildSegIndexVersion(t testing.TB, version, first uint32, docs []Doc, prevs []uint32) []byte {
	t.Helper()
	b := NewSegIndexBuilder(first)
	for i, d := range docs {
		if err := b.Add(first+uint32(i), prevs[i], d); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := b.EncodeVersion(&buf, version); err != nil {
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
	// Keys whose hashes share the bits a version keeps share a posting:
	// a superset, rare (version 3 keeps 32 bits: about K²/2³³ pairs
	// among K keys).
	extra := 0
	for k, bm := range want {
		got, err := s.Postings(k.kind, k.key, k.value)
		if err != nil {
			t.Fatal(err)
		}
		if got == nil || !roaring.AndNot(bm, got).IsEmpty() {
			t.Fatalf("postings of %c %q=%q: %v, want %v", k.kind, k.key, k.value, got, bm)
		}
		if !got.Equals(bm) {
			extra++
		}
	}
	if limit := 1 + len(want)*len(want)>>31; extra > limit {
		t.Fatalf("%d of %d postings hold another key's positions, expected at most %d", extra, len(want), limit)
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

// TestSegIndexColumnWidths checks that version 3 stores each column in the
// width its values need (nothing for all-zero prevs and all-one
// versions), and answers the same as version 2.
func TestSegIndexColumnWidths(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct {
		name   string
		n      int
		update func(i int, d *Doc)
		widths [5]byte
	}{
		{"first versions", 500, nil, [5]byte{4, 0, 0, 1, 1}},
		{"versions", 500, func(i int, d *Doc) { d.ID = fmt.Sprintf("id-%d", i%100) }, [5]byte{4, 4, 4, 1, 1}},
		{"wide", 2000, func(i int, d *Doc) {
			d.Schema, d.Producer = fmt.Sprintf("schema-%d", i%300), fmt.Sprintf("prod-%d", i%257)
			d.CreatedAt += int64(i) * 5e6 // past 2³² ms
		}, [5]byte{8, 0, 0, 2, 2}},
		{"wider", 70_000, func(i int, d *Doc) { d.Schema = fmt.Sprintf("schema-%d", i) }, [5]byte{4, 0, 0, 4, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			latest, versions := map[string]uint32{}, map[string]int{}
			var docs []Doc
			var prevs []uint32
			for i := range tc.n {
				d := Doc{ID: fmt.Sprintf("u-%d", i), CreatedAt: 1_700_000_000_000 + int64(r.IntN(1000)), Schema: "s", Producer: "p",
					Payload: []byte(fmt.Sprintf(`{"n":%d,"k":"v%d"}`, i, i%7))}
				if tc.update != nil {
					tc.update(i, &d)
				}
				versions[d.ID]++
				d.Version = versions[d.ID]
				docs, prevs = append(docs, d), append(prevs, latest[d.ID])
				latest[d.ID] = uint32(1 + i)
			}
			v3 := buildSegIndex(t, 1, docs, prevs)
			v2 := buildSegIndexVersion(t, 2, 1, docs, prevs)
			s, err := DecodeSegIndex("w.idx", v3)
			if err != nil {
				t.Fatal(err)
			}
			cols := v3[binary.LittleEndian.Uint32(v3[40+16*secColumns:]):]
			if got := [5]byte(cols[:5]); got != tc.widths {
				t.Fatalf("widths %v, want %v", got, tc.widths)
			}
			checkSegIndex(t, s, 1, docs, prevs)
			if len(v3) >= len(v2) {
				t.Fatalf("version 3 takes %d bytes, version 2 %d", len(v3), len(v2))
			}
		})
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
	if len(data) < 12 {
		return
	}
	k := segSectionsOf(SegIndexVersion)
	if v := binary.LittleEndian.Uint32(data[8:]); v == 1 {
		k = segSectionsOf(v)
	}
	size := segHeaderSizeOf(k)
	if len(data) < size {
		return
	}
	for i := range k {
		e := data[40+16*i:]
		off, size := binary.LittleEndian.Uint32(e), binary.LittleEndian.Uint32(e[4:])
		if uint64(off)+uint64(size) <= uint64(len(data)) {
			binary.LittleEndian.PutUint32(e[8:], crc32.Checksum(data[off:off+size], castagnoli))
		}
	}
	binary.LittleEndian.PutUint32(data[size-4:], crc32.Checksum(data[:size-4], castagnoli))
}

func TestSegIndexCorruption(t *testing.T) {
	for _, version := range []uint32{2, 3} {
		t.Run(fmt.Sprint(version), func(t *testing.T) { segIndexCorruption(t, version) })
	}
}

func segIndexCorruption(t *testing.T, version uint32) {
	r := rand.New(rand.NewPCG(1, 2))
	docs, prevs := segDocs(r, 10, 200)
	good := buildSegIndexVersion(t, version, 10, docs, prevs)
	secOff := func(i int) int { return int(binary.LittleEndian.Uint32(good[40+16*i:])) }
	// colOff returns the offset of column k (0 createdAt, 1 prev, 2
	// version, 3 schema, 4 producer) and its width.
	colOff := func(k int) (off, width int) {
		off = secOff(secColumns)
		if version < 3 {
			return off + []int{0, 1600, 2400, 3200, 4000}[k], []int{8, 4, 4, 4, 4}[k]
		}
		c := good[off:]
		off += 8
		for i := range k {
			off += align8(int(c[i]) * 200)
		}
		return off, int(c[k])
	}
	// keyRefs returns the offset of the key table's references (version
	// 3) or entries, and the size of an entry.
	keyRefs := func() (off, size int) {
		if version < 3 {
			return secOff(secKeys) + 8, 16
		}
		n := int(binary.LittleEndian.Uint32(good[40+16*secKeys+4:])) / 8
		return secOff(secKeys) + 4*n, 4
	}
	isBitmapRef := func(b []byte, i int) bool {
		if version < 3 {
			return binary.LittleEndian.Uint32(b[i+4:]) > 0
		}
		return binary.LittleEndian.Uint32(b[i:])&keyRefBitmap != 0
	}
	cases := []struct {
		name   string
		mutate func([]byte) []byte
		fix    bool // recompute the checksums after mutating
	}{
		{"empty", func([]byte) []byte { return nil }, false},
		{"truncated header", func(b []byte) []byte { return b[:segHeaderSizeOf(segSectionsOf(SegIndexVersion))-1] }, false},
		{"truncated body", func(b []byte) []byte { return b[:len(b)-1] }, false},
		{"trailing bytes", func(b []byte) []byte { return append(b, 0) }, false},
		{"bad magic", func(b []byte) []byte { b[0] ^= 1; return b }, false},
		{"unknown version", func(b []byte) []byte { b[8] = 4; return b }, true},
		{"version 0", func(b []byte) []byte { b[8] = 0; return b }, true},
		{"version 1 header", func(b []byte) []byte { b[8] = 1; return b }, true},
		{"the other version's header", func(b []byte) []byte { b[8] = byte(5 - version); return b }, true},
		{"key filter checksum", func(b []byte) []byte { b[secOff(secKeyFilter)+5] ^= 1; return b }, false},
		{"key filter of the wrong size", func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[40+16*secKeyFilter+4:], binary.LittleEndian.Uint32(b[40+16*secKeyFilter+4:])-8)
			return b[:len(b)-8]
		}, true},
		{"header checksum", func(b []byte) []byte { b[20] ^= 1; return b }, false},
		{"zero first position", func(b []byte) []byte { clear(b[16:20]); return b }, true},
		{"dict checksum", func(b []byte) []byte { b[secOff(secDict)] ^= 1; return b }, false},
		{"columns checksum", func(b []byte) []byte { b[secOff(secColumns)+3] ^= 1; return b }, false},
		{"ids checksum", func(b []byte) []byte { b[secOff(secIDs)] ^= 1; return b }, false},
		{"keys checksum", func(b []byte) []byte { b[secOff(secKeys)+9] ^= 1; return b }, false},
		{"bitmaps checksum", func(b []byte) []byte { b[secOff(secBitmaps)+1] ^= 1; return b }, false},
		{"schema number past the dictionary", func(b []byte) []byte {
			off, _ := colOff(3)
			b[off] = 99
			return b
		}, true},
		{"prev after its position", func(b []byte) []byte {
			off, _ := colOff(1)
			binary.LittleEndian.PutUint32(b[off:], 1000)
			return b
		}, true},
		{"createdAt past the greatest", func(b []byte) []byte {
			off, w := colOff(0)
			for i := range w {
				b[off+i] = 0x7f
			}
			return b
		}, true},
		{"version 0 in the column", func(b []byte) []byte {
			off, _ := colOff(2)
			binary.LittleEndian.PutUint32(b[off:], 0)
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
			for i, size := keyRefs(); ; i += size {
				if isBitmapRef(b, i) {
					binary.LittleEndian.PutUint32(b[i:], keyRefBitmap|1<<28)
					return b
				}
			}
		}, true},
		{"position out of the segment", func(b []byte) []byte {
			for i, size := keyRefs(); ; i += size {
				if !isBitmapRef(b, i) {
					binary.LittleEndian.PutUint32(b[i:], 5000)
					return b
				}
			}
		}, true},
		{"section out of place", func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[40+16*secIDs:], 8)
			return b
		}, true},
	}
	if version >= 3 {
		cases = append(cases, []struct {
			name   string
			mutate func([]byte) []byte
			fix    bool
		}{
			{"column width", func(b []byte) []byte { b[secOff(secColumns)+3] = 2; return b }, true},
			{"time width", func(b []byte) []byte { b[secOff(secColumns)] = 5; return b }, true},
			{"column header padding", func(b []byte) []byte { b[secOff(secColumns)+6] = 1; return b }, true},
			{"keys out of order", func(b []byte) []byte {
				binary.LittleEndian.PutUint32(b[secOff(secKeys):], ^uint32(0))
				return b
			}, true},
		}...)
	}
	// Damage in the sections only lookups read (the key filter, the key
	// table, the bitmaps) is found when a lookup first reads them, not by
	// opening the file; DecodeSegIndex checks everything.
	atLookup := map[string]bool{"key filter checksum": true, "keys checksum": true, "bitmaps checksum": true,
		"posting out of bounds": true, "position out of the segment": true, "keys out of order": true}
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
			// Opened from a file, mapped (checked on a copy) or read.
			if len(data) == 0 {
				return
			}
			path := filepath.Join(t.TempDir(), "bad.idx")
			if err := os.WriteFile(path, data, 0o640); err != nil {
				t.Fatal(err)
			}
			for _, how := range []struct {
				name  string
				open  func(string) (*SegIndex, error)
				limit int // maxCheckCopy: 0 checks through the map
			}{{"mapped", OpenSegIndex, maxCheckCopy}, {"read", ReadSegIndex, maxCheckCopy}, {"mapped, checked in place", OpenSegIndex, 0}} {
				old := maxCheckCopy
				maxCheckCopy = how.limit
				s, err := how.open(path)
				if atLookup[tc.name] {
					if err != nil {
						t.Fatalf("%s: %v; damage only lookups read is found by them", how.name, err)
					}
					// Every lookup that reads the damage reports it, the
					// first and the next; so does CheckSections.
					for range 2 {
						if bm, err := s.Postings(KindSchema, "schema-0", ""); bm != nil || !errors.As(err, &ce) || ce.File != path {
							t.Fatalf("%s: lookup: %v, %v, want a corruption error naming the file", how.name, bm, err)
						}
					}
					if err := s.CheckSections(); !errors.As(err, &ce) || ce.File != path {
						t.Fatalf("%s: CheckSections: %v, want a corruption error naming the file", how.name, err)
					}
					s.Close()
				} else if !errors.As(err, &ce) || ce.File != path {
					t.Fatalf("%s: %v, want a corruption error naming the file", how.name, err)
				}
				maxCheckCopy = old
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
	// So is a key filter that rules out keys the table holds.
	data = slices.Clone(good)
	clear(data[secOff(secKeyFilter) : secOff(secKeyFilter)+int(binary.LittleEndian.Uint32(good[40+16*secKeyFilter+4:]))])
	fixSegIndexCRCs(data)
	if s, err = DecodeSegIndex("bad.idx", data); err != nil {
		t.Fatal(err)
	}
	if err := s.Verify(); !errors.Is(err, trove.ErrCorrupt) {
		t.Fatalf("verify of an empty key filter: %v", err)
	}
}

// TestSegIndexGolden decodes the committed files of versions 1 and 2 and
// checks their answers, and that the builder still writes exactly their
// bytes (Encode the current version's, EncodeVersion(1) version 1's, as a
// check of an older store compares them).
func TestSegIndexGolden(t *testing.T) {
	for _, version := range []uint32{1, 2, 3} {
		t.Run(fmt.Sprint(version), func(t *testing.T) { segIndexGolden(t, version) })
	}
}

func segIndexGolden(t *testing.T, version uint32) {
	golden := fmt.Sprintf("testdata/segindex-v%d.idx", version)
	r := rand.New(rand.NewPCG(42, 42))
	docs, prevs := segDocs(r, 100, 300)
	b := NewSegIndexBuilder(100)
	for i, d := range docs {
		if err := b.Add(100+uint32(i), prevs[i], d); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := b.EncodeVersion(&buf, version); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	if version == SegIndexVersion {
		if current := buildSegIndex(t, 100, docs, prevs); !bytes.Equal(current, data) {
			t.Fatal("Encode does not write the current version")
		}
		if *updateSegIndexGolden {
			if err := os.WriteFile(golden, data, 0o640); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Mapped, and read into memory (engine.Options.NoMmap): the same index.
	for name, open := range map[string]func(string) (*SegIndex, error){"mapped": OpenSegIndex, "read": ReadSegIndex} {
		s, err := open(golden)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		checkSegIndex(t, s, 100, docs, prevs)
		if s.Format() != version || (s.keyFilter != nil) != (version >= 2) {
			t.Fatalf("%s: format %d, key filter %v", name, s.Format(), s.keyFilter != nil)
		}
		if err := s.Verify(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
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
	for _, golden := range []string{"testdata/segindex-v1.idx", "testdata/segindex-v2.idx", "testdata/segindex-v3.idx"} {
		if g, err := os.ReadFile(golden); err == nil {
			f.Add(g, false)
		}
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

// TestSegmentTerm: a path past the guard is answered for every position:
// from the head's hashed postings before any segment index, from the
// segment indexes once they cover the log (the head's are then trimmed),
// and with every position of the trimmed prefix no segment index covers
// any more as a candidate.
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
	want := func(when string, card uint64) {
		t.Helper()
		bm, upTo, ok := read()
		if !ok || upTo != 300 || bm.GetCardinality() != card || !bm.Contains(7) {
			t.Fatalf("%s: order=o-7: %d positions up to %d (%t), want %d with 7, up to 300", when, bm.GetCardinality(), upTo, ok, card)
		}
	}
	want("from the head", 1)
	if ix.st.hotHead.len() == 0 {
		t.Fatal("no hashed postings in the head")
	}
	ix.SetSegments(segs)
	want("from the segment indexes", 1)
	if ix.st.hotHead.len() != 0 {
		t.Fatal("the head's hashed postings of sealed positions are kept")
	}
	ix.SetSegments([]*SegIndex{segs[0], nil, segs[2]})
	want("with a gap", 1+200)
	ix.SetSegments([]*SegIndex{segs[1]})
	want("with segments that do not start at position 1", 300)
}

// TestDroppedColumns: once segment indexes cover whole column chunks, the
// index drops those chunks and reads their columns (version, schema,
// producer, previous version, createdAt) and the version chains of ids
// from the segment indexes, with the same answers as an index that keeps
// them, after a snapshot round trip too. A snapshot decoded without the
// segment indexes says which positions need them.
func TestDroppedColumns(t *testing.T) {
	const n = 2*colChunkSize + 3000
	docs := make([]Doc, n)
	ids := make([]string, n)
	versions := map[string]int{}
	for i := range docs {
		id := fmt.Sprintf("id-%d", i%(n/3)) // most ids get three versions
		versions[id]++
		ids[i] = id
		docs[i] = Doc{ID: id, Version: versions[id], CreatedAt: 1_700_000_000_000 + int64(i*37%5000),
			Schema: fmt.Sprintf("s%d", i%5), Producer: fmt.Sprintf("p%d", i%7), Payload: []byte(`{}`)}
	}
	idAt := func(pos uint32) (string, error) { return ids[pos-1], nil }
	ref, ix := New(Options{IDAt: idAt}), New(Options{IDAt: idAt})
	if err := ref.AddBatch(1, docs); err != nil {
		t.Fatal(err)
	}
	if err := ix.AddBatch(1, docs); err != nil {
		t.Fatal(err)
	}
	ref.Readable(n)
	ix.Readable(n)
	var refCols Columns
	ref.Read(func(r Reader) { refCols = r.Columns() })
	var segs []*SegIndex
	for first := uint32(1); first <= n-1000; first += 4000 {
		last := min(first+3999, n-1000)
		b := NewSegIndexBuilder(first)
		for pos := first; pos <= last; pos++ {
			if err := b.Add(pos, refCols.Prev(pos), docs[pos-1]); err != nil {
				t.Fatal(err)
			}
		}
		var buf bytes.Buffer
		if err := b.Encode(&buf); err != nil {
			t.Fatal(err)
		}
		si, err := DecodeSegIndex("seg.idx", buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		segs = append(segs, si)
	}
	same := func(x *Index, when string) {
		t.Helper()
		if got := x.SealedColumns(); got != 2*colChunkSize {
			t.Fatalf("%s: columns of %d positions dropped, want %d", when, got, 2*colChunkSize)
		}
		var c Columns
		x.Read(func(r Reader) { c = r.Columns() })
		for pos := uint32(1); pos <= n; pos++ {
			if c.Version(pos) != refCols.Version(pos) || c.Prev(pos) != refCols.Prev(pos) || c.Created(pos) != refCols.Created(pos) ||
				c.Schemas[c.SchemaNum(pos)] != refCols.Schemas[refCols.SchemaNum(pos)] ||
				c.Producers[c.ProducerNum(pos)] != refCols.Producers[refCols.ProducerNum(pos)] {
				t.Fatalf("%s: columns of position %d differ", when, pos)
			}
		}
		for i := range c.Chunks() {
			lo, hi := c.ChunkRange(i)
			if rlo, rhi := refCols.ChunkRange(i); lo != rlo || hi != rhi {
				t.Fatalf("%s: time chunk %d: %d-%d, want %d-%d", when, i, lo, hi, rlo, rhi)
			}
		}
		for i := 0; i < n/3; i += 97 {
			id := ids[i]
			for v := 0; v <= 4; v++ {
				p1, ok1 := x.Lookup(id, v)
				p2, ok2 := ref.Lookup(id, v)
				if p1 != p2 || ok1 != ok2 {
					t.Fatalf("%s: %s@%d at %d %v, want %d %v", when, id, v, p1, ok1, p2, ok2)
				}
			}
		}
		x.Read(func(r Reader) {
			if !r.Superseded().Equals(refSuperseded(ref)) {
				t.Fatalf("%s: superseded positions differ", when)
			}
		})
	}
	ix.SetSegments(segs)
	same(ix, "after SetSegments")
	// New versions of ids whose earlier ones are in dropped chunks.
	more := []Doc{{ID: ids[5], Version: 4, CreatedAt: 1, Schema: "s9", Producer: "p9", Payload: []byte(`{}`)}}
	ids = append(ids, ids[5])
	for _, x := range []*Index{ref, ix} {
		if err := x.AddBatch(n+1, more); err != nil {
			t.Fatal(err)
		}
	}
	ref.Read(func(r Reader) { refCols = r.Columns() })
	var buf bytes.Buffer
	if err := ix.Encode(&buf, nil); err != nil {
		t.Fatal(err)
	}
	back, _, err := DecodeWith("snap", buf.Bytes(), Options{IDAt: idAt})
	if err != nil {
		t.Fatal(err)
	}
	back.Readable(n + 1)
	if back.SealedColumns() != 2*colChunkSize {
		t.Fatalf("decoded without segment indexes: %d sealed columns", back.SealedColumns())
	}
	back.SetSegments(segs)
	same(back, "after a snapshot round trip")
	// Segment indexes that do not cover the dropped columns are refused.
	short := New(Options{IDAt: idAt})
	short2, _, _ := DecodeWith("snap", buf.Bytes(), Options{IDAt: idAt})
	short2.SetSegments(segs[:2])
	short2.Read(func(r Reader) {
		if len(r.st.segs) != 0 {
			t.Fatal("segment indexes short of the dropped columns were taken")
		}
	})
	short.Close()
	short2.Close()
}

func refSuperseded(ix *Index) *roaring.Bitmap {
	var bm *roaring.Bitmap
	ix.Read(func(r Reader) { bm = r.Superseded().Clone() })
	return bm
}

// TestSortHashPos: the radix sort orders entries as the comparison sort
// does, ties by position, for entries added in position order (many keys
// shared, hashes differing in every 16-bit digit) and for entries out of
// position order.
func TestSortHashPos(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{0, 1, 100, 5000, 70000} {
		for _, ordered := range []bool{true, false} {
			var in []hashPos
			keys := make([]uint64, 1+n/7)
			for i := range keys {
				keys[i] = r.Uint64()
			}
			keys[0] = 0xffff_0000_ffff_0000 // digits at both ends
			for i := range n {
				pos := uint32(i/3 + 1)
				if !ordered {
					pos = uint32(r.IntN(n + 1))
				}
				in = append(in, mkHashPos(keys[r.IntN(len(keys))], pos))
			}
			want := slices.Clone(in)
			slices.SortFunc(want, compareHashPos)
			sortHashPos(in)
			if !slices.Equal(in, want) {
				t.Fatalf("%d entries (in position order %t): the radix sort differs", n, ordered)
			}
		}
	}
}

// BenchmarkSortHashPos sorts a segment's worth of posting entries (1.5M,
// in position order) with the radix sort and with the comparison sort.
func BenchmarkSortHashPos(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	in := make([]hashPos, 1_500_000)
	for i := range in {
		in[i] = mkHashPos(r.Uint64()%200_000, uint32(i/30+1))
	}
	work := make([]hashPos, len(in))
	b.Run("radix", func(b *testing.B) {
		for b.Loop() {
			copy(work, in)
			sortHashPos(work)
		}
	})
	b.Run("compare", func(b *testing.B) {
		for b.Loop() {
			copy(work, in)
			slices.SortFunc(work, compareHashPos)
		}
	})
}

// TestTouchKeyFilters: the words touchKeyFilters reads before a posting's
// lookups are those of the blocks the filter probes of postingsOf then
// read (the block of the key as each version hashes it into its filter),
// in segment indexes of every version (version 1 has no filter).
func TestTouchKeyFilters(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	docs, prevs := chainedDocs(r, 400)
	var segs []*SegIndex
	for i, v := range []uint32{1, 2, 3, 3, 2} {
		first := uint32(80*i + 1)
		s, err := DecodeSegIndex("seg", buildSegIndexVersion(t, v, first, docs[first-1:first+79], prevs[first-1:first+79]))
		if err != nil {
			t.Fatal(err)
		}
		segs = append(segs, s)
	}
	for range 200 {
		h := r.Uint64()
		var want uint64
		for _, s := range segs {
			// The block the probe of postingsOf starts from: the bit
			// it tests first lies in it.
			key := h
			if s.format >= 3 {
				key = filterKey32(uint32(h >> 32))
			}
			if s.format < 2 {
				continue
			}
			b := s.keyFilter.block(key)
			want ^= s.keyFilter[b] ^ s.keyFilter[b+filterBlockW-1]
		}
		if got := keyFilterWords(segs, h); got != want {
			t.Fatalf("hash %x: touched %x, want %x", h, got, want)
		}
		touchKeyFilters(segs, h)
		if filterTouched.Load() != want {
			t.Fatal("touchKeyFilters did not read the blocks")
		}
	}
}
