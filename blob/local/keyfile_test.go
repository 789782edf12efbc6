package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/trovedb/trove"
)

// keyFileStore writes puts of 2,000 bytes and some deletes into packs of
// 6,000 bytes (three puts a pack), deleting keys of earlier packs from
// later ones, and returns the directory, the live keys and the number of
// packs.
func keyFileStore(t *testing.T) (string, map[string][]byte, int) {
	t.Helper()
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{PackSize: 6000})
	want := map[string][]byte{}
	for i := range 12 {
		k := fmt.Sprintf("k%d", i)
		want[k] = testData(i, 2000)
		mustPut(t, s, k, want[k])
		if i%4 == 3 {
			d := fmt.Sprintf("k%d", i-3)
			if err := s.Delete(context.Background(), d); err != nil {
				t.Fatal(err)
			}
			delete(want, d)
		}
	}
	s.Close()
	packs := 0
	for ; ; packs++ {
		if _, err := os.Stat(packPath(dir, uint32(packs+1))); err != nil {
			break
		}
	}
	if packs < 4 {
		t.Fatalf("%d packs, want at least 4", packs)
	}
	return dir, want, packs
}

// TestKeyFiles: every sealed pack gets a key file, the last does not; a
// reopen replays the key files instead of reading the sealed packs and
// finds the same keys (deletes across packs included); Check compares
// every key file with its pack.
func TestKeyFiles(t *testing.T) {
	dir, want, packs := keyFileStore(t)
	for n := 1; n <= packs; n++ {
		_, err := os.Stat(keysPath(dir, uint32(n)))
		if n < packs && err != nil || n == packs && err == nil {
			t.Fatalf("pack %d of %d: key file stat = %v", n, packs, err)
		}
	}
	s := mustOpen(t, dir, Options{PackSize: 6000})
	if s.scan.keyed != packs-1 || s.scan.packs != packs {
		t.Fatalf("open replayed %d of %d packs from key files, want %d", s.scan.keyed, s.scan.packs, packs-1)
	}
	checkKeys(t, s, want, []string{"k0", "k4", "k8"})
	s.Close()
	rep, err := Check(context.Background(), dir)
	if err != nil || rep.KeyFiles != packs-1 || len(rep.Problems) != 0 {
		t.Fatalf("Check = %+v, %v; want %d key files and no problem", rep, err, packs-1)
	}
}

// TestKeyFileRebuilt: a key file that is missing, damaged anywhere, of
// another pack or of another size is not used: Open reads the pack
// instead, finds the same keys, and writes the key file again.
func TestKeyFileRebuilt(t *testing.T) {
	dir, want, packs := keyFileStore(t)
	orig, err := os.ReadFile(keysPath(dir, 1))
	if err != nil {
		t.Fatal(err)
	}
	other, err := os.ReadFile(keysPath(dir, 2))
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{"missing": nil, "empty": {}, "cut short": orig[:len(orig)-1], "of pack 2": other}
	for i := range orig {
		b := bytes.Clone(orig)
		b[i] ^= 0x10
		cases[fmt.Sprintf("byte %d flipped", i)] = b
	}
	// A well-formed key file of the pack as it was one group earlier.
	k, err := decodeKeys(orig, 1)
	if err != nil {
		t.Fatal(err)
	}
	k.recs = k.recs[:len(k.recs)-1]
	k.size = k.recs[len(k.recs)-1].off + int64(k.recs[len(k.recs)-1].n) + commitFrame
	cases["of a shorter pack"] = encodeKeys(k)
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			d := t.TempDir()
			if err := os.CopyFS(d, os.DirFS(dir)); err != nil {
				t.Fatal(err)
			}
			os.Remove(keysPath(d, 1))
			if b != nil {
				if err := os.WriteFile(keysPath(d, 1), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			s := mustOpen(t, d, Options{PackSize: 6000})
			defer s.Close()
			if s.scan.keyed != packs-2 {
				t.Fatalf("open replayed %d packs from key files, want %d", s.scan.keyed, packs-2)
			}
			checkKeys(t, s, want, nil)
			if got, err := os.ReadFile(keysPath(d, 1)); err != nil || !bytes.Equal(got, orig) {
				t.Fatalf("key file after open: %v; not rewritten as it was", err)
			}
		})
	}
}

// TestKeyFileSealedPackDamage: with its key file, a sealed pack is not
// read at Open, so a damaged record in it is found when it is read: Get
// fails with a CorruptionError naming the pack, the other keys read, and
// Check reports the damage.
func TestKeyFileSealedPackDamage(t *testing.T) {
	dir, want, _ := keyFileStore(t)
	flipByte(t, packPath(dir, 1), packHeaderSize+200) // inside k0's put, deleted: k1's is next
	k, err := decodeKeys(mustRead(t, keysPath(dir, 1)), 1)
	if err != nil {
		t.Fatal(err)
	}
	flipByte(t, packPath(dir, 1), k.recs[1].off+100) // k1's data
	s := mustOpen(t, dir, Options{PackSize: 6000})
	_, _, err = s.Get(context.Background(), "k1")
	var ce *trove.CorruptionError
	if !errors.As(err, &ce) || ce.File != packPath(dir, 1) || ce.Offset != k.recs[1].off {
		t.Fatalf("Get k1 = %v, want a CorruptionError naming pack 1 at %d", err, k.recs[1].off)
	}
	delete(want, "k1")
	checkKeys(t, s, want, nil)
	s.Close()
	rep, err := Check(context.Background(), dir)
	if !errors.Is(err, trove.ErrCorrupt) || len(rep.Problems) == 0 {
		t.Fatalf("Check = %+v, %v; want the damage", rep, err)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestKeyFileOfLastPack: a crash after a sealed pack's key file was
// written and before the next pack was created leaves the last pack with a
// key file. Open removes it (the pack takes more records), and the next
// seal writes it again.
func TestKeyFileOfLastPack(t *testing.T) {
	dir, want, packs := keyFileStore(t)
	for n := packs; n > 1; n-- {
		os.Remove(packPath(dir, uint32(n)))
		os.Remove(keysPath(dir, uint32(n)))
	}
	for k := range want {
		if k != "k1" && k != "k2" {
			delete(want, k)
		}
	}
	s := mustOpen(t, dir, Options{PackSize: 6000})
	if _, err := os.Stat(keysPath(dir, 1)); err == nil {
		t.Fatal("the last pack's key file is still there")
	}
	checkKeys(t, s, want, nil)
	for i := range 4 {
		k := fmt.Sprintf("n%d", i)
		want[k] = testData(100+i, 2000)
		mustPut(t, s, k, want[k])
	}
	s.Close()
	s = mustOpen(t, dir, Options{PackSize: 6000})
	defer s.Close()
	if s.scan.keyed == 0 {
		t.Fatal("no key file written at the next seal")
	}
	checkKeys(t, s, want, nil)
	if rep, err := Check(context.Background(), dir); err == nil {
		t.Fatalf("Check of an open store = %+v, want it locked", rep)
	}
}

// TestKeyFileWrongButWellFormed: a key file that decodes but does not
// list its pack's records (only a bug or a hand edit makes one) is what
// Check reports; when it breaks the replay rules, Open fails naming the
// pack and changes nothing.
func TestKeyFileWrongButWellFormed(t *testing.T) {
	t.Run("another key", func(t *testing.T) {
		dir, _, _ := keyFileStore(t)
		k, err := decodeKeys(mustRead(t, keysPath(dir, 2)), 2)
		if err != nil {
			t.Fatal(err)
		}
		k.recs[0].key = "zz"
		if err := os.WriteFile(keysPath(dir, 2), encodeKeys(k), 0o644); err != nil {
			t.Fatal(err)
		}
		rep, err := Check(context.Background(), dir)
		var ce *trove.CorruptionError
		if !errors.As(err, &ce) || ce.File != keysPath(dir, 2) || len(rep.Problems) != 1 {
			t.Fatalf("Check = %+v, %v; want one problem naming key file 2", rep, err)
		}
		s := mustOpen(t, dir, Options{PackSize: 6000})
		defer s.Close()
		if _, _, err := s.Get(context.Background(), "zz"); !errors.As(err, &ce) {
			t.Fatalf("Get of the key the key file names = %v, want a CorruptionError", err)
		}
	})
	t.Run("a second put of a live key", func(t *testing.T) {
		dir, _, _ := keyFileStore(t)
		k, err := decodeKeys(mustRead(t, keysPath(dir, 2)), 2)
		if err != nil {
			t.Fatal(err)
		}
		k.recs[0].key = "k1" // live from pack 1
		if err := os.WriteFile(keysPath(dir, 2), encodeKeys(k), 0o644); err != nil {
			t.Fatal(err)
		}
		before := snapshot(t, dir)
		_, err = OpenWith(context.Background(), dir, Options{PackSize: 6000})
		var ce *trove.CorruptionError
		if !errors.As(err, &ce) || ce.File != packPath(dir, 2) {
			t.Fatalf("Open = %v, want a CorruptionError naming pack 2", err)
		}
		if !equalSnapshots(before, snapshot(t, dir)) {
			t.Fatal("a failed Open changed the directory")
		}
	})
}

// TestKeyFileLeftovers: Open removes temporary key files and key files of
// no sealed pack.
func TestKeyFileLeftovers(t *testing.T) {
	dir, want, packs := keyFileStore(t)
	stray := []string{
		filepath.Join(dir, "packs", "."+keysName(1)+".tmp"),
		keysPath(dir, uint32(packs)),
		keysPath(dir, uint32(packs+3)),
	}
	for _, p := range stray {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := mustOpen(t, dir, Options{PackSize: 6000})
	defer s.Close()
	for _, p := range stray {
		if _, err := os.Stat(p); err == nil {
			t.Fatalf("%s is still there", p)
		}
	}
	checkKeys(t, s, want, nil)
}

// goldenKeys is the key file testdata/keys-v1.keys holds.
var goldenKeys = packKeys{pack: 3, size: 4242, lastCRC: 0xdeadbeef, recs: []keyRec{
	{typ: recPut, key: "a", off: 16, n: 200},
	{typ: recDelete, key: "a", off: 216, n: 11},
	{typ: recPut, key: "b.bin-9", off: 244, n: 3981},
}}

// TestGoldenKeyFile pins key file version 1 (TROVE_UPDATE_GOLDEN=1
// rewrites it, for a new version only).
func TestGoldenKeyFile(t *testing.T) {
	golden := filepath.Join("testdata", "keys-v1.keys")
	got := encodeKeys(goldenKeys)
	if os.Getenv("TROVE_UPDATE_GOLDEN") == "1" {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want := mustRead(t, golden)
	if !bytes.Equal(got, want) {
		t.Fatalf("the key file written differs from %s: the format changed without a new version", golden)
	}
	k, err := decodeKeys(want, 3)
	if err != nil || !sameKeys(k, goldenKeys) {
		t.Fatalf("decode %s = %+v, %v", golden, k, err)
	}
	if _, err := decodeKeys(want, 4); err == nil {
		t.Fatal("a key file decoded as another pack's")
	}
}

// TestDecodeKeysRejects: each field out of its range is refused.
func TestDecodeKeysRejects(t *testing.T) {
	bad := map[string]func(k *packKeys){
		"bad type":             func(k *packKeys) { k.recs[0].typ = recCommit },
		"bad key":              func(k *packKeys) { k.recs[0].key = "a/b" },
		"offsets out of order": func(k *packKeys) { k.recs[1].off = 100 },
		"inside the header":    func(k *packKeys) { k.recs[0].off = 3 },
		"delete length":        func(k *packKeys) { k.recs[1].n = 12 },
		"put too short":        func(k *packKeys) { k.recs[0].n = 20 },
		"past the pack":        func(k *packKeys) { k.size = 4000 },
		"past the last commit": func(k *packKeys) { k.size = 244 + 3981 + commitFrame - 1 },
		"empty pack, a CRC":    func(k *packKeys) { k.recs, k.size = nil, packHeaderSize },
		"size below a header":  func(k *packKeys) { k.recs, k.size, k.lastCRC = nil, 3, 0 },
	}
	for name, change := range bad {
		k := goldenKeys
		k.recs = append([]keyRec(nil), goldenKeys.recs...)
		change(&k)
		if _, err := decodeKeys(encodeKeys(k), 3); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
	empty := packKeys{pack: 1, size: packHeaderSize}
	if k, err := decodeKeys(encodeKeys(empty), 1); err != nil || !sameKeys(k, empty) {
		t.Fatalf("the key file of an empty pack: %+v, %v", k, err)
	}
}

// FuzzDecodeKeys: the key file decoder never panics, and what it accepts
// encodes to a key file that decodes the same.
func FuzzDecodeKeys(f *testing.F) {
	f.Add(encodeKeys(goldenKeys))
	f.Add(encodeKeys(packKeys{pack: 3, size: packHeaderSize}))
	f.Add([]byte(keysMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := decodeKeys(b, 3)
		if err != nil {
			if _, ok := err.(errFrame); !ok {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		k2, err := decodeKeys(encodeKeys(k), 3)
		if err != nil || !sameKeys(k, k2) {
			t.Fatalf("re-encoded: %+v, %v; want %+v", k2, err, k)
		}
	})
}

// TestIndexHint: the index's size hint counts the sealed packs' records
// and estimates the last pack's; key files that are missing or damaged
// count for nothing.
func TestIndexHint(t *testing.T) {
	dir, _, packs := keyFileStore(t)
	pd := filepath.Join(dir, "packs")
	nums := make([]uint32, packs)
	records := 0
	for i := range nums {
		nums[i] = uint32(i + 1)
		if i < packs-1 {
			k, err := decodeKeys(mustRead(t, keysPath(dir, nums[i])), nums[i])
			if err != nil {
				t.Fatal(err)
			}
			records += len(k.recs)
		}
	}
	// The last pack's zeros written ahead (1 MiB) count as records too:
	// about 500 of these 2 KiB puts.
	if h := indexHint(pd, nums); h < records || h > records+1000 {
		t.Fatalf("hint %d for %d records in sealed packs and a last one", h, records)
	}
	if h := indexHint(pd, nil); h != 0 {
		t.Fatalf("hint %d for no packs", h)
	}
	os.Remove(keysPath(dir, 1))
	os.WriteFile(keysPath(dir, 2), []byte("trovepks and not much else, a header cut short"), 0o644)
	if h := indexHint(pd, nums); h < 0 || h > records+1000 {
		t.Fatalf("hint %d with damaged key files", h)
	}
}
