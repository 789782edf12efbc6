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
	wVisibility = "ack_to_query"
	wReopen     = "reopen"
	wDisk       = "disk_bytes"
	wRSS        = "peak_rss"
)

// saveWorkload returns the id of the single-save workload with w writers.
func saveWorkload(w int) string { return "save_w" + strconv.Itoa(w) }

// workloads lists every workload in report order.
func workloads() []Workload {
	return []Workload{
		{ID: wIngest, Title: "Batched durable ingest (1,000 a batch)", Metric: throughput,
			About: "all events in batches of 1,000; each batch durable (fsynced) before the next; events/s of save time"},
		{ID: wSave1, Title: "Single-event durable saves, 1 writer", Metric: throughput,
			About: "one goroutine saving one event at a time, each durable when acknowledged, into a fresh store"},
		{ID: wSave8, Title: "Single-event durable saves, 8 writers", Metric: throughput,
			About: "8 goroutines saving concurrently, one event per call; group commit pays off here"},
		{ID: wSave64, Title: "Single-event durable saves, 64 writers", Metric: throughput,
			About: "64 goroutines saving concurrently, one event per call"},
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
		{ID: wVisibility, Title: "Acknowledgement to visible in a payload query", Metric: latency,
			About: "save one event, then query its unique payload traceId until it is returned; time from the save's return to the answer, " +
				"so a store that answers a unique value by scanning shows its scan time here"},
		{ID: wReopen, Title: "Reopen time", Metric: value, Unit: "ms",
			About: "a fresh process opens the populated store and gets one event by id (or, without reads, is ready)"},
		{ID: wDisk, Title: "Disk bytes per event", Metric: value, Unit: "bytes",
			About: "size of the data directory after close, divided by the events in it"},
		{ID: wRSS, Title: "Peak RSS", Metric: value, Unit: "MiB",
			About: "peak resident memory of the process that ran the contender (the harness itself included)"},
	}
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
