package segment

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/trovedb/trove"
)

func openWAL(t testing.TB, dir string, opts WALOptions) *WAL {
	t.Helper()
	w, rec, err := OpenWAL(dir, opts)
	if err != nil {
		t.Fatalf("OpenWAL: %v", err)
	}
	if rec.Reason != "" {
		t.Fatalf("OpenWAL repaired a clean WAL: %+v", rec)
	}
	return w
}

func TestWALAppendReadReopen(t *testing.T) {
	dir := t.TempDir()
	w := openWAL(t, dir, WALOptions{SegmentSize: 8 << 10}) // many tidwall files
	if w.FirstIndex() != 0 || w.LastIndex() != 0 || w.NextIndex() != 1 {
		t.Fatalf("empty WAL: first %d last %d next %d", w.FirstIndex(), w.LastIndex(), w.NextIndex())
	}
	var want [][]Record
	pos := uint64(1)
	for call := 0; call < 20; call++ {
		var batches [][]Record
		for b := 0; b < 1+call%3; b++ { // one to three batches per Append
			n := 1 + (call*7+b)%12
			batches = append(batches, batch(pos, n))
			pos += uint64(n)
		}
		first, err := w.Append(batches)
		if err != nil {
			t.Fatalf("Append %d: %v", call, err)
		}
		if first != uint64(len(want))+1 {
			t.Fatalf("Append %d: first index %d, want %d", call, first, len(want)+1)
		}
		want = append(want, batches...)
	}
	check := func(w *WAL) {
		t.Helper()
		if w.FirstIndex() != 1 || w.LastIndex() != uint64(len(want)) {
			t.Fatalf("first %d last %d, want 1 %d", w.FirstIndex(), w.LastIndex(), len(want))
		}
		for i, b := range want {
			got, err := w.Read(uint64(i + 1))
			if err != nil {
				t.Fatalf("Read %d: %v", i+1, err)
			}
			equalRecords(t, got, b)
		}
		if _, err := w.Read(uint64(len(want) + 1)); !errors.Is(err, trove.ErrNotFound) {
			t.Fatalf("Read past the end: %v, want ErrNotFound", err)
		}
		files, _ := listWALFiles(dir)
		var size int64
		for _, f := range files {
			size += f.size
		}
		if len(files) < 3 || w.Size() != size {
			t.Fatalf("%d files of %d bytes, Size() %d", len(files), size, w.Size())
		}
	}
	check(w)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Append([][]Record{batch(1, 1)}); !errors.Is(err, trove.ErrClosed) {
		t.Fatalf("Append after Close: %v", err)
	}
	w = openWAL(t, dir, WALOptions{SegmentSize: 8 << 10})
	defer w.Close()
	check(w)
}

func TestWALTruncateFront(t *testing.T) {
	dir := t.TempDir()
	opts := WALOptions{SegmentSize: 4 << 10}
	w := openWAL(t, dir, opts)
	for i := 0; i < 40; i++ {
		if _, err := w.Append([][]Record{batch(uint64(i*5+1), 5)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.TruncateFront(15); err != nil {
		t.Fatal(err)
	}
	if w.FirstIndex() != 15 || w.LastIndex() != 40 {
		t.Fatalf("after TruncateFront(15): first %d last %d", w.FirstIndex(), w.LastIndex())
	}
	if _, err := w.Read(14); !errors.Is(err, trove.ErrNotFound) {
		t.Fatalf("Read(14) after truncation: %v", err)
	}
	if err := w.TruncateFront(3); err != nil { // before the first: nothing to do
		t.Fatal(err)
	}
	if err := w.TruncateFront(42); !errors.Is(err, ErrOutOfRange) {
		t.Fatalf("TruncateFront past next: %v", err)
	}
	// Empty it, then keep counting.
	if err := w.TruncateFront(41); err != nil {
		t.Fatal(err)
	}
	if w.FirstIndex() != 0 || w.LastIndex() != 0 || w.NextIndex() != 41 {
		t.Fatalf("emptied: first %d last %d next %d", w.FirstIndex(), w.LastIndex(), w.NextIndex())
	}
	first, err := w.Append([][]Record{batch(201, 3), batch(204, 2)})
	if err != nil || first != 41 {
		t.Fatalf("Append after emptying: %d %v", first, err)
	}
	w.Close()
	w = openWAL(t, dir, opts)
	defer w.Close()
	if w.FirstIndex() != 41 || w.LastIndex() != 42 {
		t.Fatalf("reopened: first %d last %d", w.FirstIndex(), w.LastIndex())
	}
	got, err := w.Read(42)
	if err != nil {
		t.Fatal(err)
	}
	equalRecords(t, got, batch(204, 2))
	if err := w.TruncateFront(42); err != nil {
		t.Fatal(err)
	}
	got, err = w.Read(42)
	if err != nil {
		t.Fatal(err)
	}
	equalRecords(t, got, batch(204, 2))
}

func TestWALStickyFsyncError(t *testing.T) {
	dir := t.TempDir()
	w := openWAL(t, dir, WALOptions{})
	if _, err := w.Append([][]Record{batch(1, 3)}); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("injected fsync failure")
	w.syncFile = func(*os.File) error { return boom }
	if _, err := w.Append([][]Record{batch(4, 3)}); !errors.Is(err, boom) {
		t.Fatalf("Append with failing fsync: %v", err)
	}
	w.syncFile = (*os.File).Sync
	size := w.Size()
	for i := 0; i < 3; i++ {
		if _, err := w.Append([][]Record{batch(7, 1)}); !errors.Is(err, boom) {
			t.Fatalf("Append after a failed fsync: %v, want the same error", err)
		}
	}
	if w.LastIndex() != 1 || w.Size() != size {
		t.Fatalf("after failure: last %d size %d→%d; nothing may be acknowledged or written", w.LastIndex(), size, w.Size())
	}
	if _, err := w.Read(2); !errors.Is(err, trove.ErrNotFound) {
		t.Fatalf("the unacknowledged entry is readable: %v", err)
	}
	if err := w.TruncateFront(1); !errors.Is(err, boom) {
		t.Fatalf("TruncateFront after a failed fsync: %v", err)
	}
	if err := w.Close(); !errors.Is(err, boom) {
		t.Fatalf("Close after a failed fsync: %v, want the failure again", err)
	}
}

func TestWALRejectsBadRecords(t *testing.T) {
	w := openWAL(t, t.TempDir(), WALOptions{})
	defer w.Close()
	if _, err := w.Append([][]Record{{{Type: 0, Body: []byte("x")}}}); !errors.Is(err, trove.ErrInvalid) {
		t.Fatalf("type 0: %v", err)
	}
	// Not sticky: the next good Append works and gets index 1.
	if first, err := w.Append([][]Record{batch(1, 1)}); err != nil || first != 1 {
		t.Fatalf("after a rejected Append: %d %v", first, err)
	}
	if first, err := w.Append(nil); err != nil || first != 2 {
		t.Fatalf("empty Append: %d %v", first, err)
	}
	// An empty batch is a valid entry.
	if first, err := w.Append([][]Record{{}}); err != nil || first != 2 {
		t.Fatalf("empty batch: %d %v", first, err)
	}
	if recs, err := w.Read(2); err != nil || len(recs) != 0 {
		t.Fatalf("empty batch read: %v %v", recs, err)
	}
}

// Readers run while the writer appends across many tidwall files and
// truncates the front; run with -race.
func TestWALConcurrentReaders(t *testing.T) {
	w := openWAL(t, t.TempDir(), WALOptions{SegmentSize: 16 << 10, NoSync: true})
	defer w.Close()
	const appends = 300
	var done atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			for n := 0; !done.Load(); n++ {
				last := w.LastIndex()
				if last == 0 {
					continue
				}
				first := w.FirstIndex()
				idx := last - uint64(n+r)%(last-min(first, last)+1)
				recs, err := w.Read(idx)
				if errors.Is(err, trove.ErrNotFound) { // truncated meanwhile
					continue
				}
				if err != nil {
					errs <- err
					return
				}
				if len(recs) != 4 || recs[0].Position != (idx-1)*4+1 {
					errs <- errors.New("wrong records for index")
					return
				}
			}
		}(r)
	}
	for i := 0; i < appends; i++ {
		if _, err := w.Append([][]Record{batch(uint64(i*4+1), 4)}); err != nil {
			t.Fatal(err)
		}
		if i%50 == 49 {
			if err := w.TruncateFront(uint64(i - 20)); err != nil {
				t.Fatal(err)
			}
		}
	}
	done.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// A crash can leave a tidwall truncation half done; OpenWAL finishes it.
func TestWALFinishesInterruptedTruncation(t *testing.T) {
	dir := t.TempDir()
	w := openWAL(t, dir, WALOptions{SegmentSize: 2 << 10})
	for i := 0; i < 20; i++ {
		if _, err := w.Append([][]Record{batch(uint64(i*3+1), 3)}); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	files, _ := listWALFiles(dir)
	if len(files) < 3 {
		t.Fatalf("want several files, got %d", len(files))
	}
	// Simulate tidwall's TruncateFront(files[1].index) stopped after writing
	// the START file: a copy of files[1].
	data, err := os.ReadFile(filepath.Join(dir, files[1].name))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, files[1].name+".START"), data, 0o640); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, files[2].name+".START.TEMP"), []byte("junk"), 0o640)
	w = openWAL(t, dir, WALOptions{SegmentSize: 2 << 10})
	defer w.Close()
	if w.FirstIndex() != files[1].index || w.LastIndex() != 20 {
		t.Fatalf("first %d last %d, want %d 20", w.FirstIndex(), w.LastIndex(), files[1].index)
	}
	got, err := w.Read(20)
	if err != nil {
		t.Fatal(err)
	}
	equalRecords(t, got, batch(58, 3))
}

// Entries larger than a tidwall file, and a reopen with a smaller file
// size than the tail already has: tidwall starts new files before and after
// entries, and the WAL follows its tail through all of it.
func TestWALFileCycling(t *testing.T) {
	dir := t.TempDir()
	w := openWAL(t, dir, WALOptions{SegmentSize: 64 << 10})
	var want [][]Record
	add := func(w *WAL, bs ...[]Record) {
		t.Helper()
		if _, err := w.Append(bs); err != nil {
			t.Fatal(err)
		}
		want = append(want, bs...)
	}
	for i := 0; i < 10; i++ {
		add(w, batch(uint64(i*10+1), 10))
	}
	w.Close()
	w = openWAL(t, dir, WALOptions{SegmentSize: 200}) // the tail is far over this
	for i := 0; i < 6; i++ {
		add(w, batch(uint64(1000+i*4), 4), batch(uint64(2000+i), 1))
	}
	files, _ := listWALFiles(dir)
	if len(files) < 10 {
		t.Fatalf("%d files, want one per entry or so", len(files))
	}
	w.Close()
	w = openWAL(t, dir, WALOptions{SegmentSize: 200})
	defer w.Close()
	for i, b := range want {
		got, err := w.Read(uint64(i + 1))
		if err != nil {
			t.Fatal(err)
		}
		equalRecords(t, got, b)
	}
}

// An entry is invisible to readers until its fsync has completed, and
// readers are not held behind the fsync.
func TestWALVisibleOnlyAfterFsync(t *testing.T) {
	w := openWAL(t, t.TempDir(), WALOptions{})
	defer w.Close()
	if _, err := w.Append([][]Record{batch(1, 2)}); err != nil {
		t.Fatal(err)
	}
	inSync, release := make(chan struct{}), make(chan struct{})
	w.syncFile = func(f *os.File) error {
		close(inSync)
		<-release
		return f.Sync()
	}
	done := make(chan error)
	go func() {
		_, err := w.Append([][]Record{batch(3, 2)})
		done <- err
	}()
	<-inSync
	if w.LastIndex() != 1 {
		t.Fatalf("LastIndex %d during the fsync", w.LastIndex())
	}
	if _, err := w.Read(2); !errors.Is(err, trove.ErrNotFound) {
		t.Fatalf("entry readable before its fsync: %v", err)
	}
	if got, err := w.Read(1); err != nil || len(got) != 2 {
		t.Fatalf("earlier entry during the fsync: %v", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got, err := w.Read(2)
	if err != nil {
		t.Fatal(err)
	}
	equalRecords(t, got, batch(3, 2))
}

// TruncateFront at the first entry of the tail file makes tidwall replace
// the tail with a new file of the same name; the WAL must fsync the new
// file, not the unlinked old one.
func TestWALFollowsReplacedTail(t *testing.T) {
	dir := t.TempDir()
	opts := WALOptions{SegmentSize: 4 << 10}
	w := openWAL(t, dir, opts)
	defer w.Close()
	for i := 0; w.Size() < 3*int64(opts.SegmentSize); i++ {
		if _, err := w.Append([][]Record{batch(uint64(i*5+1), 5)}); err != nil {
			t.Fatal(err)
		}
	}
	files, err := listWALFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	tailStart := files[len(files)-1].index
	if err := w.TruncateFront(tailStart); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Append([][]Record{batch(9000, 1)}); err != nil {
		t.Fatal(err)
	}
	if files, err = listWALFiles(dir); err != nil || files[len(files)-1].index != tailStart {
		t.Fatalf("the fixture's append started a new tail file: %+v %v", files, err)
	}
	now, err := os.Stat(filepath.Join(dir, walFileName(tailStart)))
	if err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	held, err := w.mu.tail.Stat()
	w.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(held, now) {
		t.Fatalf("after TruncateFront(%d) the WAL fsyncs a file that is no longer its tail %s", tailStart, walFileName(tailStart))
	}
}

// TestWALDropBefore: DropBefore removes the files holding only earlier
// entries, never the one holding index nor the tail, keeps every later
// entry readable (also to readers running beside it), refuses
// TruncateFront after it, and leaves a log that reopens at the first file
// left and appends on.
func TestWALDropBefore(t *testing.T) {
	dir := t.TempDir()
	w := openWAL(t, dir, WALOptions{SegmentSize: 4 << 10})
	for i := 0; i < 60; i++ {
		if _, err := w.Append([][]Record{batch(uint64(i*5+1), 5)}); err != nil {
			t.Fatal(err)
		}
	}
	files, err := listWALFiles(dir)
	if err != nil || len(files) < 4 {
		t.Fatalf("%d WAL files, %v: want several", len(files), err)
	}
	for _, index := range []uint64{0, 1, files[1].index - 1} {
		if n, err := w.DropBefore(index); n != 0 || err != nil {
			t.Fatalf("DropBefore(%d) = %d, %v; want nothing dropped", index, n, err)
		}
	}
	// Readers beside the drops see an entry or ErrNotFound, nothing else.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := uint64(1); ; i = i%60 + 1 {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := w.Read(i); err != nil && !errors.Is(err, trove.ErrNotFound) {
				t.Errorf("read %d beside DropBefore: %v", i, err)
				return
			}
		}
	}()
	// Mid-file: the files before the one holding it go.
	if n, err := w.DropBefore(files[2].index + 1); n != 2 || err != nil {
		t.Fatalf("DropBefore(%d) = %d, %v; want 2", files[2].index+1, n, err)
	}
	if w.FirstIndex() != files[2].index {
		t.Fatalf("FirstIndex %d, want %d", w.FirstIndex(), files[2].index)
	}
	if _, err := w.Read(files[2].index - 1); !errors.Is(err, trove.ErrNotFound) {
		t.Fatalf("read of a dropped entry: %v, want ErrNotFound", err)
	}
	// Past the end: every file but the tail.
	if _, err := w.DropBefore(1 << 40); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	left, err := listWALFiles(dir)
	if err != nil || len(left) != 1 || left[0] != files[len(files)-1] {
		t.Fatalf("after dropping everything: %+v %v, want the tail %+v", left, err, files[len(files)-1])
	}
	if _, err := w.Append([][]Record{batch(301, 5)}); err != nil {
		t.Fatal(err)
	}
	if err := w.TruncateFront(62); !errors.Is(err, trove.ErrInvalid) {
		t.Fatalf("TruncateFront after DropBefore: %v, want ErrInvalid", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.DropBefore(61); !errors.Is(err, trove.ErrClosed) {
		t.Fatalf("DropBefore after Close: %v, want ErrClosed", err)
	}
	w = openWAL(t, dir, WALOptions{SegmentSize: 4 << 10})
	defer w.Close()
	if w.FirstIndex() != left[0].index || w.LastIndex() != 61 {
		t.Fatalf("reopened with entries %d-%d, want %d-61", w.FirstIndex(), w.LastIndex(), left[0].index)
	}
	for i := w.FirstIndex(); i <= 61; i++ {
		got, err := w.Read(i)
		if err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
		equalRecords(t, got, batch((i-1)*5+1, 5))
	}
}

// TestWALScan: Scan gives the entries Read gives, from any starting
// index, across files, after TruncateFront and DropBefore; records it
// gives stay valid after later scans; a damaged entry is a
// CorruptionError naming its file, and an error of fn is returned as it
// is.
func TestWALScan(t *testing.T) {
	dir := t.TempDir()
	w := openWAL(t, dir, WALOptions{SegmentSize: 4 << 10})
	defer w.Close()
	pos := uint64(1)
	for i := range 40 {
		n := 1 + i%7
		if _, err := w.Append([][]Record{batch(pos, n)}); err != nil {
			t.Fatal(err)
		}
		pos += uint64(n)
	}
	if files, _ := listWALFiles(dir); len(files) < 4 {
		t.Fatalf("%d files, want several", len(files))
	}
	scan := func(from uint64) (idx []uint64, recs [][]Record) {
		t.Helper()
		err := w.Scan(from, func(i uint64, r []Record) error {
			idx, recs = append(idx, i), append(recs, r)
			return nil
		})
		if err != nil {
			t.Fatalf("Scan(%d): %v", from, err)
		}
		return idx, recs
	}
	check := func(from uint64) {
		t.Helper()
		idx, recs := scan(from)
		first := max(from, w.FirstIndex())
		if len(idx) != int(w.LastIndex()-first+1) {
			t.Fatalf("Scan(%d): %d entries, want %d..%d", from, len(idx), first, w.LastIndex())
		}
		scan(1) // another scan reads the files again: recs must not change
		for k, i := range idx {
			want, err := w.Read(i)
			if err != nil || i != first+uint64(k) {
				t.Fatalf("Scan(%d): entry %d is index %d (Read: %v)", from, k, i, err)
			}
			equalRecords(t, recs[k], want)
		}
	}
	for _, from := range []uint64{0, 1, 2, 17, 39, 40} {
		check(from)
	}
	if idx, _ := scan(41); len(idx) != 0 {
		t.Fatalf("Scan past the end gave %v", idx)
	}
	if err := w.TruncateFront(12); err != nil {
		t.Fatal(err)
	}
	check(1)
	check(20)
	if _, err := w.DropBefore(30); err != nil {
		t.Fatal(err)
	}
	check(1)

	stop := errors.New("stop")
	n := 0
	if err := w.Scan(1, func(uint64, []Record) error { n++; return stop }); err != stop || n != 1 {
		t.Fatalf("Scan with fn failing = %v after %d calls, want fn's error after 1", err, n)
	}

	// A flipped byte in an entry of a file before the tail.
	files, _ := listWALFiles(dir)
	path := filepath.Join(dir, files[len(files)-2].name)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-3] ^= 0x40
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	err = w.Scan(1, func(uint64, []Record) error { return nil })
	if ce := wantCorrupt(t, err); ce.File != path {
		t.Fatalf("Scan of a damaged entry names %s, want %s", ce.File, path)
	}
	w.Close()
	if err := w.Scan(1, func(uint64, []Record) error { return nil }); !errors.Is(err, trove.ErrClosed) {
		t.Fatalf("Scan after Close = %v", err)
	}
}
