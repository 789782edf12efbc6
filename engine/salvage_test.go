package engine

import (
	"context"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/backup"
	"github.com/trovedb/trove/segment"
)

// salvageAll runs Salvage on dir and returns the events' positions and the
// links and schemas it read.
func salvageAll(t *testing.T, dir string) (SalvageReport, []uint64, []string, []string) {
	t.Helper()
	var pos []uint64
	var links, schemas []string
	rep, err := Salvage(context.Background(), dir, backup.Sink{
		Event: func(e trove.Event) error {
			if e.ID.ID != testEvent(int(e.Position)-1).ID.ID || e.Schema.Identity() != testSchema.Identity() {
				t.Fatalf("salvaged %s at %d", e.ID, e.Position)
			}
			pos = append(pos, e.Position)
			return nil
		},
		Link: func(src trove.EventID, l trove.EventLink) error {
			links = append(links, src.String()+">"+l.Type+">"+l.TargetEvent.ID)
			return nil
		},
		Schema: func(rs trove.RegisteredSchema) error { schemas = append(schemas, rs.ID); return nil },
	})
	if err != nil {
		t.Fatalf("salvage: %v", err)
	}
	return rep, pos, links, schemas
}

// fillSalvage writes 600 events in small segments, a registered schema and
// two added links (one sealed, one only in the WAL).
func fillSalvage(t *testing.T) string {
	dir := t.TempDir()
	// Segments of 8 KiB: even when seals lag (backpressure lets a segment
	// grow to twice that), 600 events fill more than three.
	st := openStore(t, dir, Options{SegmentSize: 8 << 10})
	ctx := context.Background()
	if err := st.SaveSchema(ctx, trove.RegisteredSchema{ID: "task", Version: "1", Schema: []byte(`{"type":"object"}`)}); err != nil {
		t.Fatal(err)
	}
	saveBatches(t, st, 0, 300, 10)
	if err := st.SaveLink(ctx, trove.EventID{ID: testEvent(5).ID.ID}, trove.EventLink{Type: "early", TargetEvent: trove.EventID{ID: "x"}}); err != nil {
		t.Fatal(err)
	}
	saveBatches(t, st, 300, 300, 10)
	if err := st.SaveLink(ctx, trove.EventID{ID: testEvent(598).ID.ID}, trove.EventLink{Type: "late", TargetEvent: trove.EventID{ID: "y"}}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if segs, _ := filepath.Glob(filepath.Join(dir, "segments", "*.seg")); len(segs) < 3 {
		t.Fatalf("%d segments: the test needs at least 3", len(segs))
	}
	return dir
}

func TestSalvageIntactStore(t *testing.T) {
	dir := fillSalvage(t)
	segs, _ := filepath.Glob(filepath.Join(dir, "segments", "*.seg"))
	if len(segs) < 3 {
		t.Fatalf("%d segments: the test needs several", len(segs))
	}
	before := snapshotFiles(t, dir)
	rep, pos, links, schemas := salvageAll(t, dir)
	if len(rep.Skipped) != 0 || len(pos) != 600 || pos[0] != 1 || pos[599] != 600 {
		t.Fatalf("salvage of an intact store: %d events, skipped %q", len(pos), rep.Skipped)
	}
	if want := []string{testEvent(5).ID.ID + "@1>early>x", testEvent(598).ID.ID + "@1>late>y"}; !slices.Equal(links, want) {
		t.Fatalf("links %q, want %q", links, want)
	}
	if !slices.Equal(schemas, []string{"task"}) {
		t.Fatalf("schemas %q", schemas)
	}
	if after := snapshotFiles(t, dir); !maps.Equal(after, before) {
		t.Fatalf("salvage changed the directory: %q, then %q", keys(before), keys(after))
	}
}

// A damaged block loses its events only; a segment whose footer is damaged
// (the store no longer opens) loses its own; the rest is read.
func TestSalvageDamagedStore(t *testing.T) {
	dir := fillSalvage(t)
	segs, _ := filepath.Glob(filepath.Join(dir, "segments", "*.seg"))
	slices.Sort(segs)
	// A block in the middle of the first segment.
	seg, err := segment.OpenSegment(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	blocks := seg.Blocks()
	seg.Close()
	bad := blocks[len(blocks)/2]
	flip(t, segs[0], bad.Offset+bad.Length/2)
	// The second segment's last bytes (its trailer).
	fi, _ := os.Stat(segs[1])
	flip(t, segs[1], fi.Size()-3)
	seg1Lost := segmentPositions(t, segs[1])

	if st, err := Open(dir, Options{}); err == nil {
		st.Close()
		t.Fatal("the damaged store opened")
	}
	rep, pos, links, _ := salvageAll(t, dir)
	lost := int(bad.LastPosition-bad.FirstPosition+1) + seg1Lost
	if len(pos) != 600-lost {
		t.Fatalf("salvaged %d events, want %d (skipped %q)", len(pos), 600-lost, rep.Skipped)
	}
	for _, p := range pos {
		if p >= bad.FirstPosition && p <= bad.LastPosition {
			t.Fatalf("an event of the damaged block was salvaged: %d", p)
		}
	}
	joined := strings.Join(rep.Skipped, "\n")
	for _, want := range []string{"block", segs[1], "not found"} {
		if !strings.Contains(joined, want) {
			t.Fatalf("the report does not say %q:\n%s", want, joined)
		}
	}
	// The early link went with a damaged part or survived; the late one,
	// in an intact part, is read.
	if !slices.Contains(links, testEvent(598).ID.ID+"@1>late>y") {
		t.Fatalf("links %q", links)
	}
}

func segmentPositions(t *testing.T, path string) int {
	t.Helper()
	// Read before damage would be exact; the footer holds the count, so
	// take it from the intact copy of the block table by position ranges
	// of the segments around it instead.
	dir := filepath.Dir(path)
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	slices.Sort(segs)
	i := slices.Index(segs, path)
	prev, err := segment.OpenSegment(segs[i-1])
	if err != nil {
		// The previous one may be damaged in a block only; its footer holds.
		t.Fatal(err)
	}
	defer prev.Close()
	next, err := segment.OpenSegment(segs[i+1])
	if err != nil {
		t.Fatal(err)
	}
	defer next.Close()
	return int(next.Meta().FirstPosition - prev.Meta().LastPosition - 1)
}

func flip(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// The files events name are salvaged with their bytes, each once, before
// the first event that names it.
func TestSalvageFiles(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir, Options{})
	ctx := context.Background()
	f, err := st.SaveFile(ctx, trove.EventFile{ID: "doc", ContentType: "text/plain"}, strings.NewReader("file bytes"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		e := testEvent(i)
		e.Files = []trove.EventFile{f}
		if _, err := st.SaveEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	var got []string
	rep, err := Salvage(ctx, dir, backup.Sink{
		File: func(f trove.EventFile, data io.Reader) error {
			b, _ := io.ReadAll(data)
			got = append(got, "file "+f.ID+" "+string(b))
			return nil
		},
		Event: func(e trove.Event) error { got = append(got, "event "+e.ID.ID); return nil },
	})
	if err != nil || len(rep.Skipped) != 0 || rep.Files != 1 {
		t.Fatalf("salvage: %v, %+v", err, rep)
	}
	want := []string{"file doc file bytes", "event " + testEvent(0).ID.ID, "event " + testEvent(1).ID.ID}
	if !slices.Equal(got, want) {
		t.Fatalf("salvaged %q, want %q", got, want)
	}
}

// A WAL damaged before its tail no longer opens; Salvage reads every
// intact entry around the damage (read only), and says what it skipped.
func TestSalvageDamagedWAL(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir, Options{})
	saveBatches(t, st, 0, 60, 1) // one WAL entry an event
	if err := st.SaveLink(context.Background(), trove.EventID{ID: testEvent(59).ID.ID}, trove.EventLink{Type: "late", TargetEvent: trove.EventID{ID: "y"}}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	wals, _ := filepath.Glob(filepath.Join(dir, "wal", "*"))
	if len(wals) != 1 {
		t.Fatalf("WAL files %v, want one", wals)
	}
	fi, err := os.Stat(wals[0])
	if err != nil {
		t.Fatal(err)
	}
	flip(t, wals[0], fi.Size()/2)
	before := snapshotFiles(t, dir)
	if st, err := Open(dir, Options{}); err == nil {
		st.Close()
		t.Fatal("the store with a damaged WAL opened")
	}
	rep, pos, links, _ := salvageAll(t, dir)
	if len(pos) != 59 || pos[len(pos)-1] != 60 {
		t.Fatalf("salvaged %d events up to %v, want 59 up to 60 (skipped %q)", len(pos), pos[len(pos)-1], rep.Skipped)
	}
	var lost uint64
	for i, p := range pos {
		if p != uint64(i+1) && lost == 0 {
			lost = uint64(i + 1)
		}
	}
	joined := strings.Join(rep.Skipped, "\n")
	for _, want := range []string{"read entry by entry", wals[0], "without a verifiable frame", "not found"} {
		if !strings.Contains(joined, want) {
			t.Fatalf("the report does not say %q:\n%s", want, joined)
		}
	}
	if lost == 0 || !strings.Contains(joined, "positions "+strconv.FormatUint(lost, 10)+" to "+strconv.FormatUint(lost, 10)+": not found") {
		t.Fatalf("lost position %d not reported:\n%s", lost, joined)
	}
	if !slices.Contains(links, testEvent(59).ID.ID+"@1>late>y") {
		t.Fatalf("the link after the damage was not salvaged: %q", links)
	}
	if after := snapshotFiles(t, dir); !maps.Equal(after, before) {
		t.Fatal("salvage changed the store's files")
	}
}
