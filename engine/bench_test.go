package engine

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tidwall/wal"
	"github.com/trovedb/trove"
	"github.com/trovedb/trove/segment"
)

// Benchmarks. Run them with, for example:
//
//	go test ./engine -run XXX -bench . -benchtime 1x -benchevents 1000000
//
// -benchevents sizes the store the query benchmarks run on (default 1M).

var (
	benchEvents = flag.Int("benchevents", 1_000_000, "events in the query benchmarks' store")
	benchDir    = flag.String("benchdir", "", "reuse (or create) the query benchmarks' store here")
	benchBlock  = flag.Int("benchblock", 0, "blockSize option of the benchmarks' stores (0: the default)")
	benchSegSz  = flag.Int64("benchsegsize", 0, "segmentSize option of the ingest benchmarks (0: the default)")
	benchSearch = flag.String("benchsearch", "on", "searchIndex option of the ingest benchmarks (on: bleve indexes sealed events in the background)")
	benchQSrch  = flag.String("benchquerysearch", "off", "searchIndex option of the query benchmarks' store (on: reads run while bleve catches up, as in the harness at 10M events)")
	benchHeap   = flag.String("benchheapprofile", "", "BenchmarkIngestRSS: write a heap profile of the open store here after the ingest")
	benchCold   = flag.Bool("benchcold", false, "query benchmarks: drop the store's files from the page cache after opening it (Linux), so that reads find them on the disk; reports disk bytes and major faults an op")
	benchWide   = flag.Bool("benchwide", false, "use the bench harness's event shape (~728 bytes of JSON, ~296-byte payload, metadata, 30% linked, 10 schemas × 100 producers); keep its -benchdir apart")
)

var (
	benchSchemas   [10]trove.Schema
	benchSchemasOK sync.Once
)

// benchEvent returns event i of the benchmark data set: ~300 bytes of JSON,
// 10 schemas × 10 producers, a status field with 100 values (1% each), one
// event per 100 ms of createdAt. With -benchwide it is benchWideEvent(i).
func benchEvent(i int) trove.Event {
	benchSchemasOK.Do(func() {
		for k := range benchSchemas {
			benchSchemas[k] = trove.MustSchema(fmt.Sprintf(`{"$id":"bench.schema%d+v1","type":"object"}`, k))
		}
	})
	if *benchWide {
		return benchWideEvent(i)
	}
	return trove.Event{
		ID:        trove.EventID{ID: fmt.Sprintf("0193b1e2-%04x-7000-8000-%012x", i%65536, i)},
		CreatedAt: time.UnixMilli(1_744_000_000_000 + int64(i)*100).UTC(),
		Producer:  fmt.Sprintf("service-%d", (i/10)%10),
		Schema:    benchSchemas[i%10],
		Payload: []byte(fmt.Sprintf(`{"status":"s%02d","amount":%d,"user":{"name":"user-%d","region":"eu-%d"},"message":"request %d handled by worker %d after %d retries with result ok","tags":["a","b"]}`,
			(i/7)%100, i%1000, i%5000, i%4, i, i%32, i%5)),
	}
}

func benchOpen(b *testing.B, dir string) *Store {
	st, err := Open(dir, Options{SearchIndex: *benchSearch, SegmentSize: *benchSegSz, BlockSize: *benchBlock})
	if err != nil {
		b.Fatal(err)
	}
	return st
}

// BenchmarkIngestBatch1000 saves batches of 1,000 events durably. Its
// events/s counts the time spent in SaveEvents only, as the bench harness
// does: the events are generated before each call's clock starts.
func BenchmarkIngestBatch1000(b *testing.B) {
	dir := b.TempDir()
	st := benchOpen(b, dir)
	defer st.Close()
	const per = 1000
	var jsonBytes int64
	var saving time.Duration
	b.ResetTimer()
	n := 0
	for b.Loop() {
		evs := make([]trove.Event, per)
		for k := range evs {
			evs[k] = benchEvent(n)
			n++
		}
		t := time.Now()
		if _, err := st.SaveEvents(context.Background(), evs); err != nil {
			b.Fatal(err)
		}
		saving += time.Since(t)
	}
	b.StopTimer()
	b.ReportMetric(float64(n)/saving.Seconds(), "events/s")
	for i := range min(n, 10000) {
		e := benchEvent(i)
		e.Position = uint64(i + 1)
		j, _ := json.Marshal(e)
		jsonBytes += int64(len(j))
	}
	b.ReportMetric(float64(jsonBytes)/float64(min(n, 10000)), "json-bytes/event")
}

// BenchmarkRawWAL writes the same bytes with tidwall/wal directly: batches
// of 1,000 entries, one fsync each — the ceiling the engine is measured
// against. Its events/s counts the time spent in WriteBatch only.
func BenchmarkRawWAL(b *testing.B) {
	dir := b.TempDir()
	l, err := wal.Open(filepath.Join(dir, "wal"), &wal.Options{NoSync: false, SegmentSize: 64 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	const per = 1000
	n := 0
	idx := uint64(1)
	var writing time.Duration
	for b.Loop() {
		var batch wal.Batch
		for range per {
			e := benchEvent(n)
			n++
			body := appendEvent(nil, &e, uint32(n%10))
			batch.Write(idx, body)
			idx++
		}
		t := time.Now()
		if err := l.WriteBatch(&batch); err != nil {
			b.Fatal(err)
		}
		writing += time.Since(t)
	}
	b.ReportMetric(float64(n)/writing.Seconds(), "events/s")
}

// BenchmarkIngestSingle has one goroutine saving single events durably:
// the latency of a lone writer (one fsync each).
func BenchmarkIngestSingle(b *testing.B) {
	st := benchOpen(b, b.TempDir())
	defer st.Close()
	var lat []time.Duration
	i := 0
	for b.Loop() {
		t := time.Now()
		if _, err := st.SaveEvent(context.Background(), benchEvent(i)); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t))
		i++
	}
	reportP50(b, lat)
}

// BenchmarkIngestConcurrent64 has 64 goroutines each saving single events
// durably.
func BenchmarkIngestConcurrent64(b *testing.B) {
	dir := b.TempDir()
	st := benchOpen(b, dir)
	defer st.Close()
	var next atomic.Int64
	b.SetParallelism(64 / max(1, b.N/b.N*2)) // 64 goroutines on 2 cores
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(next.Add(1))
			if _, err := st.SaveEvent(context.Background(), benchEvent(i)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(next.Load())/time.Since(start).Seconds(), "events/s")
	b.ReportMetric(float64(next.Load())/st.Stats()["fsyncs"], "events/fsync")
}

var (
	fixtureOnce sync.Once
	fixtureDir  string
	fixtureErr  error
)

// fixture builds (once per process) a store of -benchevents events, closed.
func fixture(b *testing.B) string {
	fixtureOnce.Do(func() {
		if *benchDir != "" {
			fixtureDir = *benchDir
			if _, err := os.Stat(filepath.Join(fixtureDir, "index.snap")); err == nil {
				return
			}
		} else if fixtureDir, fixtureErr = os.MkdirTemp("", "trove-engine-bench-"); fixtureErr != nil {
			return
		}
		st, err := Open(fixtureDir, Options{BlockSize: *benchBlock, SegmentSize: *benchSegSz})
		if err != nil {
			fixtureErr = err
			return
		}
		start := time.Now()
		for i := 0; i < *benchEvents; i += 1000 {
			evs := make([]trove.Event, 0, 1000)
			for k := i; k < min(i+1000, *benchEvents); k++ {
				evs = append(evs, benchEvent(k))
			}
			if _, err := st.SaveEvents(context.Background(), evs); err != nil {
				fixtureErr = err
				return
			}
		}
		fmt.Fprintf(os.Stderr, "fixture: %d events in %v\n", *benchEvents, time.Since(start))
		fixtureErr = st.Close()
	})
	if fixtureErr != nil {
		b.Fatal(fixtureErr)
	}
	return fixtureDir
}

func BenchmarkReopen(b *testing.B) {
	dir := fixture(b)
	var heap uint64
	for b.Loop() {
		if *benchCold {
			b.StopTimer()
			evictStore(b, dir)
			b.StartTimer()
		}
		st, err := Open(dir, Options{SearchIndex: "off"})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		heap = ms.HeapInuse
		if kb, ok := procStatus("VmRSS"); ok {
			b.ReportMetric(kb/1024, "open-RSS-MiB")
		}
		b.StartTimer()
		st.Close()
	}
	b.ReportMetric(float64(heap)/float64(*benchEvents), "heap-bytes/event")
}

// procStatus returns a field of /proc/self/status in kB (Linux).
func procStatus(field string) (float64, bool) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(status), "\n") {
		var kb float64
		if _, err := fmt.Sscanf(line, field+": %f kB", &kb); err == nil {
			return kb, true
		}
	}
	return 0, false
}

// BenchmarkSealedSize reports the bytes on disk per event and per byte of
// the events' JSON.
func BenchmarkSealedSize(b *testing.B) {
	dir := fixture(b)
	var seg int64
	filepath.Walk(filepath.Join(dir, "segments"), func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			seg += fi.Size()
		}
		return nil
	})
	var all int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			all += fi.Size()
		}
		return nil
	})
	var js int64
	for i := range *benchEvents {
		e := benchEvent(i)
		e.Position = uint64(i + 1)
		j, _ := json.Marshal(e)
		js += int64(len(j))
	}
	for b.Loop() {
	}
	b.ReportMetric(float64(seg)/float64(js), "sealed/json")
	b.ReportMetric(float64(all)/float64(*benchEvents), "disk-bytes/event")
}

func benchQuery(b *testing.B, q trove.EventQuery, want int) {
	benchQueries(b, func(int) trove.EventQuery { return q }, want)
}

// benchQueries runs query next(i) in iteration i; the first, next(0), must
// have want results (some, for want < 0).
func benchQueries(b *testing.B, next func(i int) trove.EventQuery, want int) {
	q := next(0)
	dir := fixture(b)
	st, err := Open(dir, Options{SearchIndex: *benchQSrch})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	res, err := st.QueryEvents(ctx, q)
	if err != nil || want >= 0 && len(res) != want || want < 0 && len(res) == 0 {
		b.Fatalf("query: %d results, %v; want %d", len(res), err, want)
	}
	var lat []time.Duration
	cold := startColdReads(b, dir)
	i := 0
	for b.Loop() {
		q := next(i)
		i++
		t := time.Now()
		if _, err := st.QueryEvents(ctx, q); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t))
	}
	cold.report(b, len(lat))
	reportP50(b, lat)
}

// coldReads measures what a read benchmark's ops read from the disk.
type coldReads struct{ at ioCounters }

// startColdReads evicts the store on dir from the page cache when
// -benchcold asks, and starts counting.
func startColdReads(b *testing.B, dir string) coldReads {
	if *benchCold {
		evictStore(b, dir)
	}
	return coldReads{readIOCounters()}
}

// report adds the disk KiB and major page faults an op to b's metrics.
func (c coldReads) report(b *testing.B, ops int) {
	if ops == 0 {
		return
	}
	now := readIOCounters()
	b.ReportMetric(float64(now.readBytes-c.at.readBytes)/1024/float64(ops), "disk-KiB/op")
	b.ReportMetric(float64(now.majorFaults-c.at.majorFaults)/float64(ops), "majflt/op")
}

func reportP50(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	b.ReportMetric(float64(s[len(s)/2].Nanoseconds())/1000, "p50-µs")
}

func BenchmarkGetByID(b *testing.B) {
	dir := fixture(b)
	st, err := Open(dir, Options{SearchIndex: *benchQSrch})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	var lat []time.Duration
	cold := startColdReads(b, dir)
	i := 0
	for b.Loop() {
		id := benchEvent((i * 7919) % *benchEvents).ID
		i++
		t := time.Now()
		if _, err := st.GetEvent(ctx, trove.EventID{ID: id.ID}); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t))
	}
	cold.report(b, len(lat))
	reportP50(b, lat)
}

func BenchmarkQuerySchemaProducer(b *testing.B) {
	benchQueries(b, benchSchemaProducerQuery, 100)
}

func BenchmarkQueryPayloadEquality(b *testing.B) {
	benchQuery(b, trove.EventQuery{Payload: map[string]any{"status": "s42"}, Limit: trove.Limit(100)}, 100)
}

// BenchmarkQueryLinkTarget asks, as the harness does, for the events
// linking to the target of a pseudo-random linked event (-benchwide: 30% of
// events link, mostly to one of the 1,000 before them; without, none do).
// Few events match, so every segment is asked.
func BenchmarkQueryLinkTarget(b *testing.B) {
	if !*benchWide {
		b.Skip("needs -benchwide: the narrow data set has no links")
	}
	target := func(i int) trove.EventQuery {
		for k := range 100 {
			e := benchWideEvent(int(newWideRand(i, uint64(0x3c+k)).next() % uint64(*benchEvents)))
			if len(e.Links) > 0 {
				return trove.EventQuery{Links: []trove.LinkCriterion{{TargetEvent: &e.Links[0].TargetEvent}}, Limit: trove.Limit(100)}
			}
		}
		b.Fatal("no linked event found")
		return trove.EventQuery{}
	}
	benchQueries(b, target, -1)
}

// BenchmarkQueryUniqueValue asks for the one event holding a unique payload
// value (-benchwide: a traceId), of a pseudo-random event, limit 1: a
// high-cardinality term every segment may hold.
func BenchmarkQueryUniqueValue(b *testing.B) {
	if !*benchWide {
		b.Skip("needs -benchwide: the narrow data set has no unique payload value")
	}
	trace := func(i int) trove.EventQuery {
		k := int(newWideRand(i, 0x71).next() % uint64(*benchEvents))
		return trove.EventQuery{Payload: map[string]any{"traceId": fmt.Sprintf("t-%016x", newWideRand(k, 0x7a).next())}, Limit: trove.Limit(1)}
	}
	benchQueries(b, trace, 1)
}

// BenchmarkQueryNewest asks, as the harness does, for the 20 newest
// events by createdAt.
func BenchmarkQueryNewest(b *testing.B) {
	benchQuery(b, trove.EventQuery{Sort: []trove.SortField{{Field: "createdAt", Direction: "desc"}}, Limit: trove.Limit(20)}, 20)
}

func BenchmarkQueryTimeRange(b *testing.B) {
	start := time.UnixMilli(1_744_000_000_000).UTC().Add(time.Duration(*benchEvents/2) * 100 * time.Millisecond)
	benchQuery(b, trove.EventQuery{TimeRange: &trove.TimeRange{Start: trove.FormatTime(start), End: trove.FormatTime(start.Add(time.Hour))}, Limit: trove.Limit(100)}, 100)
}

// BenchmarkSegmentWAL writes the same records through segment.WAL: frames
// and CRCs on top of tidwall/wal, batches of 1,000 events in one entry.
func BenchmarkSegmentWAL(b *testing.B) {
	w, _, err := segment.OpenWAL(filepath.Join(b.TempDir(), "wal"), segment.WALOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	n := 0
	for b.Loop() {
		recs := make([]segment.Record, 0, 1000)
		for range 1000 {
			e := benchEvent(n)
			n++
			recs = append(recs, segment.Record{Type: recEvent, Position: uint64(n), Time: e.CreatedAt.UnixMilli(), Body: appendEvent(nil, &e, uint32(n%10))})
		}
		if _, err := w.Append([][]segment.Record{recs}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkIngestRSS ingests -benchevents events in batches of 1,000 into
// a fresh store and reports the process's peak resident set (VmHWM, Linux)
// and the live heap per event at the end.
func BenchmarkIngestRSS(b *testing.B) {
	for b.Loop() {
		dir := b.TempDir()
		st := benchOpen(b, dir)
		for i := 0; i < *benchEvents; i += 1000 {
			evs := make([]trove.Event, 0, 1000)
			for k := i; k < min(i+1000, *benchEvents); k++ {
				evs = append(evs, benchEvent(k))
			}
			if _, err := st.SaveEvents(context.Background(), evs); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapInuse)/float64(*benchEvents), "heap-bytes/event")
		// The peak, and what is resident at the end: anonymous memory (the
		// Go heap, the id table) and file pages mapped (segment indexes,
		// the search index).
		for field, unit := range map[string]string{"VmHWM": "peak-RSS-MiB", "RssAnon": "anon-RSS-MiB", "RssFile": "file-RSS-MiB"} {
			if kb, ok := procStatus(field); ok {
				b.ReportMetric(kb/1024, unit)
			}
		}
		b.ReportMetric(float64(ms.HeapSys-ms.HeapReleased)/(1<<20), "heap-held-MiB")
		b.ReportMetric(float64(*benchEvents)/b.Elapsed().Seconds(), "events/s")
		b.ReportMetric(st.Stats()["writer_stall_max_seconds"]*1000, "stall-max-ms")
		if *benchHeap != "" {
			f, err := os.Create(*benchHeap)
			if err != nil {
				b.Fatal(err)
			}
			if err := pprof.WriteHeapProfile(f); err != nil {
				b.Fatal(err)
			}
			f.Close()
		}
		if err := st.Close(); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(dirSize(dir))/float64(*benchEvents), "disk-bytes/event")
		b.StartTimer()
	}
}
