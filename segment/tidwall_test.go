package segment

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestParseWALName(t *testing.T) {
	cases := []struct {
		name  string
		index uint64
		kind  walFileKind
		ok    bool
	}{
		{"00000000000000000001", 1, kindSegment, true},
		{"18446744073709551615", 1<<64 - 1, kindSegment, true},
		{"00000000000000000042.START", 42, kindStart, true},
		{"00000000000000000042.END", 42, kindEnd, true},
		{"00000000000000000042.START.TEMP", 42, kindStartTemp, true},
		{"00000000000000000042.END.TEMP", 42, kindEndTemp, true},
		{"00000000000000000000", 0, 0, false},            // index 0
		{"18446744073709551616", 0, 0, false},            // overflows
		{"0000000000000000001", 0, 0, false},             // 19 digits
		{"000000000000000000001", 0, 0, false},           // 21 digits
		{"0000000000000000000a", 0, 0, false},            // not a digit
		{"+0000000000000000001", 0, 0, false},            // a sign
		{"00000000000000000001.TEMP", 0, 0, false},       // not tidwall's
		{"00000000000000000001.start", 0, 0, false},      // case
		{"00000000000000000001.END.TEMP.x", 0, 0, false}, // trailing
		{"", 0, 0, false},
		{"index.snap", 0, 0, false},
	}
	for _, tc := range cases {
		index, kind, ok := parseWALName(tc.name)
		if ok != tc.ok || index != tc.index || kind != tc.kind {
			t.Errorf("parseWALName(%q) = %d %d %v, want %d %d %v", tc.name, index, kind, ok, tc.index, tc.kind, tc.ok)
		}
	}
}

func FuzzWALName(f *testing.F) {
	for _, s := range []string{"00000000000000000001", "00000000000000000042.START.TEMP", "x", "0000000000000000000.END"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		index, kind, ok := parseWALName(name)
		if !ok {
			return
		}
		if want := walFileName(index) + walKindSuffix[kind]; want != name || index == 0 {
			t.Fatalf("parseWALName(%q) = %d %d: that is the name %q", name, index, kind, want)
		}
	})
}

func TestCopyWAL(t *testing.T) {
	src := t.TempDir()
	for _, n := range []string{walFileName(1), walFileName(11), walFileName(21), walFileName(15) + tidwallStart,
		walFileName(15) + tidwallStart + tidwallTemp, "junk", "index.snap"} {
		if err := os.WriteFile(filepath.Join(src, n), []byte(n), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	leftover := walFileName(15) + tidwallStart
	for _, tc := range []struct {
		from uint64
		want []string
	}{
		{0, []string{walFileName(1), walFileName(11), walFileName(21), leftover}},
		{1, []string{walFileName(1), walFileName(11), walFileName(21), leftover}},
		{10, []string{walFileName(1), walFileName(11), walFileName(21), leftover}},
		{11, []string{walFileName(11), walFileName(21), leftover}},
		{15, []string{walFileName(11), walFileName(21), leftover}}, // entry 15 is in file 11
		{100, []string{walFileName(21), leftover}},
	} {
		dst := t.TempDir()
		if err := CopyWAL(src, dst, tc.from); err != nil {
			t.Fatal(err)
		}
		got := names(listing(t, dst))
		slices.Sort(tc.want)
		if !slices.Equal(got, tc.want) {
			t.Errorf("CopyWAL from %d copied %v, want %v", tc.from, got, tc.want)
		}
		for _, n := range got {
			if d, _ := os.ReadFile(filepath.Join(dst, n)); string(d) != n {
				t.Errorf("copy of %s holds %q", n, d)
			}
		}
	}
	if err := CopyWAL(filepath.Join(src, "missing"), t.TempDir(), 0); err != nil {
		t.Fatalf("CopyWAL of a missing WAL: %v", err)
	}
	if err := CopyWAL(src, filepath.Join(src, "missing"), 0); err == nil {
		t.Fatal("CopyWAL into a missing directory succeeded")
	}
	if got, err := WALTailStart(src); err != nil || got != 21 {
		t.Fatalf("WALTailStart = %d %v, want 21", got, err)
	}
	if got, err := WALTailStart(filepath.Join(src, "missing")); err != nil || got != 0 {
		t.Fatalf("WALTailStart of a missing WAL = %d %v, want 0", got, err)
	}
}
