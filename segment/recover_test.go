package segment

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// entryOffsets returns the byte offset of every tidwall entry in data.
func entryOffsets(t testing.TB, data []byte) []int {
	t.Helper()
	var offs []int
	for off := 0; off < len(data); {
		_, end, ok := nextEntry(data, off)
		if !ok {
			t.Fatalf("test file has a torn entry at %d", off)
		}
		offs = append(offs, off)
		off = end
	}
	return offs
}

type walFixture struct {
	dir   string
	files []walFile
}

func (f walFixture) path(i int) string {
	if i < 0 {
		i += len(f.files)
	}
	return filepath.Join(f.dir, f.files[i].name)
}

func (f walFixture) read(t testing.TB, i int) []byte {
	t.Helper()
	data, err := os.ReadFile(f.path(i))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func (f walFixture) write(t testing.TB, i int, data []byte) {
	t.Helper()
	if err := os.WriteFile(f.path(i), data, 0o640); err != nil {
		t.Fatal(err)
	}
}

// Table of recovery cases: each row builds a WAL of `appends` Append calls
// (each of `perAppend` batches of 3 records), damages it and states how
// many entries must survive, or that OpenWAL must report corruption at a
// file and offset.
func TestWALRecovery(t *testing.T) {
	type damage func(t *testing.T, f walFixture) (wantFile string, wantOffset int64)
	tail := func(t *testing.T, f walFixture, fn func(data []byte, offs []int) []byte) {
		data := f.read(t, -1)
		f.write(t, -1, fn(data, entryOffsets(t, data)))
	}
	cases := []struct {
		name      string
		segSize   int // tidwall file size; small means several files
		appends   int
		perAppend int
		damage    damage
		survive   int  // entries left after recovery
		dropped   int  // Recovery.TruncatedEntries
		corrupt   bool // OpenWAL must fail with a located CorruptionError
	}{
		{name: "clean", appends: 10, perAppend: 1, survive: 10,
			damage: func(t *testing.T, f walFixture) (string, int64) { return "", 0 }},
		{name: "torn header", appends: 10, perAppend: 1, survive: 10, dropped: 1,
			damage: func(t *testing.T, f walFixture) (string, int64) {
				// An incomplete uvarint: the length of an entry that never got written.
				tail(t, f, func(d []byte, _ []int) []byte { return append(d, 0xd3) })
				return "", 0
			}},
		{name: "torn frame header", appends: 10, perAppend: 1, survive: 9, dropped: 1,
			damage: func(t *testing.T, f walFixture) (string, int64) {
				tail(t, f, func(d []byte, offs []int) []byte { return d[:offs[9]+1+7] })
				return "", 0
			}},
		{name: "partial last entry", appends: 10, perAppend: 1, survive: 9, dropped: 1,
			damage: func(t *testing.T, f walFixture) (string, int64) {
				tail(t, f, func(d []byte, offs []int) []byte { return d[:offs[9]+(len(d)-offs[9])/2] })
				return "", 0
			}},
		{name: "torn body", appends: 10, perAppend: 1, survive: 9, dropped: 1,
			damage: func(t *testing.T, f walFixture) (string, int64) {
				// A page of the last entry never reached the disk: zeros inside it.
				tail(t, f, func(d []byte, offs []int) []byte {
					copy(d[offs[9]+40:len(d)-10], make([]byte, len(d)))
					return d
				})
				return "", 0
			}},
		{name: "bad CRC in the tail", appends: 10, perAppend: 1, survive: 9, dropped: 1,
			damage: func(t *testing.T, f walFixture) (string, int64) {
				tail(t, f, func(d []byte, offs []int) []byte { d[offs[9]+2+14] ^= 0x40; return d })
				return "", 0
			}},
		{name: "zeroed tail", appends: 10, perAppend: 1, survive: 10, dropped: 1,
			damage: func(t *testing.T, f walFixture) (string, int64) {
				tail(t, f, func(d []byte, _ []int) []byte { return append(d, make([]byte, 8192)...) })
				return "", 0
			}},
		{name: "zeroed last entry", appends: 10, perAppend: 1, survive: 9, dropped: 1,
			damage: func(t *testing.T, f walFixture) (string, int64) {
				tail(t, f, func(d []byte, offs []int) []byte { copy(d[offs[9]:], make([]byte, len(d))); return d })
				return "", 0
			}},
		{name: "garbage appended", appends: 10, perAppend: 1, survive: 10, dropped: 1,
			damage: func(t *testing.T, f walFixture) (string, int64) {
				r := rand.New(rand.NewPCG(1, 2))
				g := make([]byte, 3000)
				for i := range g {
					g[i] = byte(r.Uint32())
				}
				g[0] = 0xff // a length that runs past the end
				tail(t, f, func(d []byte, _ []int) []byte { return append(d, g...) })
				return "", 0
			}},
		{name: "torn multi-batch append keeps its intact first batch", appends: 5, perAppend: 3, survive: 13, dropped: 1,
			damage: func(t *testing.T, f walFixture) (string, int64) {
				// The last Append wrote entries 13..15; entry 14 is half written.
				tail(t, f, func(d []byte, offs []int) []byte { return d[:offs[13]+30] })
				return "", 0
			}},
		{name: "bad CRC early in the last append drops the rest of it", appends: 5, perAppend: 3, survive: 12, dropped: 3,
			damage: func(t *testing.T, f walFixture) (string, int64) {
				// Entries 14 and 15 are intact but belong to the same unacknowledged Append.
				tail(t, f, func(d []byte, offs []int) []byte { d[offs[12]+50] ^= 1; return d })
				return "", 0
			}},
		{name: "corruption in the middle of the tail file", appends: 10, perAppend: 1, corrupt: true,
			damage: func(t *testing.T, f walFixture) (string, int64) {
				var at int
				tail(t, f, func(d []byte, offs []int) []byte { at = offs[4]; d[at+100] ^= 0x10; return d })
				return f.path(-1), int64(at)
			}},
		{name: "bad last entry of an acknowledged append", appends: 6, perAppend: 3, corrupt: true,
			damage: func(t *testing.T, f walFixture) (string, int64) {
				// Entry 15 closed the fifth Append; the sixth Append's begin frame proves it was acknowledged.
				var at int
				tail(t, f, func(d []byte, offs []int) []byte { at = offs[14]; d[at+2+1] = 0x40; return d })
				return f.path(-1), int64(at)
			}},
		{name: "corruption in an earlier file", segSize: 4 << 10, appends: 30, perAppend: 1, corrupt: true,
			damage: func(t *testing.T, f walFixture) (string, int64) {
				d := f.read(t, 0)
				offs := entryOffsets(t, d)
				d[offs[1]+200] ^= 0x01
				f.write(t, 0, d)
				return f.path(0), int64(offs[1])
			}},
		{name: "torn end of an earlier file", segSize: 4 << 10, appends: 30, perAppend: 1, corrupt: true,
			damage: func(t *testing.T, f walFixture) (string, int64) {
				d := f.read(t, 1)
				offs := entryOffsets(t, d)
				f.write(t, 1, d[:len(d)-5])
				return f.path(1), int64(offs[len(offs)-1])
			}},
		{name: "zeroed earlier file", segSize: 4 << 10, appends: 30, perAppend: 1, corrupt: true,
			damage: func(t *testing.T, f walFixture) (string, int64) {
				d := f.read(t, 0)
				f.write(t, 0, make([]byte, len(d)))
				return f.path(0), 0
			}},
		{name: "missing middle file", segSize: 4 << 10, appends: 30, perAppend: 1, corrupt: true,
			damage: func(t *testing.T, f walFixture) (string, int64) {
				os.Remove(f.path(1))
				return f.path(2), -1
			}},
		{name: "new tail file lost all its bytes", segSize: 4 << 10, appends: 30, perAppend: 1,
			damage: func(t *testing.T, f walFixture) (string, int64) {
				f.write(t, -1, nil)
				return "", 0
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			opts := WALOptions{SegmentSize: tc.segSize}
			if opts.SegmentSize == 0 {
				opts.SegmentSize = 1 << 20
			}
			w := openWAL(t, dir, opts)
			var want [][]Record
			pos := uint64(1)
			for a := 0; a < tc.appends; a++ {
				var bs [][]Record
				for b := 0; b < tc.perAppend; b++ {
					bs = append(bs, batch(pos, 3))
					pos += 3
				}
				if _, err := w.Append(bs); err != nil {
					t.Fatal(err)
				}
				want = append(want, bs...)
			}
			w.Close()
			files, err := listWALFiles(dir)
			if err != nil {
				t.Fatal(err)
			}
			if tc.segSize != 0 && len(files) < 3 {
				t.Fatalf("fixture wants several tidwall files, got %d", len(files))
			}
			wantFile, wantOff := tc.damage(t, walFixture{dir, files})

			w, rec, err := OpenWAL(dir, opts)
			if tc.corrupt {
				if err == nil {
					w.Close()
					t.Fatalf("OpenWAL succeeded (recovery %+v), want corruption", rec)
				}
				ce := wantCorrupt(t, err)
				if ce.File != wantFile || ce.Offset != wantOff {
					t.Fatalf("corruption at %s:%d, want %s:%d (%v)", ce.File, ce.Offset, wantFile, wantOff, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("OpenWAL: %v", err)
			}
			if tc.name == "new tail file lost all its bytes" {
				tc.survive = int(files[len(files)-1].index - 1)
			}
			if rec.TruncatedEntries != tc.dropped || (tc.dropped > 0) != (rec.Reason != "") || (tc.dropped > 0) != (rec.TruncatedBytes > 0) {
				t.Fatalf("recovery %+v, want %d entries dropped", rec, tc.dropped)
			}
			if w.LastIndex() != uint64(tc.survive) {
				t.Fatalf("%d entries survive, want %d (recovery %+v)", w.LastIndex(), tc.survive, rec)
			}
			for i := 0; i < tc.survive; i++ {
				got, err := w.Read(uint64(i + 1))
				if err != nil {
					t.Fatalf("Read %d: %v", i+1, err)
				}
				equalRecords(t, got, want[i])
			}
			// The repaired WAL takes appends and reopens cleanly.
			if first, err := w.Append([][]Record{batch(9000, 2)}); err != nil || first != uint64(tc.survive+1) {
				t.Fatalf("Append after recovery: %d %v", first, err)
			}
			w.Close()
			w = openWAL(t, dir, opts)
			defer w.Close()
			got, err := w.Read(uint64(tc.survive + 1))
			if err != nil {
				t.Fatal(err)
			}
			equalRecords(t, got, batch(9000, 2))
		})
	}
}

// A frame read after open is verified again: damage that appears later is a
// located CorruptionError from Read.
func TestWALReadDetectsLaterDamage(t *testing.T) {
	dir := t.TempDir()
	w := openWAL(t, dir, WALOptions{SegmentSize: 4 << 10})
	defer w.Close()
	for i := 0; i < 30; i++ {
		if _, err := w.Append([][]Record{batch(uint64(i*3+1), 3)}); err != nil {
			t.Fatal(err)
		}
	}
	files, _ := listWALFiles(dir)
	path := filepath.Join(dir, files[0].name)
	d, _ := os.ReadFile(path)
	offs := entryOffsets(t, d)
	d[offs[2]+60] ^= 0x08
	os.WriteFile(path, d, 0o640)
	_, err := w.Read(3)
	ce := wantCorrupt(t, err)
	if ce.File != path || ce.Offset < int64(offs[2]) || ce.Offset >= int64(offs[3]) {
		t.Fatalf("corruption at %s:%d, want %s in [%d,%d)", ce.File, ce.Offset, path, offs[2], offs[3])
	}
	if _, err := w.Read(4); err != nil {
		t.Fatalf("an intact neighbour: %v", err)
	}
	if !bytes.Contains([]byte(err.Error()), []byte("CRC")) {
		t.Fatalf("error does not say what failed: %v", err)
	}
}
