package index

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/trovedb/trove"
)

func TestTerms(t *testing.T) {
	payload := `{"a":"x\"y","n":1.0,"m":-2e1,"b":true,"z":null,"o":{"p":{"q":"deep"},"arr":[1,{"r":2}]},"u":"\u00e9t\u00e9"}`
	got := terms([]byte(payload))
	want := []string{"a=sx\"y", "n=n1", "m=n-20", "b=b1", "z=z", "o.p.q=sdeep", "u=sété"}
	if !slices.Equal(got, want) {
		t.Fatalf("terms\n got %q\nwant %q", got, want)
	}
	for _, c := range []struct {
		v    any
		want string
	}{{json.Number("1"), "n1"}, {json.Number("1.00"), "n1"}, {json.Number("0.5"), "n5e-1"}, {json.Number("-0"), "n0"}, {json.Number("1e999999"), "n1e999999"}, {json.Number("9e-9999999"), "n9e-9999999"}, {"s", "ss"}, {false, "b0"}, {nil, "z"}} {
		if k, ok := ValueKey(c.v); !ok || k != c.want {
			t.Errorf("ValueKey(%v) = %q, want %q", c.v, k, c.want)
		}
	}
	// A number of any size is a term and the walk goes on past it.
	got = terms([]byte(`{"a":1e9999999,"z":"findme","t":9e-9999999,"w":-0}`))
	if want := []string{"a=n1e9999999", "z=sfindme", "t=n9e-9999999", "w=n0"}; !slices.Equal(got, want) {
		t.Fatalf("terms past a huge number\n got %q\nwant %q", got, want)
	}
	// Malformed input ends the walk without a panic, after the terms
	// before the fault.
	for bad, want := range map[string][]string{`{"a":`: nil, `{"a":tru}`: nil, `{"a":"x`: nil, `[1,2]`: nil, `{"a":[1,2}`: nil, ``: nil,
		`{"a":1,"b":[1,,2],"c":3}`: {"a=n1"}, `{"a":"x","b":1.}`: {"a=sx"}, `{"a":"x","b":{"c":-}}`: {"a=sx"}, `{"a":1}trailing`: {"a=n1"}} {
		if got := terms([]byte(bad)); !slices.Equal(got, want) {
			t.Errorf("terms of %q: %q, want %q", bad, got, want)
		}
	}
}

func TestIndexBasics(t *testing.T) {
	ix := New(Options{MaxPathValues: 2})
	add := func(pos uint32, id string, v int, payload string, links ...trove.EventLink) {
		t.Helper()
		if err := ix.Add(pos, Doc{ID: id, Version: v, CreatedAt: int64(pos), Schema: "s", Producer: "p", Payload: []byte(payload), Links: links}); err != nil {
			t.Fatal(err)
		}
	}
	add(1, "a", 1, `{"k":"x","h":1}`, trove.EventLink{Type: "t", TargetEvent: trove.EventID{ID: "b"}})
	add(2, "b", 1, `{"k":"y","h":2}`)
	add(3, "a", 2, `{"k":"x","h":3}`) // h passes the guard of 2 values
	if err := ix.Add(5, Doc{ID: "c"}); err == nil {
		t.Fatal("adding out of order must fail")
	}
	ix.AddLink(2, trove.EventLink{Type: "u", TargetEvent: trove.EventID{ID: "a"}})
	if p, ok := ix.Lookup("a", 0); !ok || p != 3 {
		t.Fatalf("latest of a: %d %v", p, ok)
	}
	if p, ok := ix.Lookup("a", 1); !ok || p != 1 {
		t.Fatalf("a@1: %d %v", p, ok)
	}
	if _, ok := ix.Lookup("a", 3); ok {
		t.Fatal("a@3 must not exist")
	}
	ix.Read(func(r Reader) {
		if !r.Superseded().Contains(1) || r.Superseded().GetCardinality() != 1 {
			t.Fatalf("superseded: %v", r.Superseded().ToArray())
		}
		if p, ok := r.Term("k", "sx"); !ok || !slices.Equal(p.Bitmap(1, 1<<32).ToArray(), []uint32{1, 3}) {
			t.Fatalf("k=x: %v %v", p.Bitmap(1, 1<<32), ok)
		}
		if _, ok := r.Term("h", "n1"); ok {
			t.Fatal("h must have stopped being indexed")
		}
		if got := r.LinkTarget("a").Bitmap(1, 1<<32).ToArray(); !slices.Equal(got, []uint32{2}) {
			t.Fatalf("links to a: %v", got)
		}
	})
	if sealed, in := ix.Incoming("a"); sealed != nil || len(in) != 1 || in[0] != (LinkRef{Source: 2, Slot: -1, After: 3}) {
		t.Fatalf("incoming a: %v %+v", sealed, in)
	}
	if sealed, in := ix.Incoming("b"); sealed != nil || len(in) != 1 || in[0] != (LinkRef{Source: 1, Slot: 0, After: 1}) {
		t.Fatalf("incoming b: %v %+v", sealed, in)
	}
}

// TestSnapshotRoundTrip: a decoded snapshot encodes to the same bytes.
func TestSnapshotRoundTrip(t *testing.T) {
	ix := New(Options{})
	for i := uint32(1); i <= 3000; i++ {
		_ = ix.Add(i, Doc{ID: string(rune('a' + i%50)), Version: int(i/50) + 1, CreatedAt: int64(i * 7), Schema: "s" + string(rune('0'+i%3)),
			Producer: "p", Payload: []byte(`{"v":` + string(rune('0'+i%10)) + `}`),
			Links: []trove.EventLink{{Type: "t", TargetEvent: trove.EventID{ID: "x"}}}})
	}
	ix.AddLink(7, trove.EventLink{Type: "late", TargetEvent: trove.EventID{ID: "y", Version: 2}, Metadata: json.RawMessage(`{"m":1}`)})
	var a, b bytes.Buffer
	if err := ix.Encode(&a, []byte("m")); err != nil {
		t.Fatal(err)
	}
	ix2, meta, err := Decode("f", a.Bytes())
	if err != nil || string(meta) != "m" {
		t.Fatal(err)
	}
	if err := ix2.Encode(&b, meta); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("snapshot does not round-trip")
	}
	data := a.Bytes()
	for _, off := range []int{0, 9, 13, 30, len(data) / 2, len(data) - 1} {
		bad := bytes.Clone(data)
		bad[off] ^= 0x40
		if _, _, err := Decode("f", bad); !errors.Is(err, trove.ErrCorrupt) {
			t.Fatalf("flipped byte %d: %v, want ErrCorrupt", off, err)
		}
	}
	if _, _, err := Decode("f", data[:len(data)-3]); !errors.Is(err, trove.ErrCorrupt) {
		t.Fatalf("truncated: %v", err)
	}
}

// TestGolden decodes the checked-in snapshots of format versions 4 and 5
// (their postings trimmed: a segment index covers positions 1 and 2; the
// version 5 id table holds only the ids after them), so that a change to
// the encoder cannot silently orphan existing files.
func TestGolden(t *testing.T) {
	ix := goldenIndex()
	var buf bytes.Buffer
	if err := ix.Encode(&buf, []byte(`{"golden":1}`)); err != nil {
		t.Fatal(err)
	}
	want, err := readGolden()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatal("encoder output differs from testdata/v5.snap (a format change needs a new version)")
	}
	v4, err := os.ReadFile(filepath.Join("testdata", "v4.snap"))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"v4.snap": v4, "v5.snap": want} {
		t.Run(name, func(t *testing.T) { checkGolden(t, name, data) })
	}
}

func checkGolden(t *testing.T, name string, data []byte) {
	got, meta, err := DecodeWith(name, data, Options{IDAt: goldenIDAt})
	if err != nil || string(meta) != `{"golden":1}` {
		t.Fatalf("decode golden: %v", err)
	}
	defer got.Close()
	got.Readable(4)
	if p, ok := got.Lookup("doc-2", 2); !ok || p != 4 {
		t.Fatalf("golden lookup: %d %v", p, ok)
	}
	keys := sortedKeys(got.st.terms)
	sort.Strings(keys)
	if !slices.Equal(keys, []string{"color", "size"}) {
		t.Fatalf("golden paths: %v", keys)
	}
	if got.Trimmed() != 2 {
		t.Fatalf("golden trimmed prefix: %d", got.Trimmed())
	}
	// Without its segment index the trimmed prefix is all candidates;
	// with it, the postings are exact again.
	check := func(want map[string][]uint32) {
		t.Helper()
		got.Read(func(r Reader) {
			for term, w := range want {
				path, value, ok := strings.Cut(term, "=")
				if !ok {
					continue
				}
				p, _ := r.Term(path, value)
				if b := p.Bitmap(1, 1<<32).ToArray(); !slices.Equal(b, w) {
					t.Errorf("%s: %v, want %v", term, b, w)
				}
			}
			if b := r.LinkTarget("doc-1").Bitmap(1, 1<<32).ToArray(); !slices.Equal(b, want["->doc-1"]) {
				t.Errorf("links to doc-1: %v, want %v", b, want["->doc-1"])
			}
		})
	}
	check(map[string][]uint32{"color=sred": {1, 2}, "color=sgreen": {1, 2, 4}, "size=n2": {1, 2, 3}, "->doc-1": {1, 2}})
	got.SetSegments([]*SegIndex{goldenSegIndex()})
	check(map[string][]uint32{"color=sred": {1}, "color=sgreen": {4}, "size=n2": {3}, "->doc-1": {2}})
	if sealed, refs := got.Incoming("doc-2"); !slices.Equal(sealed.ToArray(), []uint32{}) || len(refs) != 1 || refs[0] != (LinkRef{Source: 3, Slot: -1, After: 4}) {
		t.Fatalf("incoming doc-2: %v %+v", sealed, refs)
	}
	// The sealed ids are found through the segment index.
	for _, c := range []struct {
		id      string
		version int
		pos     uint32
	}{{"doc-1", 0, 1}, {"doc-1", 1, 1}, {"doc-2", 1, 2}, {"doc-2", 0, 4}, {"doc-3", 0, 3}} {
		if p, ok := got.Lookup(c.id, c.version); !ok || p != c.pos {
			t.Errorf("lookup %s v%d: %d %v, want %d", c.id, c.version, p, ok, c.pos)
		}
	}
	if _, ok := got.Lookup("doc-4", 0); ok {
		t.Error("lookup of an absent id found it")
	}
	if got.st.ids.n != 2 {
		t.Errorf("the id table holds %d ids, want the head's 2", got.st.ids.n)
	}
}

// goldenSegIndex is the segment index of the golden documents 1 and 2.
func goldenSegIndex() *SegIndex {
	b := NewSegIndexBuilder(1)
	for i, d := range goldenDocs[:2] {
		if err := b.Add(uint32(i+1), 0, d); err != nil {
			panic(err)
		}
	}
	var buf bytes.Buffer
	if err := b.Encode(&buf); err != nil {
		panic(err)
	}
	si, err := DecodeSegIndex("golden.idx", buf.Bytes())
	if err != nil {
		panic(err)
	}
	return si
}

func goldenIndex() *Index {
	ix := New(Options{})
	ix.st.ids.seed = 0x5eed
	for i, d := range goldenDocs {
		_ = ix.Add(uint32(i+1), d)
	}
	ix.AddLink(3, trove.EventLink{Type: "ref", TargetEvent: trove.EventID{ID: "doc-2", Version: 1}})
	ix.SetSegments([]*SegIndex{goldenSegIndex()})
	return ix
}

func goldenIDAt(pos uint32) (string, error) { return goldenDocs[pos-1].ID, nil }

var goldenDocs = []Doc{
	{ID: "doc-1", Version: 1, CreatedAt: 1744707298123, Schema: "doc+v1", Producer: "web", Payload: []byte(`{"color":"red","size":1}`)},
	{ID: "doc-2", Version: 1, CreatedAt: 1744707299000, Schema: "doc+v1", Producer: "cli", Payload: []byte(`{"color":"blue"}`),
		Links: []trove.EventLink{{Type: "parent", TargetEvent: trove.EventID{ID: "doc-1"}}}},
	{ID: "doc-3", Version: 1, CreatedAt: 1744707300000, Schema: "note+v1", Producer: "web", Payload: []byte(`{"size":2.0}`)},
	{ID: "doc-2", Version: 2, CreatedAt: 1744707301000, Schema: "doc+v1", Producer: "cli", Payload: []byte(`{"color":"green"}`)},
}

func FuzzDecode(f *testing.F) {
	var buf bytes.Buffer
	_ = goldenIndex().Encode(&buf, []byte("m"))
	f.Add(buf.Bytes())
	f.Add([]byte("TRVINDEX"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ix, _, err := Decode("fuzz", data)
		if err != nil {
			if !errors.Is(err, trove.ErrCorrupt) && !errors.Is(err, ErrOldSnapshot) {
				t.Fatalf("error %v does not match ErrCorrupt", err)
			}
			return
		}
		var out bytes.Buffer
		if err := ix.Encode(&out, nil); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzDecodeBody skips the checksum, so the fuzzer reaches the body
// decoder: it must return an error or an index, never panic.
func FuzzDecodeBody(f *testing.F) {
	var snap bytes.Buffer
	_ = goldenIndex().Encode(&snap, []byte("m"))
	f.Add(snap.Bytes()[headerSize : snap.Len()-trailerSize])
	f.Fuzz(func(t *testing.T, body []byte) {
		var hdr bytes.Buffer
		hdr.WriteString(snapMagic)
		hdr.Write([]byte{snapVersion, 0, 0, 0})
		hdr.Write(body)
		n := uint64(len(body))
		for range 8 {
			hdr.WriteByte(byte(n))
			n >>= 8
		}
		crc := crc32Checksum(body)
		hdr.Write([]byte{byte(crc), byte(crc >> 8), byte(crc >> 16), byte(crc >> 24)})
		if _, _, err := Decode("fuzz", hdr.Bytes()); err != nil && !errors.Is(err, trove.ErrCorrupt) && !errors.Is(err, ErrOldSnapshot) {
			t.Fatalf("error %v does not match ErrCorrupt", err)
		}
	})
}

// TestLookupValue agrees with decoding the payload and trove.Lookup,
// including dotted keys, repeated keys (last wins), arrays and objects.
func TestLookupValue(t *testing.T) {
	payloads := []string{
		`{"a":{"b":1},"a.b":2}`,
		`{"a":{"b":1},"a":{"c":2}}`,
		`{"a":1,"a":"x"}`,
		`{"a":[1,2],"b":{"c":[{"d":1}]},"e":{"f":null,"g":true,"h":"s\"q"}}`,
		`{"n":1.50,"m":-0,"big":123456789012345678901234567890}`,
		`{}`,
	}
	paths := []string{"a", "a.b", "a.c", "b.c", "b.c.d", "e.f", "e.g", "e.h", "n", "m", "big", "zz", "e"}
	for _, p := range payloads {
		v, err := trove.DecodePayload([]byte(p))
		if err != nil {
			t.Fatal(err)
		}
		for _, path := range paths {
			keys := strings.Split(path, ".")
			want, ok := trove.Lookup(v, keys)
			wantKey := ""
			if ok {
				wantKey, ok = ValueKey(want)
			}
			got, gotOK := LookupValue([]byte(p), keys)
			if got != wantKey || gotOK != ok {
				t.Errorf("%s %s: got %q %v, want %q %v", p, path, got, gotOK, wantKey, ok)
			}
		}
	}
}
