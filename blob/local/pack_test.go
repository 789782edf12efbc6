package local

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/blob"
)

// testData is n deterministic bytes, distinct per seed.
func testData(seed, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte((i*31 + seed*17 + i/251) ^ seed)
	}
	return b
}

func mustOpen(t *testing.T, dir string, opts Options) *Store {
	t.Helper()
	s, err := OpenWith(context.Background(), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustPut(t *testing.T, s *Store, key string, data []byte) {
	t.Helper()
	if _, err := s.Put(context.Background(), key, bytes.NewReader(data), blob.PutOptions{ContentType: "text/plain", Metadata: map[string]string{"filename": key + ".txt", "a": "1"}}); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

// checkKeys checks that every key in want holds its bytes and every key in
// gone is not found.
func checkKeys(t *testing.T, s *Store, want map[string][]byte, gone []string) {
	t.Helper()
	ctx := context.Background()
	for k, d := range want {
		rc, info, err := s.Get(ctx, k)
		if err != nil {
			t.Fatalf("get %s: %v", k, err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if !bytes.Equal(got, d) || info.Size != int64(len(d)) || info.ContentType != "text/plain" || info.Metadata["filename"] != k+".txt" {
			t.Fatalf("get %s: %d bytes (want %d), info %+v", k, len(got), len(d), info)
		}
	}
	for _, k := range gone {
		if _, err := s.Stat(ctx, k); !errors.Is(err, trove.ErrNotFound) {
			t.Fatalf("stat %s = %v, want ErrNotFound", k, err)
		}
	}
}

func packPath(dir string, n uint32) string { return filepath.Join(dir, "packs", packName(n)) }

func keysPath(dir string, n uint32) string { return filepath.Join(dir, "packs", keysName(n)) }

func appendTo(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
}

func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := []byte{0}
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x40
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// groups returns where the last group of pack path starts and where the
// pack's records end (the zeros written ahead follow).
func groups(t *testing.T, path string) (lastGroup, end int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	off, start := int64(packHeaderSize), int64(packHeaderSize)
	for off < int64(len(b)) {
		p, n, err := decodeFrame(b[off:])
		if err != nil {
			break
		}
		off += int64(n)
		if p.typ == recCommit {
			lastGroup, start = start, off
		}
	}
	if start != off || !isZero(b[off:]) {
		t.Fatalf("%s: records end at %d, the last commit at %d, then %d bytes", path, off, start, len(b)-int(off))
	}
	return lastGroup, off
}

func lastGroupOff(t *testing.T, path string) int64 {
	t.Helper()
	g, _ := groups(t, path)
	return g
}

func usedEnd(t *testing.T, path string) int64 {
	t.Helper()
	_, e := groups(t, path)
	return e
}

// writeAtEnd writes b where pack path's records end, over the zeros
// written ahead.
func writeAtEnd(t *testing.T, path string, b []byte) {
	t.Helper()
	end := usedEnd(t, path)
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, end); err != nil {
		t.Fatal(err)
	}
}

// TestPackTornTail damages the end of the last pack in the ways a crash
// mid-write can and checks that Check reports a torn tail (no problem),
// that Open truncates it keeping every group before it, and that the store
// then works and reopens.
func TestPackTornTail(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name     string
		damage   func(t *testing.T, dir string)
		lostLast bool // the last Put's group is gone
		noTail   bool // nothing to cut: no torn tail
	}{
		{"cut mid-record", func(t *testing.T, dir string) {
			p := packPath(dir, 1)
			os.Truncate(p, lastGroupOff(t, p)+20)
		}, true, false},
		{"commit cut short", func(t *testing.T, dir string) {
			p := packPath(dir, 1)
			os.Truncate(p, usedEnd(t, p)-3)
		}, true, false},
		{"last group's bytes damaged", func(t *testing.T, dir string) {
			p := packPath(dir, 1)
			flipByte(t, p, lastGroupOff(t, p)+100)
		}, true, false},
		{"last commit damaged", func(t *testing.T, dir string) {
			p := packPath(dir, 1)
			flipByte(t, p, usedEnd(t, p)-2)
		}, true, false},
		{"zeros written ahead cut", func(t *testing.T, dir string) {
			p := packPath(dir, 1)
			os.Truncate(p, usedEnd(t, p)+100)
		}, false, true},
		{"zeros written ahead gone", func(t *testing.T, dir string) {
			p := packPath(dir, 1)
			os.Truncate(p, usedEnd(t, p))
		}, false, true},
		{"garbage after the zeros", func(t *testing.T, dir string) {
			appendTo(t, packPath(dir, 1), testData(9, 3000))
		}, false, false},
		{"garbage over the zeros", func(t *testing.T, dir string) {
			writeAtEnd(t, packPath(dir, 1), testData(9, 3000))
		}, false, false},
		{"records without their commit", func(t *testing.T, dir string) {
			d := testData(10, 500)
			writeAtEnd(t, packPath(dir, 1), encodePut("unacked", sha256.Sum256(d), "", nil, d))
		}, false, false},
		// A new pack is started once the last one is cut to its records.
		{"a new pack cut short", func(t *testing.T, dir string) {
			os.Truncate(packPath(dir, 1), usedEnd(t, packPath(dir, 1)))
			os.WriteFile(packPath(dir, 2), []byte("trove"), 0o644)
		}, false, false},
		{"a new pack of zeros", func(t *testing.T, dir string) {
			os.Truncate(packPath(dir, 1), usedEnd(t, packPath(dir, 1)))
			os.WriteFile(packPath(dir, 2), make([]byte, packHeaderSize), 0o644)
		}, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := mustOpen(t, dir, Options{})
			want := map[string][]byte{}
			for i := range 5 {
				k := fmt.Sprintf("k%d", i)
				want[k] = testData(i, 100+i*1000)
				mustPut(t, s, k, want[k])
			}
			s.Close()
			tc.damage(t, dir)
			var gone []string
			if tc.lostLast {
				delete(want, "k4")
				gone = append(gone, "k4")
			}
			rep, err := Check(ctx, dir)
			if err != nil || len(rep.Problems) != 0 || (rep.TornTail == "") != tc.noTail {
				t.Fatalf("Check = %+v, %v; want no problem, a torn tail: %v", rep, err, !tc.noTail)
			}
			s = mustOpen(t, dir, Options{})
			checkKeys(t, s, want, append(gone, "unacked"))
			want["after"] = testData(20, 2000)
			mustPut(t, s, "after", want["after"])
			s.Close()
			if rep, err := Check(ctx, dir); err != nil || rep.TornTail != "" || rep.Keys != len(want) || rep.Packed != len(want) {
				t.Fatalf("Check after repair = %+v, %v", rep, err)
			}
			s = mustOpen(t, dir, Options{})
			defer s.Close()
			checkKeys(t, s, want, gone)
			if err := s.Verify(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestPackDamage damages packs in ways no crash can and checks that Open
// fails with a CorruptionError naming the pack (and changes nothing), that
// Check reports the damage, and that OpenReadOnly still serves every
// record that reads back intact.
func TestPackDamage(t *testing.T) {
	ctx := context.Background()
	// Two packs of about 3 puts each.
	setup := func(t *testing.T) (string, map[string][]byte) {
		dir := t.TempDir()
		s := mustOpen(t, dir, Options{PackSize: 6000})
		want := map[string][]byte{}
		for i := range 6 {
			k := fmt.Sprintf("k%d", i)
			want[k] = testData(i, 2000)
			mustPut(t, s, k, want[k])
		}
		s.Close()
		if _, err := os.Stat(packPath(dir, 2)); err != nil {
			t.Fatal("want two packs:", err)
		}
		return dir, want
	}
	firstRecord := int64(packHeaderSize)
	cases := []struct {
		name    string
		damage  func(t *testing.T, dir string)
		file    uint32 // the pack the error names
		lost    []string
		offset  int64 // -2: any
		salvage bool  // OpenReadOnly opens
	}{
		{"bit flip in a record of the first pack, its key file gone", func(t *testing.T, dir string) {
			flipByte(t, packPath(dir, 1), firstRecord+200)
			os.Remove(keysPath(dir, 1))
		}, 1, []string{"k0"}, firstRecord, true},
		{"bit flip in an early record of the last pack", func(t *testing.T, dir string) {
			flipByte(t, packPath(dir, 2), firstRecord+300)
		}, 2, []string{"k3"}, firstRecord, true},
		{"first pack cut short", func(t *testing.T, dir string) {
			p := packPath(dir, 1)
			os.Truncate(p, fileSize(t, p)-5)
		}, 1, nil, -2, true},
		{"bad header", func(t *testing.T, dir string) {
			flipByte(t, packPath(dir, 1), 3)
		}, 1, nil, 0, true},
		{"pack missing", func(t *testing.T, dir string) {
			os.Remove(packPath(dir, 1))
		}, 1, []string{"k0", "k1", "k2"}, -1, true},
		{"second put of a live key", func(t *testing.T, dir string) {
			d := testData(0, 10)
			g := encodePut("k0", sha256.Sum256(d), "", nil, d)
			writeAtEnd(t, packPath(dir, 2), appendCommit(g, g))
		}, 2, nil, -2, true},
		{"delete of a key not live", func(t *testing.T, dir string) {
			g := encodeDelete("nope")
			writeAtEnd(t, packPath(dir, 2), appendCommit(g, g))
		}, 2, nil, -2, true},
		{"zeros after the first pack", func(t *testing.T, dir string) {
			appendTo(t, packPath(dir, 1), make([]byte, 100))
		}, 1, nil, -2, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir, want := setup(t)
			tc.damage(t, dir)
			before := snapshot(t, dir)
			_, err := OpenWith(ctx, dir, Options{PackSize: 6000})
			var ce *trove.CorruptionError
			if !errors.As(err, &ce) || !errors.Is(err, trove.ErrCorrupt) {
				t.Fatalf("Open = %v, want a CorruptionError", err)
			}
			if ce.File != packPath(dir, tc.file) || tc.offset != -2 && ce.Offset != tc.offset {
				t.Fatalf("Open names %s at %d, want %s at %d", ce.File, ce.Offset, packPath(dir, tc.file), tc.offset)
			}
			if after := snapshot(t, dir); !equalSnapshots(before, after) {
				t.Fatal("a failed Open changed the directory")
			}
			rep, err := Check(ctx, dir)
			if !errors.As(err, &ce) || len(rep.Problems) == 0 {
				t.Fatalf("Check = %+v, %v; want problems", rep, err)
			}
			if !tc.salvage {
				return
			}
			s, err := OpenReadOnly(ctx, dir)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if len(s.Damage()) == 0 {
				t.Fatal("OpenReadOnly lists no damage")
			}
			for _, k := range tc.lost {
				delete(want, k)
			}
			checkKeys(t, s, want, nil)
			if _, err := s.Put(ctx, "x", bytes.NewReader(nil), blob.PutOptions{}); !errors.Is(err, trove.ErrInvalid) {
				t.Fatalf("Put on a read-only store = %v", err)
			}
			if after := snapshot(t, dir); !equalSnapshots(before, after) {
				t.Fatal("OpenReadOnly changed the directory")
			}
		})
	}
}

// snapshot maps every regular file under dir but LOCK to its bytes.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() && info.Name() != "LOCK" {
			b, _ := os.ReadFile(path)
			m[path] = string(b)
		}
		return nil
	})
	return m
}

func equalSnapshots(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestPackGetDamaged damages a record under an open store and checks that
// Get and Stat report a CorruptionError at the record, and Verify too.
func TestPackGetDamaged(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	defer s.Close()
	mustPut(t, s, "a", testData(1, 3000))
	mustPut(t, s, "b", testData(2, 3000))
	flipByte(t, packPath(dir, 1), packHeaderSize+500)
	var ce *trove.CorruptionError
	if _, _, err := s.Get(ctx, "a"); !errors.As(err, &ce) || ce.Offset != packHeaderSize {
		t.Fatalf("Get = %v", err)
	}
	if _, err := s.Stat(ctx, "a"); !errors.As(err, &ce) {
		t.Fatalf("Stat = %v", err)
	}
	if err := s.Verify(ctx); !errors.As(err, &ce) {
		t.Fatalf("Verify = %v", err)
	}
	checkKeys(t, s, map[string][]byte{"b": testData(2, 3000)}, nil)
}

// TestPackDeleteStaysDeleted deletes packed and loose keys and checks they
// stay deleted after reopening, that the keys can be put again with other
// bytes (packed or loose), and that those stay.
func TestPackDeleteStaysDeleted(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{SmallMax: 4096})
	small, big := testData(1, 1000), testData(2, 10000)
	mustPut(t, s, "small", small)
	mustPut(t, s, "big", big)
	mustPut(t, s, "kept", small)
	for _, k := range []string{"small", "big"} {
		if err := s.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, k); !errors.Is(err, trove.ErrNotFound) {
			t.Fatalf("second Delete(%s) = %v", k, err)
		}
	}
	s.Close()
	s = mustOpen(t, dir, Options{SmallMax: 4096})
	checkKeys(t, s, map[string][]byte{"kept": small}, []string{"small", "big"})
	// Swapped: the small key comes back loose, the big one packed.
	mustPut(t, s, "small", big)
	mustPut(t, s, "big", small)
	s.Close()
	s = mustOpen(t, dir, Options{SmallMax: 4096})
	checkKeys(t, s, map[string][]byte{"kept": small, "small": big, "big": small}, nil)
	if err := s.Delete(ctx, "big"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if rep, err := Check(ctx, dir); err != nil || rep.Keys != 2 || rep.Packed != 1 {
		t.Fatalf("Check = %+v, %v", rep, err)
	}
}

// TestOldLayoutReads opens a directory as builds before packs wrote it
// (loose objects only, no packs/) and checks that every object reads, that
// new small objects are packed beside them, and that Check passes.
func TestOldLayoutReads(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{SmallMax: -1})
	want := map[string][]byte{"a": testData(1, 10), "b": testData(2, 5000), "c": testData(3, 100000)}
	for k, d := range want {
		mustPut(t, s, k, d)
	}
	s.Close()
	if err := os.Remove(filepath.Join(dir, "packs")); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, dir, Options{})
	checkKeys(t, s, want, nil)
	// A retry of an old key stays loose and idempotent; other bytes conflict.
	if _, err := s.Put(ctx, "a", bytes.NewReader(want["a"]), blob.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "a", bytes.NewReader(want["b"]), blob.PutOptions{}); !errors.Is(err, trove.ErrConflict) {
		t.Fatalf("Put of other bytes on an old key = %v", err)
	}
	want["d"] = testData(4, 700)
	mustPut(t, s, "d", want["d"])
	s.Close()
	rep, err := Check(ctx, dir)
	if err != nil || rep.Keys != 4 || rep.Packed != 1 {
		t.Fatalf("Check = %+v, %v", rep, err)
	}
	s = mustOpen(t, dir, Options{})
	defer s.Close()
	checkKeys(t, s, want, nil)
}

// TestCheckLockedAndMissing checks that Check refuses a directory a store
// has open, and that a missing directory checks clean.
func TestCheckLockedAndMissing(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	if _, err := Check(ctx, dir); !errors.Is(err, trove.ErrLocked) {
		t.Fatalf("Check of an open store = %v, want ErrLocked", err)
	}
	s.Close()
	if rep, err := Check(ctx, filepath.Join(dir, "nothing")); err != nil || rep.Keys != 0 {
		t.Fatalf("Check of a missing directory = %+v, %v", rep, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "nothing")); err == nil {
		t.Fatal("Check created the directory")
	}
}

// TestPackOptions checks option validation.
func TestPackOptions(t *testing.T) {
	for _, o := range []Options{{SmallMax: maxSmall + 1}, {PackSize: -1}} {
		if _, err := OpenWith(context.Background(), t.TempDir(), o); !errors.Is(err, trove.ErrInvalid) {
			t.Fatalf("OpenWith(%+v) = %v, want ErrInvalid", o, err)
		}
	}
}

// TestPackCodec round-trips every record kind and refuses bad frames.
func TestPackCodec(t *testing.T) {
	d := testData(1, 300)
	sum := sha256.Sum256(d)
	meta := map[string]string{"filename": "x.txt", "b": "", "a-1": "v"}
	frame := encodePut("key.1", sum, "text/plain", meta, d)
	p, n, err := decodeFrame(frame)
	if err != nil || n != len(frame) || p.typ != recPut || p.key != "key.1" || p.sha256 != sum || p.contentType != "text/plain" ||
		len(p.meta) != 3 || p.meta["filename"] != "x.txt" || !bytes.Equal(p.data, d) {
		t.Fatalf("put round trip: %+v, %d, %v", p, n, err)
	}
	del := encodeDelete("key.1")
	if p, _, err := decodeFrame(del); err != nil || p.typ != recDelete || p.key != "key.1" {
		t.Fatalf("delete round trip: %+v, %v", p, err)
	}
	c := appendCommit(nil, frame)
	if p, _, err := decodeFrame(c); err != nil || p.typ != recCommit || int(p.groupLen) != len(frame) || p.groupCRC != groupCRC(frame) {
		t.Fatalf("commit round trip: %+v, %v", p, err)
	}
	body := func(b []byte) []byte { return appendFrame(nil, recPut, b) }
	bad := map[string][]byte{
		"empty":          nil,
		"type 0":         append([]byte{0}, frame[1:]...),
		"type 9":         append([]byte{9}, frame[1:]...),
		"cut short":      frame[:len(frame)-1],
		"length too big": {recPut, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0},
		"bad crc":        append(append([]byte{}, frame[:len(frame)-1]...), frame[len(frame)-1]^1),
		"bad key":        body(append([]byte{3}, "a/b"...)),
		"empty key":      body([]byte{0}),
		"key past end":   body([]byte{5, 'a'}),
		"delete extra":   appendFrame(nil, recDelete, []byte{1, 'a', 0}),
		"commit short":   appendFrame(nil, recCommit, []byte{1, 2, 3}),
		"unsorted meta":  encodePutRaw(t, [][2]string{{"b", "1"}, {"a", "2"}}),
		"duplicate meta": encodePutRaw(t, [][2]string{{"a", "1"}, {"a", "2"}}),
		"bad meta name":  encodePutRaw(t, [][2]string{{"A", "1"}}),
	}
	for name, b := range bad {
		if _, _, err := decodeFrame(b); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

// encodePutRaw encodes a put with metadata entries in the order given.
func encodePutRaw(t *testing.T, meta [][2]string) []byte {
	t.Helper()
	b := append([]byte{1, 'k'}, make([]byte, 32)...)
	b = append(b, 0, 0, byte(len(meta)), 0)
	for _, kv := range meta {
		b = append(b, byte(len(kv[0])))
		b = append(b, kv[0]...)
		b = append(b, byte(len(kv[1])), 0)
		b = append(b, kv[1]...)
	}
	return appendFrame(nil, recPut, b)
}

// FuzzDecodeFrame: any bytes decode to a record or an error, never a
// panic; a record that decodes encodes back to the same bytes.
func FuzzDecodeFrame(f *testing.F) {
	d := testData(1, 50)
	put := encodePut("k", sha256.Sum256(d), "text/plain", map[string]string{"filename": "f", "x": "y"}, d)
	f.Add(put)
	f.Add(encodeDelete("key"))
	f.Add(appendCommit(nil, put))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, n, err := decodeFrame(b)
		if err != nil {
			return
		}
		var again []byte
		switch p.typ {
		case recPut:
			again = encodePut(p.key, p.sha256, p.contentType, p.meta, p.data)
		case recDelete:
			again = encodeDelete(p.key)
		case recCommit:
			again = appendFrame(nil, recCommit, b[frameHeader:n])
		}
		if !bytes.Equal(again, b[:n]) {
			t.Fatalf("re-encoding differs:\n%x\n%x", again, b[:n])
		}
	})
}

// FuzzOpenPack: a pack of any bytes opens (read-only, and then writable)
// or fails with an error, never a panic; what a writable open serves
// reads back.
func FuzzOpenPack(f *testing.F) {
	d := testData(1, 50)
	g := encodePut("k", sha256.Sum256(d), "", nil, d)
	pack := append(packHeader(), appendCommit(g, g)...)
	f.Add(pack)
	f.Add(append(append([]byte{}, pack...), 1, 2, 3))
	f.Add(packHeader())
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		os.MkdirAll(filepath.Join(dir, "packs"), 0o755)
		if err := os.WriteFile(packPath(dir, 1), b, 0o644); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if r, err := OpenReadOnly(ctx, dir); err == nil {
			for _, k := range r.pack.keys() {
				r.Stat(ctx, k)
			}
			r.Close()
		}
		s, err := OpenWith(ctx, dir, Options{})
		if err != nil {
			if !errors.Is(err, trove.ErrCorrupt) {
				t.Fatalf("Open = %v, want nil or a CorruptionError", err)
			}
			return
		}
		defer s.Close()
		for _, k := range s.pack.keys() {
			if _, err := s.Stat(ctx, k); err != nil {
				t.Fatalf("stat %s: %v", k, err)
			}
		}
	})
}

// goldenOps writes the golden pack's records: one group each.
func goldenOps(t *testing.T, s *Store) {
	t.Helper()
	ctx := context.Background()
	mustPut(t, s, "a", testData(1, 100))
	if _, err := s.Put(ctx, "b.bin", bytes.NewReader(testData(2, 300)), blob.PutOptions{ContentType: "application/octet-stream"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, "c", nil)
}

// TestGoldenPack pins pack version 1: the records this build writes are
// byte for byte those of testdata/packs-v1 (then zeros written ahead) (TROVE_UPDATE_GOLDEN=1
// rewrites it, for a new version only), and a copy of that directory opens
// and reads back.
func TestGoldenPack(t *testing.T) {
	golden := filepath.Join("testdata", "packs-v1", "packs", packName(1))
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	goldenOps(t, s)
	s.Close()
	got, err := os.ReadFile(packPath(dir, 1))
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("TROVE_UPDATE_GOLDEN") == "1" {
		os.MkdirAll(filepath.Dir(golden), 0o755)
		if err := os.WriteFile(golden, got[:usedEnd(t, packPath(dir, 1))], 0o644); err != nil {
			t.Fatal(err)
		}
		marker, _ := os.ReadFile(filepath.Join(dir, "trove-blob.json"))
		os.WriteFile(filepath.Join("testdata", "packs-v1", "trove-blob.json"), marker, 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) < len(want) || !bytes.Equal(got[:len(want)], want) || !isZero(got[len(want):]) {
		t.Fatalf("the pack written differs from %s: the format changed without a new version", golden)
	}
	cp := t.TempDir()
	os.MkdirAll(filepath.Join(cp, "packs"), 0o755)
	os.WriteFile(filepath.Join(cp, "packs", packName(1)), want, 0o644)
	marker, err := os.ReadFile(filepath.Join("testdata", "packs-v1", "trove-blob.json"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(cp, "trove-blob.json"), marker, 0o644)
	r := mustOpen(t, cp, Options{})
	defer r.Close()
	ctx := context.Background()
	checkKeys(t, r, map[string][]byte{"c": {}}, []string{"a"})
	rc, info, err := r.Get(ctx, "b.bin")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(b, testData(2, 300)) || info.ContentType != "application/octet-stream" || info.Metadata != nil {
		t.Fatalf("b.bin: %d bytes, %+v", len(b), info)
	}
}

// regularFiles lists the regular files under dir/sub.
func regularFiles(t *testing.T, dir, sub string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(filepath.Join(dir, sub), func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// commitRecords counts the commit records (the groups) of pack path.
func commitRecords(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for off := packHeaderSize; off < len(b); {
		p, fl, err := decodeFrame(b[off:])
		if err != nil {
			break // the zeros written ahead
		}
		if p.typ == recCommit {
			n++
		}
		off += fl
	}
	return n
}

// TestPackCostPerPut counts what reaches the disk: a small Put or Delete
// costs one write and one fdatasync (its group's), the zeros written ahead
// riding in that write, and creates no file; a new pack costs a header
// write, its fsync and its directory's, and cutting the pack before it
// one ftruncate and one fdatasync; concurrent Puts share one write and
// one fdatasync per group (one commit record).
func TestPackCostPerPut(t *testing.T) {
	ops := func(s *Store) (int64, int64) { return s.pack.ops.writes.Load(), s.pack.ops.syncs.Load() }
	t.Run("sequential", func(t *testing.T) {
		dir := t.TempDir()
		s := mustOpen(t, dir, Options{})
		defer s.Close()
		mustPut(t, s, "first", testData(0, 1<<10))
		if w, y := ops(s); w != 2 || y != 3 {
			t.Fatalf("first put (new pack, then its group): %d writes, %d syncs; want 2, 3", w, y)
		}
		// 2,500 puts of 1 KiB pass the zeros written ahead twice.
		const n = 2500
		for i := range n {
			mustPut(t, s, fmt.Sprintf("k%04d", i), testData(i+1, 1<<10))
		}
		if err := s.Delete(context.Background(), "k0000"); err != nil {
			t.Fatal(err)
		}
		if w, y := ops(s); w != 2+n+1 || y != 3+n+1 {
			t.Fatalf("after %d puts and a delete: %d writes, %d syncs; want %d each more than the first put's", n, w, y, n+1)
		}
		if size := fileSize(t, packPath(dir, 1)); size <= 2<<20 || size%preallocChunk != 0 {
			t.Fatalf("pack of %d bytes: want the zeros written ahead past 2 MiB, to a multiple of %d", size, preallocChunk)
		}
		if g := commitRecords(t, packPath(dir, 1)); g != 1+n+1 {
			t.Fatalf("%d groups in the pack, want one per call (%d)", g, 1+n+1)
		}
		if got := append(regularFiles(t, dir, "objects"), regularFiles(t, dir, "keys")...); len(got) != 0 {
			t.Fatalf("small puts created loose files: %v", got)
		}
		if got := regularFiles(t, dir, "packs"); len(got) != 1 {
			t.Fatalf("packs: %v, want one", got)
		}
	})
	t.Run("new packs", func(t *testing.T) {
		dir := t.TempDir()
		s := mustOpen(t, dir, Options{PackSize: 64 << 10})
		defer s.Close()
		const n = 300 // 1 KiB each: about five packs of 64 KiB
		for i := range n {
			mustPut(t, s, fmt.Sprintf("k%04d", i), testData(i, 1<<10))
		}
		var packs int
		for _, f := range regularFiles(t, dir, "packs") {
			if strings.HasSuffix(f, ".pack") {
				packs++
			}
		}
		if packs < 4 {
			t.Fatalf("%d packs, want at least 4", packs)
		}
		groups := 0
		for i := range packs {
			groups += commitRecords(t, packPath(dir, uint32(i+1)))
		}
		// Packs started after the first, each cutting the one before and
		// writing its key file.
		later := int64(packs - 1)
		if w, y := ops(s); groups != n || w != n+1+3*later || y != n+2+4*later {
			t.Fatalf("%d puts over %d packs: %d groups, %d writes, %d syncs; want %d, %d, %d",
				n, packs, groups, w, y, n, n+1+3*later, n+2+4*later)
		}
	})
	t.Run("concurrent", func(t *testing.T) {
		dir := t.TempDir()
		s := mustOpen(t, dir, Options{})
		defer s.Close()
		const writers, each = 64, 10
		errs := make(chan error, writers)
		for w := range writers {
			go func() {
				var err error
				for i := range each {
					key := fmt.Sprintf("w%02d-%d", w, i)
					if _, err = s.Put(context.Background(), key, bytes.NewReader(testData(w*each+i, 1<<10)), blob.PutOptions{}); err != nil {
						break
					}
				}
				errs <- err
			}()
		}
		for range writers {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		groups := int64(commitRecords(t, packPath(dir, 1)))
		if w, y := ops(s); w != 1+groups || y != 2+groups || groups > writers*each {
			t.Fatalf("%d puts: %d groups, %d writes, %d syncs; want one write and one sync per group (and the new pack's)", writers*each, groups, w, y)
		}
		t.Logf("%d puts from %d writers in %d groups", writers*each, writers, groups)
	})
}

// putGroup packs the puts of keys (data[k] under k, with mustPut's
// content type and metadata) as one group: they are queued, then the submitter of the first leads a group taking them
// all.
func putGroup(t *testing.T, s *Store, data map[string][]byte, keys ...string) {
	t.Helper()
	ws := make([]*packWrite, len(keys))
	for i, k := range keys {
		ws[i] = &packWrite{key: k, frame: encodePut(k, sha256.Sum256(data[k]), "text/plain", map[string]string{"filename": k + ".txt", "a": "1"}, data[k]), wake: make(chan struct{}, 1)}
	}
	s.pack.mu.Lock()
	s.pack.mu.queue = append(s.pack.mu.queue, ws[1:]...)
	s.pack.mu.Unlock()
	if err := s.pack.submit(ws[0]); err != nil {
		t.Fatal(err)
	}
	for _, w := range ws {
		if !w.done || w.err != nil {
			t.Fatalf("put %s in a group: done %v, %v", w.key, w.done, w.err)
		}
	}
}

// TestPackLargeGroups checks the groups of more than zeroAheadMax bytes:
// one that passes the zeros written ahead extends the pack to its own end
// (no zeros, one write and one fdatasync), a small group after it writes
// zeros ahead again, everything reads back after a reopen, and a crash
// during a large group's write (its bytes cut short, or the new size
// committed but its bytes never written) loses that group only.
func TestPackLargeGroups(t *testing.T) {
	ctx := context.Background()
	data := map[string][]byte{"small": testData(1, 1<<10), "after": testData(2, 1<<10)}
	var batches [3][]string
	for g := range batches {
		for i := range 6 { // 6 × 60 KiB: more than zeroAheadMax
			k := fmt.Sprintf("g%d-%d", g, i)
			data[k] = testData(10*g+i+3, 60<<10)
			batches[g] = append(batches[g], k)
		}
	}
	// write packs small, then the three large groups (the third passes the
	// first MiB of zeros written ahead), and returns the pack's size after
	// each group.
	write := func(t *testing.T, dir string) []int64 {
		s := mustOpen(t, dir, Options{})
		defer s.Close()
		mustPut(t, s, "small", data["small"])
		sizes := []int64{fileSize(t, packPath(dir, 1))}
		w0, y0 := s.pack.ops.writes.Load(), s.pack.ops.syncs.Load()
		for _, keys := range batches {
			putGroup(t, s, data, keys...)
			sizes = append(sizes, fileSize(t, packPath(dir, 1)))
		}
		if w, y := s.pack.ops.writes.Load()-w0, s.pack.ops.syncs.Load()-y0; w != 3 || y != 3 {
			t.Fatalf("three groups: %d writes, %d syncs; want 3 each", w, y)
		}
		return sizes
	}
	all := func(keys ...string) map[string][]byte {
		m := map[string][]byte{}
		for _, k := range keys {
			m[k] = data[k]
		}
		return m
	}
	first := append([]string{"small"}, append(batches[0], batches[1]...)...)

	t.Run("sizes", func(t *testing.T) {
		dir := t.TempDir()
		sizes := write(t, dir)
		if sizes[0] != preallocChunk || sizes[1] != preallocChunk || sizes[2] != preallocChunk {
			t.Fatalf("pack sizes %v: want %d while the groups fit the zeros written ahead", sizes, preallocChunk)
		}
		if end := usedEnd(t, packPath(dir, 1)); sizes[3] != end || end <= preallocChunk {
			t.Fatalf("pack of %d bytes after the large group that passed the zeros, records end at %d: want no zeros written", sizes[3], end)
		}
		s := mustOpen(t, dir, Options{})
		mustPut(t, s, "after", data["after"])
		if size := fileSize(t, packPath(dir, 1)); size != 2*preallocChunk {
			t.Fatalf("pack of %d bytes after a small group: want zeros written ahead to %d", size, 2*preallocChunk)
		}
		s.Close()
		rep, err := Check(ctx, dir)
		if err != nil || len(rep.Problems) != 0 || rep.TornTail != "" || rep.Packed != 2+3*6 {
			t.Fatalf("Check = %+v, %v", rep, err)
		}
		s = mustOpen(t, dir, Options{})
		defer s.Close()
		checkKeys(t, s, all(append(first, append(batches[2], "after")...)...), nil)
	})
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, path string, start, end int64)
		torn   bool // Check reports a torn tail
	}{
		{"bytes cut short", func(t *testing.T, path string, start, end int64) {
			if err := os.Truncate(path, start+(end-start)/2); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"size committed, bytes never written", func(t *testing.T, path string, start, end int64) {
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteAt(make([]byte, end-start), start); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"size committed, part of the bytes written", func(t *testing.T, path string, start, end int64) {
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteAt(make([]byte, (end-start)/2), start+(end-start)/2); err != nil {
				t.Fatal(err)
			}
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir)
			p := packPath(dir, 1)
			start, end := groups(t, p)
			tc.damage(t, p, start, end)
			rep, err := Check(ctx, dir)
			if err != nil || len(rep.Problems) != 0 || (rep.TornTail != "") != tc.torn {
				t.Fatalf("Check = %+v, %v; want no problem, a torn tail: %v", rep, err, tc.torn)
			}
			s := mustOpen(t, dir, Options{})
			checkKeys(t, s, all(first...), batches[2])
			mustPut(t, s, "after", data["after"])
			s.Close()
			s = mustOpen(t, dir, Options{})
			defer s.Close()
			checkKeys(t, s, all(append(first, "after")...), batches[2])
			if err := s.Verify(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}
