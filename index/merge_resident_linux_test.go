package index

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// residentKiB returns the resident size of the pages of this process's
// memory mappings that overlap m, from /proc/self/smaps.
func residentKiB(t *testing.T, m []byte) int {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lo := uint64(uintptr(unsafe.Pointer(unsafe.SliceData(m))))
	hi := lo + uint64(len(m))
	in, kib := false, 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if fields := strings.Fields(line); len(fields) > 0 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			a, b, _ := strings.Cut(fields[0], "-")
			start, err1 := strconv.ParseUint(a, 16, 64)
			end, err2 := strconv.ParseUint(b, 16, 64)
			in = err1 == nil && err2 == nil && start < hi && end > lo
			continue
		}
		if in && strings.HasPrefix(line, "Rss:") {
			n, err := strconv.Atoi(strings.Fields(line)[1])
			if err != nil {
				t.Fatal(err)
			}
			kib += n
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return kib
}

// TestMergeReleasesSourcePages: a merge reads every page of its mapped
// sources once, and leaves few of them in the process's resident set.
func TestMergeReleasesSourcePages(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	docs, prevs := chainedDocs(r, 160_000)
	segs := segIndexes(t, docs, prevs, 80_000, 80_000)
	dir := t.TempDir()
	var runs []*IDRun
	for i, s := range segs {
		path := filepath.Join(dir, fmt.Sprintf("%d.run", i))
		if err := os.WriteFile(path, encodeRun(t, SegSource(s)), 0o640); err != nil {
			t.Fatal(err)
		}
		run, err := OpenIDRun(path)
		if err != nil {
			t.Fatal(err)
		}
		defer run.Close()
		if !run.mapped {
			t.Fatal("the run was not mapped")
		}
		runs = append(runs, run)
	}
	// Every page read: the measure sees them.
	sum := 0
	for _, run := range runs {
		for _, b := range run.data {
			sum += int(b)
		}
		if kib, size := residentKiB(t, run.data), len(run.data)/1024; kib < size*9/10 {
			t.Fatalf("after reading every byte (sum %d): %d KiB resident of %d", sum, kib, size)
		}
	}
	merged := encodeRun(t, RunSource(runs[0]), RunSource(runs[1]))
	for i, run := range runs {
		// What stays: the header's page, the filter (a merge does not
		// read it) and a page at each end of the two sections.
		filter := 8 * len(run.filter)
		if kib := residentKiB(t, run.data); kib > (filter+6*4096)/1024+4 {
			t.Fatalf("run %d after the merge: %d KiB resident of %d (filter %d KiB)", i, kib, len(run.data)/1024, filter/1024)
		}
	}
	all, err := DecodeIDRun("all", merged)
	if err != nil {
		t.Fatal(err)
	}
	checkRun(t, all, docs, 1, 160_000)
}

// TestIDRunCheckLargeFile: a run larger than maxCheckCopy is checked
// from its file with pread (checkIDRunFile), so that its open leaves
// nothing of the map resident but its header and trailer pages; it
// decodes as it does from a copy, fence included.
func TestIDRunCheckLargeFile(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	docs, prevs := chainedDocs(r, 300_000)
	segs := segIndexes(t, docs, prevs, 300_000)
	data := encodeRun(t, SegSource(segs[0]))
	want, err := DecodeIDRun("r", data)
	if err != nil {
		t.Fatal(err)
	}
	defer func(v int) { maxCheckCopy = v }(maxCheckCopy)
	maxCheckCopy = 0
	opened, _ := openRunFile(t, "r.run", data)
	if !opened.mapped {
		t.Fatal("the run was not mapped")
	}
	if kib := residentKiB(t, opened.data); kib > 32 {
		t.Fatalf("%d KiB resident after the open of a %d KiB run", kib, len(data)/1024)
	}
	if !slices.Equal(opened.fence, want.fence) || len(opened.fence) != (300_000+fenceStep-1)/fenceStep {
		t.Fatalf("fence of %d hashes, want %d", len(opened.fence), len(want.fence))
	}
	checkRun(t, opened, docs, 1, 300_000)
}

// TestKeyRunBuildLeavesNothingResident: building a key run reads the key
// tables of its mapped segment indexes from their files, and opening the
// run checks it from its file: neither leaves pages of the maps resident
// beyond what opening a segment index does.
func TestKeyRunBuildLeavesNothingResident(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	dir := t.TempDir()
	var segs []*SegIndex
	for i := range 3 {
		first := uint32(i*20_000 + 1)
		docs, prevs := segDocs(r, first, 20_000)
		for k := range docs {
			docs[k].ID = fmt.Sprintf("%d-%s", first, docs[k].ID)
			docs[k].Version, prevs[k] = 1, 0
		}
		path := filepath.Join(dir, fmt.Sprintf("%d.idx", i))
		if err := os.WriteFile(path, buildSegIndex(t, first, docs, prevs), 0o640); err != nil {
			t.Fatal(err)
		}
		s, err := OpenSegIndex(path)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if !s.mapped {
			t.Fatal("the segment index was not mapped")
		}
		segs = append(segs, s)
	}
	before := make([]int, len(segs))
	for i, s := range segs {
		before[i] = residentKiB(t, s.data)
	}
	path := filepath.Join(dir, "keys.run")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteKeyRun(f, segs); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	for i, s := range segs {
		if kib := residentKiB(t, s.data); kib > before[i]+8 {
			t.Fatalf("segment index %d after the build: %d KiB resident of %d, %d before", i, kib, len(s.data)/1024, before[i])
		}
	}
	run, err := OpenKeyRun(path)
	if err != nil {
		t.Fatal(err)
	}
	defer run.Close()
	if kib := residentKiB(t, run.data); kib > 8 {
		t.Fatalf("%d KiB of a %d KiB run resident after its open", kib, len(run.data)/1024)
	}
	for i, s := range segs {
		if err := s.keyHashes(func(h32 uint32) {
			if run.Candidates(uint64(h32)<<32)&(1<<i) == 0 {
				t.Fatalf("a key of segment %d is not a candidate", i)
			}
		}); err != nil {
			t.Fatal(err)
		}
	}
}
