package segment

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tidwall/wal"
)

// The contract of github.com/tidwall/wal as segment/tidwall.go states it,
// run against the version go.mod pins. Each subtest is named after one
// assumption; a failure says which one broke, so that an upgrade of the
// module that changes any of them cannot pass unnoticed.

// tidwallVersion names the module version under test, as go.mod pins it.
func tidwallVersion() string {
	const mod = "github.com/tidwall/wal"
	if gomod, err := os.ReadFile("../go.mod"); err == nil {
		for _, line := range strings.Split(string(gomod), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == mod {
				return mod + " " + f[1]
			}
		}
	}
	return mod + " (the version go.mod pins)"
}

// broke fails the test naming the assumption of segment/tidwall.go that no
// longer holds.
func broke(t testing.TB, assumption, format string, args ...any) {
	t.Helper()
	t.Fatalf("%s no longer meets the assumption %q of segment/tidwall.go: %s",
		tidwallVersion(), assumption, fmt.Sprintf(format, args...))
}

// entryData returns the data of entry i of a contract log: varied sizes,
// across the uvarint length boundaries (127/128, 16383/16384).
func entryData(i uint64) []byte {
	sizes := []int{0, 1, 5, 127, 128, 300, 16383, 16384, 40}
	n := sizes[i%uint64(len(sizes))]
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(i, 7))
	for j := range b {
		b[j] = byte(r.Uint32())
	}
	return b
}

// fillTidwall writes entries first..last to l, batch entries per WriteBatch.
func fillTidwall(t testing.TB, l *wal.Log, first, last uint64, batch int) {
	t.Helper()
	var b wal.Batch
	for i := first; i <= last; i++ {
		b.Write(i, entryData(i))
		if int(i-first+1)%batch == 0 || i == last {
			if err := l.WriteBatch(&b); err != nil {
				t.Fatalf("WriteBatch up to %d: %v", i, err)
			}
		}
	}
}

// listing returns name → content of every file in dir.
func listing(t testing.TB, dir string) map[string]string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, e := range ents {
		if e.IsDir() {
			m[e.Name()+"/"] = ""
			continue
		}
		d, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = string(d)
	}
	return m
}

func names(m map[string]string) []string {
	var n []string
	for k := range m {
		n = append(n, k)
	}
	slices.Sort(n)
	return n
}

func closeTidwall(t testing.TB, l *wal.Log) {
	t.Helper()
	if err := l.Close(); err != nil {
		t.Fatalf("tidwall Close: %v", err)
	}
}

func TestTidwallContract(t *testing.T) {
	t.Run("names", func(t *testing.T) {
		dir := t.TempDir()
		l, err := openTidwall(dir, 1<<10)
		if err != nil {
			t.Fatal(err)
		}
		if got := names(listing(t, dir)); !slices.Equal(got, []string{walFileName(1)}) {
			broke(t, "names", "a new log holds %q, want the one empty file %q", got, walFileName(1))
		}
		fillTidwall(t, l, 1, 60, 3)
		closeTidwall(t, l)
		files, err := listWALFiles(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(files) < 4 || len(files) != len(listing(t, dir)) {
			t.Fatalf("fixture: %d files parsed of %v", len(files), names(listing(t, dir)))
		}
		for _, f := range files {
			if f.name != walFileName(f.index) || len(f.name) != tidwallNameLen {
				broke(t, "names", "file %q is not named by its index %d in %d digits", f.name, f.index, tidwallNameLen)
			}
			if f.size == 0 {
				continue // the new tail after a cut
			}
			data, _ := os.ReadFile(filepath.Join(dir, f.name))
			first, _, ok := nextEntry(data, 0)
			if !ok || !bytes.Equal(first, entryData(f.index)) {
				broke(t, "names", "file %q does not start with entry %d", f.name, f.index)
			}
		}
		// Names tidwall ignores, as parseWALName does.
		ignored := []string{"junk", "0000000000000000000x", walFileName(0), walFileName(3) + ".foo",
			walFileName(3) + ".TEMP", "+0000000000000000003"}
		for _, n := range ignored {
			if err := os.WriteFile(filepath.Join(dir, n), []byte{0x80}, 0o640); err != nil {
				t.Fatal(err)
			}
			if _, _, ok := parseWALName(n); ok {
				t.Fatalf("parseWALName(%q) accepts a name tidwall ignores", n)
			}
		}
		if err := os.Mkdir(filepath.Join(dir, walFileName(1000)), 0o750); err != nil {
			t.Fatal(err)
		}
		l, err = openTidwall(dir, 1<<10)
		if err != nil {
			broke(t, "names", "Open fails on a directory with names it should ignore: %v", err)
		}
		defer closeTidwall(t, l)
		if last, _ := l.LastIndex(); last != 60 {
			broke(t, "names", "LastIndex %d with ignored names around, want 60", last)
		}
	})

	t.Run("entries", func(t *testing.T) {
		dir := t.TempDir()
		l, err := openTidwall(dir, 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		defer closeTidwall(t, l)
		var want []byte
		for i := uint64(1); i <= 30; i++ {
			want = appendTidwallEntry(want, entryData(i))
		}
		fillTidwall(t, l, 1, 30, 4)
		got, err := os.ReadFile(filepath.Join(dir, walFileName(1)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			broke(t, "entries", "the file holds %d bytes that are not the uvarint-length-prefixed entries (%d bytes)", len(got), len(want))
		}
		for i, off := uint64(1), 0; off < len(got); i++ {
			data, end, ok := nextEntry(got, off)
			if !ok || !bytes.Equal(data, entryData(i)) || tidwallEntrySize(len(data)) != int64(end-off) {
				broke(t, "entries", "entry %d at %d does not parse back", i, off)
			}
			off = end
		}
		for i := uint64(1); i <= 30; i++ {
			data, err := l.Read(i)
			if err != nil || !bytes.Equal(data, entryData(i)) {
				broke(t, "entries", "Read(%d) = %d bytes, %v; want the data written", i, len(data), err)
			}
			if len(data) > 0 {
				data[0] ^= 0xff // the caller owns the slice
				again, _ := l.Read(i)
				if !bytes.Equal(again, entryData(i)) {
					broke(t, "entries", "Read(%d) returned a slice shared with the log", i)
				}
			}
		}
	})

	t.Run("cut", func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 2))
		for _, seg := range []int{1, 100, 700, 4 << 10, 20 << 10} {
			dir := t.TempDir()
			l, err := openTidwall(dir, seg)
			if err != nil {
				t.Fatal(err)
			}
			mirror := tidwallCut{segmentSize: int64(seg)}
			next := uint64(1)
			for call := 0; call < 25; call++ {
				var b wal.Batch
				var sizes []int
				for range 1 + r.IntN(5) {
					d := entryData(next + uint64(r.IntN(9)))
					b.Write(next, d)
					sizes = append(sizes, len(d))
					next++
				}
				before, _ := listWALFiles(dir)
				cut := mirror.batch(sizes)
				if err := l.WriteBatch(&b); err != nil {
					t.Fatal(err)
				}
				after, _ := listWALFiles(dir)
				tail := after[len(after)-1]
				if cut != (len(after) != len(before)) || tail.size != mirror.tail {
					broke(t, "cut", "segment size %d, batch of %v on a tail of %d bytes: mirror says cut %v and tail %d bytes, tidwall made %d→%d files and a tail of %d bytes",
						seg, sizes, before[len(before)-1].size, cut, mirror.tail, len(before), len(after), tail.size)
				}
				if cut && tail.size == 0 && tail.index != next {
					broke(t, "cut", "the new tail after a cut is %q, want %q", tail.name, walFileName(next))
				}
			}
			closeTidwall(t, l)
		}
		// A tail already over SegmentSize (written with a larger one) is
		// cut before the next batch.
		dir := t.TempDir()
		l, err := openTidwall(dir, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		fillTidwall(t, l, 1, 18, 18)
		closeTidwall(t, l)
		if l, err = openTidwall(dir, 4<<10); err != nil {
			t.Fatal(err)
		}
		defer closeTidwall(t, l)
		files, _ := listWALFiles(dir)
		if len(files) != 1 || files[0].size <= 4<<10 {
			t.Fatalf("fixture: %+v", files)
		}
		mirror := tidwallCut{segmentSize: 4 << 10, tail: files[0].size}
		cut := mirror.batch([]int{5})
		if err := l.Write(19, []byte("small")); err != nil {
			t.Fatal(err)
		}
		after, _ := listWALFiles(dir)
		if !cut || len(after) != 2 || after[1].name != walFileName(19) || after[1].size != mirror.tail {
			broke(t, "cut", "a batch on a tail of %d bytes, over SegmentSize %d, left %+v; the mirror says cut %v and a tail of %d bytes",
				files[0].size, 4<<10, after, cut, mirror.tail)
		}
	})

	t.Run("tail", func(t *testing.T) {
		dir := t.TempDir()
		l, err := openTidwall(dir, 8<<10)
		if err != nil {
			t.Fatal(err)
		}
		defer closeTidwall(t, l)
		fillTidwall(t, l, 1, 3, 1)
		fd, tf, _, err := openTail(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer fd.Close()
		if tf.index != 1 {
			t.Fatalf("fixture: tail %+v", tf)
		}
		// Small entries: no cut.
		var b wal.Batch
		for i := uint64(4); i <= 10; i++ {
			b.Write(i, []byte("small entry"))
		}
		if err := l.WriteBatch(&b); err != nil {
			t.Fatal(err)
		}
		held, _ := fd.Stat()
		now, err := os.Stat(filepath.Join(dir, tf.name))
		if err != nil || !os.SameFile(held, now) || held.Size() != now.Size() {
			broke(t, "tail", "WriteBatch replaced the tail file instead of appending to it")
		}
		if again, _, _, _ := openTail(dir, fd); again != nil {
			again.Close()
			t.Fatal("openTail reopens a tail it already holds")
		}
	})

	t.Run("open", func(t *testing.T) {
		base := t.TempDir()
		l, err := openTidwall(base, 2<<10)
		if err != nil {
			t.Fatal(err)
		}
		fillTidwall(t, l, 1, 40, 2)
		closeTidwall(t, l)
		files, _ := listWALFiles(base)
		if len(files) < 3 {
			t.Fatalf("fixture: %d files", len(files))
		}
		tail := files[len(files)-1]
		tailData, _ := os.ReadFile(filepath.Join(base, tail.name))
		offs := entryOffsets(t, tailData)
		if len(offs) < 2 {
			t.Fatalf("fixture: tail holds %d entries", len(offs))
		}
		lastOff := offs[len(offs)-1]
		variant := func(name string, change func(dir string)) (string, *wal.Log, error) {
			dir := filepath.Join(t.TempDir(), name)
			if err := os.Mkdir(dir, 0o750); err != nil {
				t.Fatal(err)
			}
			if err := CopyWAL(base, dir, 0); err != nil {
				t.Fatal(err)
			}
			change(dir)
			l, err := openTidwall(dir, 2<<10)
			return dir, l, err
		}
		// A tail cut anywhere inside its last entry, or ending in an
		// incomplete length, is refused with ErrCorrupt, and not changed.
		cuts := []int{lastOff + 1, (lastOff + len(tailData)) / 2, len(tailData) - 1}
		for _, cut := range cuts {
			dir, l, err := variant(fmt.Sprintf("cut%d", cut), func(dir string) {
				os.Truncate(filepath.Join(dir, tail.name), int64(cut))
			})
			if err == nil {
				closeTidwall(t, l)
				broke(t, "open", "Open accepted a tail torn at byte %d of its last entry [%d,%d)", cut, lastOff, len(tailData))
			}
			if !errors.Is(err, wal.ErrCorrupt) {
				broke(t, "open", "Open of a torn tail failed with %v, want wal.ErrCorrupt", err)
			}
			if st, _ := os.Stat(filepath.Join(dir, tail.name)); st.Size() != int64(cut) {
				broke(t, "open", "a failed Open changed the torn tail (%d bytes, had %d)", st.Size(), cut)
			}
		}
		_, l, err = variant("torn-length", func(dir string) {
			appendBytes(t, filepath.Join(dir, tail.name), []byte{0x80})
		})
		if !errors.Is(err, wal.ErrCorrupt) {
			if l != nil {
				closeTidwall(t, l)
			}
			broke(t, "open", "Open of a tail ending in an incomplete uvarint: %v, want wal.ErrCorrupt", err)
		}
		// A zero byte is an empty entry to tidwall: our frame's type 0
		// is what catches zeroed space.
		_, l, err = variant("zero", func(dir string) {
			appendBytes(t, filepath.Join(dir, tail.name), []byte{0})
		})
		if err != nil {
			broke(t, "open", "Open of a tail ending in a zero byte: %v, want an empty entry", err)
		}
		if last, _ := l.LastIndex(); last != 41 {
			broke(t, "open", "a trailing zero byte gave LastIndex %d, want 41 (one empty entry)", last)
		}
		if d, err := l.Read(41); err != nil || len(d) != 0 {
			broke(t, "open", "the zero byte reads as %q, %v; want an empty entry", d, err)
		}
		closeTidwall(t, l)
		// Damage outside the tail is not noticed by Open.
		_, l, err = variant("torn-first-file", func(dir string) {
			p := filepath.Join(dir, files[0].name)
			os.Truncate(p, files[0].size-3)
		})
		if err != nil {
			broke(t, "open", "Open looked into a non-tail file: %v", err)
		}
		closeTidwall(t, l)
		_, l, err = variant("gap", func(dir string) {
			os.Remove(filepath.Join(dir, files[1].name))
		})
		if err != nil {
			broke(t, "open", "Open noticed a missing middle file: %v", err)
		}
		if first, _ := l.FirstIndex(); first != 1 {
			broke(t, "open", "FirstIndex %d with a gap, want 1 (the first file's name)", first)
		}
		closeTidwall(t, l)
	})

	t.Run("leftovers", func(t *testing.T) {
		// Directory states of interrupted truncations: tidwall's Open and
		// finishTruncation must leave the same files.
		seg := func(first, last uint64) string {
			var b []byte
			for i := first; i <= last; i++ {
				b = appendTidwallEntry(b, entryData(i))
			}
			return string(b)
		}
		base := map[string]string{walFileName(1): seg(1, 3), walFileName(4): seg(4, 6), walFileName(7): seg(7, 9)}
		with := func(extra map[string]string) map[string]string {
			m := maps.Clone(base)
			for k, v := range extra {
				m[k] = v
			}
			return m
		}
		cases := []struct {
			name    string
			files   map[string]string
			corrupt bool
		}{
			{"start inside a file", with(map[string]string{walFileName(5) + tidwallStart: seg(5, 6)}), false},
			{"start at a file's index", with(map[string]string{walFileName(7) + tidwallStart: seg(7, 9)}), false},
			{"start past the end", with(map[string]string{walFileName(10) + tidwallStart: ""}), false},
			{"end inside a file", with(map[string]string{walFileName(4) + tidwallEnd: seg(4, 5)}), false},
			{"end in the first file", with(map[string]string{walFileName(1) + tidwallEnd: seg(1, 1)}), false},
			{"two ends", with(map[string]string{walFileName(1) + tidwallEnd: seg(1, 2), walFileName(4) + tidwallEnd: seg(4, 4)}), false},
			{"start and end", with(map[string]string{walFileName(5) + tidwallStart: seg(5, 6), walFileName(4) + tidwallEnd: seg(4, 4)}), true},
			{"temporary files", with(map[string]string{walFileName(5) + tidwallStart + tidwallTemp: seg(5, 5),
				walFileName(4) + tidwallEnd + tidwallTemp: "x"}), false},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				ours, theirs := t.TempDir(), t.TempDir()
				for _, dir := range []string{ours, theirs} {
					for n, c := range tc.files {
						if err := os.WriteFile(filepath.Join(dir, n), []byte(c), 0o640); err != nil {
							t.Fatal(err)
						}
					}
				}
				errOurs := finishTruncation(ours)
				l, errTheirs := openTidwall(theirs, 1<<20)
				if l != nil {
					closeTidwall(t, l)
				}
				if tc.corrupt {
					if !errors.Is(errTheirs, wal.ErrCorrupt) {
						broke(t, "leftovers", "Open with both a .START and an .END file: %v, want wal.ErrCorrupt", errTheirs)
					}
					wantCorrupt(t, errOurs)
					return
				}
				if errOurs != nil {
					t.Fatalf("finishTruncation: %v", errOurs)
				}
				if errTheirs != nil {
					broke(t, "leftovers", "Open failed: %v", errTheirs)
				}
				got, want := listing(t, ours), listing(t, theirs)
				for n := range want {
					if _, kind, _ := parseWALName(n); kind == kindStartTemp || kind == kindEndTemp {
						if _, ok := tc.files[n]; !ok {
							broke(t, "leftovers", "Open created %q", n)
						}
						delete(want, n) // tidwall leaves them; we remove them
					}
				}
				if !maps.Equal(got, want) {
					broke(t, "leftovers", "Open left %v, finishTruncation %v", names(want), names(got))
				}
			})
		}
	})

	t.Run("truncate", func(t *testing.T) {
		build := func(t *testing.T) (string, *wal.Log, []walFile) {
			dir := t.TempDir()
			l, err := openTidwall(dir, 2<<10)
			if err != nil {
				t.Fatal(err)
			}
			fillTidwall(t, l, 1, 40, 1)
			files, _ := listWALFiles(dir)
			if len(files) < 3 {
				t.Fatalf("fixture: %d files", len(files))
			}
			return dir, l, files
		}
		holder := func(files []walFile, i uint64) walFile {
			h := files[0]
			for _, f := range files {
				if f.index <= i {
					h = f
				}
			}
			return h
		}
		check := func(t *testing.T, dir string, l *wal.Log, i, last uint64) {
			t.Helper()
			files, _ := listWALFiles(dir)
			if len(files) == 0 || files[0].index != i {
				broke(t, "truncate", "after TruncateFront(%d) the first file is %+v, want %q", i, files, walFileName(i))
			}
			if first, _ := l.FirstIndex(); first != i {
				broke(t, "truncate", "FirstIndex %d after TruncateFront(%d)", first, i)
			}
			for j := i; j <= last; j++ {
				if d, err := l.Read(j); err != nil || !bytes.Equal(d, entryData(j)) {
					broke(t, "truncate", "entry %d after TruncateFront(%d): %v", j, i, err)
				}
			}
			if _, err := l.Read(i - 1); !errors.Is(err, wal.ErrNotFound) {
				broke(t, "truncate", "entry %d still readable after TruncateFront(%d): %v", i-1, i, err)
			}
		}
		t.Run("front", func(t *testing.T) {
			dir, l, files := build(t)
			defer closeTidwall(t, l)
			tail := files[len(files)-1]
			fd, _, _, err := openTail(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer fd.Close()
			mid := files[1].index + 1 // inside a non-tail file
			h := holder(files, mid)
			hdata, _ := os.ReadFile(filepath.Join(dir, h.name))
			if err := l.TruncateFront(mid); err != nil {
				t.Fatal(err)
			}
			check(t, dir, l, mid, 40)
			got, _ := os.ReadFile(filepath.Join(dir, walFileName(mid)))
			if offs := entryOffsets(t, hdata); !bytes.Equal(got, hdata[offs[mid-h.index]:]) {
				broke(t, "truncate", "the file of entry %d does not hold the old file's bytes from that entry on", mid)
			}
			if held, _ := fd.Stat(); !sameFile(held, filepath.Join(dir, tail.name)) {
				broke(t, "truncate", "TruncateFront outside the tail replaced the tail file")
			}
			// At the first entry of the tail: the tail is replaced.
			if err := l.TruncateFront(tail.index); err != nil {
				t.Fatal(err)
			}
			check(t, dir, l, tail.index, 40)
			if held, _ := fd.Stat(); sameFile(held, filepath.Join(dir, tail.name)) {
				broke(t, "truncate", "TruncateFront at the tail's first entry kept the tail file: the WAL's reopening of it is then pointless, but harmless; update tidwall.go")
			}
		})
		t.Run("front everything", func(t *testing.T) {
			dir, l, _ := build(t)
			if err := l.TruncateFront(41); err != nil {
				broke(t, "truncate", "TruncateFront(last+1) with AllowEmpty: %v", err)
			}
			if got := listing(t, dir); len(got) != 1 || got[walFileName(41)] != "" || !slices.Contains(names(got), walFileName(41)) {
				broke(t, "truncate", "TruncateFront(last+1) left %v, want one empty %q", names(got), walFileName(41))
			}
			first, _ := l.FirstIndex()
			last, _ := l.LastIndex()
			if first != 41 || last != 40 {
				broke(t, "truncate", "emptied log: FirstIndex %d LastIndex %d, want 41 40", first, last)
			}
			if err := l.Write(42, []byte("x")); !errors.Is(err, wal.ErrOutOfOrder) {
				broke(t, "indexes", "Write(42) on a log emptied at 41: %v, want ErrOutOfOrder", err)
			}
			if err := l.Write(41, []byte("x")); err != nil {
				broke(t, "truncate", "Write(41) on a log emptied at 41: %v", err)
			}
			closeTidwall(t, l)
			l, err := openTidwall(dir, 2<<10)
			if err != nil {
				t.Fatal(err)
			}
			defer closeTidwall(t, l)
			if first, _ := l.FirstIndex(); first != 41 {
				broke(t, "truncate", "reopened emptied log: FirstIndex %d, want 41", first)
			}
		})
		t.Run("back", func(t *testing.T) {
			dir, l, files := build(t)
			tail := files[len(files)-1]
			cutAt := tail.index + 1 // keep the tail's first two entries
			data, _ := os.ReadFile(filepath.Join(dir, tail.name))
			offs := entryOffsets(t, data)
			if len(offs) < 3 {
				t.Fatalf("fixture: tail holds %d entries", len(offs))
			}
			ours := t.TempDir()
			if err := CopyWAL(dir, ours, 0); err != nil {
				t.Fatal(err)
			}
			if err := truncateFile(filepath.Join(ours, tail.name), int64(offs[2])); err != nil {
				t.Fatal(err)
			}
			if err := l.TruncateBack(cutAt); err != nil {
				t.Fatal(err)
			}
			closeTidwall(t, l)
			if got, want := listing(t, ours), listing(t, dir); !maps.Equal(got, want) {
				broke(t, "truncate", "TruncateBack(%d) left other files or bytes than cutting the tail at entry %d", cutAt, cutAt+1)
			}
			l, err := openTidwall(ours, 2<<10)
			if err != nil {
				t.Fatal(err)
			}
			defer closeTidwall(t, l)
			if last, _ := l.LastIndex(); last != cutAt {
				broke(t, "truncate", "a tail cut at an entry boundary opens with LastIndex %d, want %d", last, cutAt)
			}
		})
	})

	t.Run("drop", func(t *testing.T) {
		dir := t.TempDir()
		l, err := openTidwall(dir, 1<<10)
		if err != nil {
			t.Fatal(err)
		}
		fillTidwall(t, l, 1, 60, 3)
		files, err := listWALFiles(dir)
		if err != nil || len(files) < 4 {
			t.Fatalf("fixture: %d files, %v", len(files), err)
		}
		// Read an entry of the first file, so that tidwall has it loaded.
		if _, err := l.Read(1); err != nil {
			t.Fatal(err)
		}
		keep := files[2].index
		for _, f := range files[:2] {
			if err := os.Remove(filepath.Join(dir, f.name)); err != nil {
				t.Fatal(err)
			}
		}
		fillTidwall(t, l, 61, 90, 3)
		for i := keep; i <= 90; i++ {
			if data, err := l.Read(i); err != nil || !bytes.Equal(data, entryData(i)) {
				broke(t, "drop", "Read(%d) after removing the first files: %d bytes, %v", i, len(data), err)
			}
		}
		closeTidwall(t, l)
		l, err = openTidwall(dir, 1<<10)
		if err != nil {
			broke(t, "drop", "Open of a log whose first files were removed: %v", err)
		}
		defer closeTidwall(t, l)
		first, _ := l.FirstIndex()
		last, _ := l.LastIndex()
		if first != keep || last != 90 {
			broke(t, "drop", "reopened with FirstIndex %d LastIndex %d, want %d 90", first, last, keep)
		}
		if data, err := l.Read(keep); err != nil || !bytes.Equal(data, entryData(keep)) {
			broke(t, "drop", "Read(%d) after reopen: %v", keep, err)
		}
	})

	t.Run("indexes", func(t *testing.T) {
		l, err := openTidwall(t.TempDir(), 0)
		if err != nil {
			t.Fatal(err)
		}
		defer closeTidwall(t, l)
		first, _ := l.FirstIndex()
		last, _ := l.LastIndex()
		if first != 1 || last != 0 {
			broke(t, "indexes", "a new log has FirstIndex %d LastIndex %d, want 1 0", first, last)
		}
		if err := l.Write(2, []byte("x")); !errors.Is(err, wal.ErrOutOfOrder) {
			broke(t, "indexes", "Write(2) on a new log: %v, want ErrOutOfOrder", err)
		}
		if err := l.Write(1, []byte("x")); err != nil {
			broke(t, "indexes", "Write(1) on a new log: %v", err)
		}
	})
}

func appendBytes(t testing.TB, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func sameFile(held os.FileInfo, path string) bool {
	now, err := os.Stat(path)
	return err == nil && held != nil && os.SameFile(held, now)
}
