package main

import (
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/trovedb/trove"
)

// metric says how a workload is measured and compared.
type metric int

const (
	throughput metric = iota // events or operations per second; higher is better
	latency                  // p50 and p99 in ms; the ratio uses p50; lower is better
	value                    // one number (Unit); lower is better
)

// Workload is one row group of the report.
type Workload struct {
	ID     string
	Title  string
	Metric metric
	Unit   string // for value workloads
	About  string // what it does, for the report and README
}

// Workload ids.
const (
	wIngest     = "ingest_batch"
	wFiles      = "file_saves"
	wSettle     = "settle"
	wSave1      = "save_w1"
	wSave8      = "save_w8"
	wSave64     = "save_w64"
	wGet        = "get_by_id"
	wFilter     = "schema_producer"
	wTime       = "time_window"
	wLink       = "link_target"
	wPay1       = "payload_1pct"
	wPay10      = "payload_10pct"
	wSearch     = "search"
	wSort       = "sort_recent"
	wUnique     = "unique_payload"
	wVisibility = "ack_to_query"
	wReopen     = "reopen"
	wDisk       = "disk_bytes"
	wRSS        = "peak_rss"
)

// saveWorkload returns the id of the single-save workload with w writers.
func saveWorkload(w int) string { return "save_w" + strconv.Itoa(w) }

// workloads lists every workload in report order.
func workloads() []Workload {
	return withFileWorkloads([]Workload{
		{ID: wIngest, Title: "Batched durable ingest (1,000 a batch)", Metric: throughput,
			About: "all events in batches of 1,000, each batch durable (fsynced) before the next; events/s over the time spent in the save calls " +
				"(events are generated and encoded before each call's clock starts; the events' files are saved apart, see file saves)"},
		{ID: wSave1, Title: "Single-event durable saves, 1 writer", Metric: throughput,
			About: "one goroutine saving one event at a time, each durable when acknowledged, into a fresh store; events generated beforehand"},
		{ID: wSave8, Title: "Single-event durable saves, 8 writers", Metric: throughput,
			About: "8 goroutines saving concurrently, one event per call; group commit pays off here"},
		{ID: wSave64, Title: "Single-event durable saves, 64 writers", Metric: throughput,
			About: "64 goroutines saving concurrently, one event per call"},
		{ID: wFiles, Title: "File saves (small files, durable)", Metric: throughput,
			About: "the dataset's files (2% of events carry one, 256 B to 4 KiB), saved one at a time during ingest, each durable when the call returns; " +
				"files/s and MB/s over the time spent in the file-save calls"},
		{ID: wSettle, Title: "Background work after ingest", Metric: value, Unit: "s",
			About: "time from the end of ingest until the contender's process is idle (under 5% of one CPU over two seconds), at most -settle; " +
				"the read workloads start then, so they measure every store at rest (0: no background work; n/a: not waited for)"},
		{ID: wGet, Title: "Get by id", Metric: latency,
			About: "the latest version of a random stored event by id"},
		{ID: wFilter, Title: "Schema + producer filter, limit 100", Metric: latency,
			About: "events of one schema from one producer (about 1 in 1,000 events), first 100 in position order"},
		{ID: wTime, Title: "One-hour time window, limit 100", Metric: latency,
			About: "createdAt within a random hour of the 30 days the data spans, first 100"},
		{ID: wLink, Title: "Link target, limit 100", Metric: latency,
			About: "events with a link to a given event (30% of events link to an earlier one)"},
		{ID: wPay1, Title: "Payload equality, 1% match, limit 100", Metric: latency,
			About: `payload {"status": "failed"}, a value 1% of events hold`},
		{ID: wPay10, Title: "Payload equality, 10% match, limit 100", Metric: latency,
			About: `payload {"status": "pending"}, a value 10% of events hold`},
		{ID: wSearch, Title: "Full-text search, limit 100", Metric: latency,
			About: "search message:WORD for a mid-frequency word of the free text"},
		{ID: wSort, Title: "Sort by createdAt desc, limit 20", Metric: latency,
			About: "the 20 newest events"},
		{ID: wUnique, Title: "Unique payload value, limit 1", Metric: latency,
			About: "payload {\"traceId\": T} for the unique traceId of an event just saved (the query that found it in the acknowledgement-to-visible " +
				"workload): a high-cardinality payload equality; a store without an index for it scans"},
		{ID: wVisibility, Title: "Acknowledgement to visible", Metric: latency,
			About: "save one event, then query its unique traceId until it is returned; time from the save's return to the start of the first query " +
				"that returned it (0 when the first query, started right after the save returned, found it; otherwise an upper bound, since a query that started just before the event became visible delays " +
				"the next one); how long that query took is the unique-payload-value workload"},
		{ID: wReopen, Title: "Reopen time", Metric: value, Unit: "ms",
			About: "a fresh process opens the populated store and gets one event by id (or, without reads, is ready)"},
		{ID: wDisk, Title: "Disk bytes per event", Metric: value, Unit: "bytes",
			About: "size of the data directory after close (the events and, for stores that keep them, the dataset's files: about 43 bytes per event), divided by the events in it; " +
				"for a store on a database server, its schema's tables with their indexes and TOAST (the server's WAL not included)"},
		{ID: wRSS, Title: "Peak RSS", Metric: value, Unit: "MiB",
			About: "peak resident memory of the contender's process after ingesting and querying the main store, before the single-save " +
				"workloads (whose events are generated up front); the harness itself included"},
	})
}

func findWorkload(id string) Workload {
	for _, w := range workloads() {
		if w.ID == id {
			return w
		}
	}
	return Workload{ID: id, Title: id}
}

// queryWorkload is a read workload: how to make its i-th query.
type queryWorkload struct {
	id    string
	next  func(r *rand.Rand) trove.EventQuery // the query, or nil for a get
	getID func(r *rand.Rand) string           // for a get by id: which id
}

func hourBounds(d *Dataset, r *rand.Rand) *trove.TimeRange {
	start := d.Start.Add(time.Duration(r.IntN(spanDays*24-1)) * time.Hour)
	return &trove.TimeRange{Start: trove.FormatTime(start), End: trove.FormatTime(start.Add(time.Hour - time.Millisecond))}
}

// queryWorkloads returns the read workloads over d.
func queryWorkloads(d *Dataset) []queryWorkload {
	pick := func(r *rand.Rand) int { return r.IntN(d.Size) }
	return []queryWorkload{
		{id: wGet, getID: func(r *rand.Rand) string { return d.ID(pick(r)) }},
		{id: wFilter, next: func(r *rand.Rand) trove.EventQuery {
			i := pick(r)
			return trove.EventQuery{Schema: []string{d.SchemaName(i)}, Producer: []string{d.Producer(i)}, Limit: trove.Limit(100)}
		}},
		{id: wTime, next: func(r *rand.Rand) trove.EventQuery {
			return trove.EventQuery{TimeRange: hourBounds(d, r), Limit: trove.Limit(100)}
		}},
		{id: wLink, next: func(r *rand.Rand) trove.EventQuery {
			i := pick(r)
			for k := 0; k < 100 && d.LinkTarget(i) < 0; k++ {
				i = pick(r)
			}
			t := max(d.LinkTarget(i), 0)
			return trove.EventQuery{Links: []trove.LinkCriterion{{TargetEvent: &trove.EventID{ID: d.ID(t)}}}, Limit: trove.Limit(100)}
		}},
		{id: wPay1, next: func(*rand.Rand) trove.EventQuery {
			return trove.EventQuery{Payload: map[string]any{"status": statusRare}, Limit: trove.Limit(100)}
		}},
		{id: wPay10, next: func(*rand.Rand) trove.EventQuery {
			return trove.EventQuery{Payload: map[string]any{"status": statusCommon}, Limit: trove.Limit(100)}
		}},
		{id: wSearch, next: func(r *rand.Rand) trove.EventQuery {
			return trove.EventQuery{Search: "message:" + searchWords[r.IntN(len(searchWords))], Limit: trove.Limit(100)}
		}},
		{id: wSort, next: func(*rand.Rand) trove.EventQuery {
			return trove.EventQuery{Sort: []trove.SortField{{Field: "createdAt", Direction: "desc"}}, Limit: trove.Limit(20)}
		}},
	}
}
