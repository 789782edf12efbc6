package engine

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trovedb/trove"
	"github.com/trovedb/trove/engine/fulltext"
)

var searchBenchDocs = flag.Int("searchdocs", 100_000, "payloads BenchmarkSearchIndex indexes")

// searchBenchVocab is free text's vocabulary, drawn skewed so that a few
// words are everywhere and most are rare.
var searchBenchVocab = strings.Fields(`
the a of to and in is for on with request response user order payment disk
network timeout retry failed succeeded latency queue worker cache miss hit
database connection refused reset upstream downstream checkout invoice refund
shipment warehouse carrier label customer account session token expired
renewed password reset login logout device mobile browser desktop region
cluster node pod container restart crash memory pressure cpu throttled spike
backup snapshot restore replica lag primary failover election leader follower
certificate rotated key vault secret audit access denied granted role policy
upload document report annual quarterly summary draft final approved rejected
pending review signature contract vendor supplier price discount coupon cart
sensor temperature humidity pressure battery voltage firmware update rollout
canary deploy pipeline build test flaky green red alert page oncall incident
postmortem resolved acknowledged escalated ticket priority severity minor
major critical blocker feature flag experiment variant conversion funnel
search index query slow fast throughput bandwidth packet loss jitter dns tls
handshake proxy gateway router switch firewall rule blocked allowed quota limit
exceeded billing plan upgrade downgrade trial churn renewal subscription`)

// searchBenchPayload returns payload i: ~300 bytes of JSON shaped like the
// bench harness's (status, a unique trace id, numbers, a nested object, an
// array of tags, 6 to 14 words of free text, a boolean).
func searchBenchPayload(i int) []byte {
	r := rand.New(rand.NewPCG(uint64(i), 0xbe))
	var msg strings.Builder
	for w := range 6 + r.IntN(9) {
		if w > 0 {
			msg.WriteByte(' ')
		}
		f := r.Float64()
		msg.WriteString(searchBenchVocab[int(f*f*float64(len(searchBenchVocab)))])
	}
	status := "ok"
	switch n := r.IntN(100); {
	case n < 1:
		status = "failed"
	case n < 11:
		status = "pending"
	}
	p := map[string]any{
		"status":  status,
		"traceId": fmt.Sprintf("t-%016x", r.Uint64()),
		"seq":     i,
		"amount":  float64(r.IntN(1_000_000)) / 100,
		"count":   r.IntN(50),
		"user": map[string]any{
			"name":   []string{"jane", "omar", "li", "ana", "kofi", "mira", "sven", "yuki"}[r.IntN(8)],
			"region": []string{"eu-west", "eu-north", "us-east", "us-west", "ap-south", "sa-east"}[r.IntN(6)],
			"tier":   []string{"free", "pro", "gold", "enterprise"}[r.IntN(4)],
		},
		"tags":    []string{searchBenchVocab[r.IntN(len(searchBenchVocab))], searchBenchVocab[r.IntN(len(searchBenchVocab))]},
		"message": msg.String(),
		"kind":    []string{"order.created", "payment.captured", "user.login", "sensor.reading", "alert.raised"}[r.IntN(5)],
		"retries": r.IntN(4),
		"ok":      r.IntN(10) > 0,
	}
	b, err := json.Marshal(p)
	if err != nil {
		panic(err)
	}
	return b
}

// BenchmarkSearchIndex indexes -searchdocs harness-shaped payloads, already
// in the log, with the search indexer at full speed, and reports its
// throughput and the index's size per document once bleve's merges have
// settled:
//
//	go test ./engine -run XXX -bench SearchIndex -benchtime 1x
func BenchmarkSearchIndex(b *testing.B) {
	dir := b.TempDir()
	st, err := Open(dir, Options{SearchIndex: "off"})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	n := *searchBenchDocs
	for i := 0; i < n; i += 1000 {
		evs := make([]trove.Event, 0, 1000)
		for k := i; k < min(i+1000, n); k++ {
			e := testEvent(k)
			e.Payload = searchBenchPayload(k)
			evs = append(evs, e)
		}
		if _, err := st.SaveEvents(context.Background(), evs); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		path := filepath.Join(st.Dir(), "search.bleve")
		x, err := fulltext.Open(path, st.w.last, newSearchSource(st), st.logger)
		if err != nil {
			b.Fatal("no search index: ", err)
		}
		start, cpu0 := time.Now(), cpuTime()
		for {
			more, err := x.Step(true)
			if err != nil {
				b.Fatal(err)
			}
			if !more {
				break
			}
		}
		el := time.Since(start)
		b.StopTimer()
		if got := uint64(x.UpTo()); got != st.Last() {
			b.Fatalf("indexed %d of %d", got, st.Last())
		}
		// Settled: every segment persisted, and the index's files
		// unchanged for two seconds.
		prev, same, segs := int64(-1), 0, uint64(0)
		for same < 4 {
			time.Sleep(500 * time.Millisecond)
			st, _ := x.StatsMap()["index"].(map[string]any)
			mem, _ := st["TotMemorySegmentsAtRoot"].(uint64)
			segs, _ = st["TotFileSegmentsAtRoot"].(uint64)
			if sz := dirSize(path); sz == prev && mem == 0 {
				same++
			} else {
				prev, same = sz, 0
			}
		}
		b.ReportMetric(float64(segs), "segments")
		// Searches on the settled index: numeric ranges and words, whole
		// and in windows of positions.
		ctx := context.Background()
		var qs []*trove.SearchQuery
		for _, s := range []string{"amount:>5000", "count:<10", "seq:>=50000", "retries:2", "status:failed", "timeout", "+user.tier:gold +amount:<100"} {
			sq, err := trove.ParseSearch(s)
			if err != nil {
				b.Fatal(err)
			}
			qs = append(qs, sq)
		}
		qstart, nq := time.Now(), 0
		for range 20 {
			for _, sq := range qs {
				if _, _, ok := x.Search(ctx, sq); !ok {
					b.Fatal("search did not answer")
				}
				lo := uint64(1 + nq*997%n)
				if _, _, ok := x.SearchRange(ctx, sq, lo, lo+1000); !ok {
					b.Fatal("range search did not answer")
				}
				nq++
			}
		}
		b.ReportMetric(float64(time.Since(qstart).Microseconds())/float64(nq), "search-µs/query")
		b.ReportMetric(float64(n)/el.Seconds(), "docs/s")
		// CPU time of the process (the indexer, bleve's analysis, persister
		// and merger, nothing else runs) from the first batch until the
		// index settled.
		b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(n), "cpu-µs/doc")
		b.ReportMetric(float64(prev)/float64(n), "index-bytes/doc")
		x.Close()
		b.ReportMetric(float64(dirSize(path))/float64(n), "closed-bytes/doc")
		b.StartTimer()
	}
}

// cpuTime is the user and system CPU time the process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}
