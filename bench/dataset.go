package main

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/trovedb/trove"
)

// The dataset's shape. Every number here is part of what the report means,
// so the README repeats them.
const (
	numSchemas   = 10
	numProducers = 100
	linkPercent  = 30 // events linking to an earlier one
	filePermille = 20 // events carrying a small file
	spanDays     = 30 // createdAt spans this many days, whatever the size
)

// Status values and their shares: the payload-equality workloads query the
// 1% and 10% values.
const (
	statusRare   = "failed"  // 1%
	statusCommon = "pending" // 10%
	statusBulk   = "ok"      // 89%
)

var schemaNames = [numSchemas]string{
	"order.created", "order.shipped", "payment.captured", "user.signed-up", "user.login",
	"document.uploaded", "sensor.reading", "audit.access", "job.finished", "alert.raised",
}

var regions = []string{"eu-west", "eu-north", "us-east", "us-west", "ap-south", "sa-east"}
var tiers = []string{"free", "pro", "gold", "enterprise"}
var linkTypes = []string{"parent", "caused-by", "relates-to"}
var firstNames = []string{"jane", "omar", "li", "ana", "kofi", "mira", "sven", "yuki", "raj", "eva", "tom", "ines"}

// vocab is the free text's vocabulary. Words are drawn with a skewed
// distribution, so a few are everywhere and most are rare, as in real text.
var vocab = strings.Fields(`
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
exceeded billing plan upgrade downgrade trial churn renewal subscription
newsletter email bounce delivered opened clicked unsubscribed webhook callback
payload schema version migration rollback forward compatible deprecated legacy
zebra quartz nebula saffron obsidian marigold tundra velvet ember harbor`)

// searchWords are the words the search workload looks for: neither the most
// common nor the rarest.
var searchWords = []string{"timeout", "failover", "invoice", "firmware", "escalated", "snapshot", "quarterly", "handshake"}

// Dataset generates the benchmark's events deterministically: event i is a
// pure function of (seed, i, size), so every contender, in every process,
// sees the same bytes without the dataset ever being held in memory.
type Dataset struct {
	Seed  uint64
	Size  int       // events in the main store
	Start time.Time // createdAt of event 0
	step  time.Duration
}

// NewDataset returns the dataset of size events for seed.
func NewDataset(seed uint64, size int) *Dataset {
	if size < 1 {
		size = 1
	}
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	return &Dataset{Seed: seed, Size: size, Start: start, step: spanDays * 24 * time.Hour / time.Duration(size)}
}

// Item is one event as every contender receives it: the trove.Event for
// Trove backends, its JSON encoding for the peers, and the bytes of its
// file, if it has one.
type Item struct {
	Index int
	Event trove.Event
	File  []byte // nil when the event has no file
	enc   []byte
	body  []byte // the HTTP request body, when it differs from enc (httpBody)
}

// Encoded returns the event's JSON, the bytes the log-like peers append.
func (it *Item) Encoded() []byte {
	if it.enc == nil {
		b, err := json.Marshal(it.Event)
		if err != nil {
			panic(fmt.Sprintf("bench: encoding event %d: %v", it.Index, err))
		}
		it.enc = b
	}
	return it.enc
}

func (d *Dataset) rng(i int, salt uint64) *rand.Rand {
	return rand.New(rand.NewPCG(d.Seed^salt, uint64(i)*0x9e3779b97f4a7c15+1))
}

// ID returns the id of event i: a UUIDv7-shaped string whose time part is
// the event's createdAt, so ids are time-ordered like real ones.
func (d *Dataset) ID(i int) string {
	r := d.rng(i, 0x1d)
	var b [16]byte
	ms := uint64(d.CreatedAt(i).UnixMilli())
	binary.BigEndian.PutUint64(b[0:8], ms<<16)
	binary.BigEndian.PutUint64(b[8:16], r.Uint64())
	b[6] = 0x70 | byte(r.Uint32()&0x0f)
	b[7] = byte(r.Uint32())
	b[8] = 0x80 | b[8]&0x3f
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// CreatedAt returns event i's createdAt: evenly spread over spanDays with a
// little jitter, at millisecond precision.
func (d *Dataset) CreatedAt(i int) time.Time {
	r := d.rng(i, 0xca)
	jitter := time.Duration(r.Int64N(int64(d.step)/2 + 1))
	return d.Start.Add(time.Duration(i)*d.step + jitter).Truncate(time.Millisecond)
}

// SchemaName returns the schema identity of event i.
func (d *Dataset) SchemaName(i int) string {
	return "bench." + schemaNames[d.rng(i, 0x5c).IntN(numSchemas)] + "+v1.0.0"
}

// Producer returns the producer of event i.
func (d *Dataset) Producer(i int) string {
	return "producer-" + strconv.Itoa(d.rng(i, 0x9d).IntN(numProducers))
}

// Status returns event i's status: 1% failed, 10% pending, 89% ok.
func (d *Dataset) Status(i int) string {
	switch n := d.rng(i, 0x57).IntN(100); {
	case n < 1:
		return statusRare
	case n < 11:
		return statusCommon
	default:
		return statusBulk
	}
}

// TraceID returns event i's payload traceId, unique per event.
func (d *Dataset) TraceID(i int) string {
	return fmt.Sprintf("t-%016x", d.rng(i, 0x7a).Uint64())
}

// LinkTarget returns the index of the earlier event that event i links to,
// or -1 when it has no link.
func (d *Dataset) LinkTarget(i int) int {
	if i == 0 {
		return -1
	}
	r := d.rng(i, 0x11)
	if r.IntN(100) >= linkPercent {
		return -1
	}
	// Mostly recent events (a parent a few steps back), sometimes any.
	if r.IntN(4) > 0 {
		back := 1 + r.IntN(min(i, 1000))
		return i - back
	}
	return r.IntN(i)
}

var schemaDocs = func() map[string]trove.Schema {
	m := map[string]trove.Schema{}
	for _, n := range schemaNames {
		id := "bench." + n + "+v1.0.0"
		m[id] = trove.MustSchema(`{"$id":"` + id + `","type":"object","required":["status","traceId"],` +
			`"properties":{"status":{"type":"string"},"traceId":{"type":"string"},"amount":{"type":"number"}}}`)
	}
	return m
}()

// Item returns event i.
func (d *Dataset) Item(i int) Item {
	r := d.rng(i, 0xe7)
	schema := d.SchemaName(i)
	words := 6 + r.IntN(9)
	var msg strings.Builder
	for w := 0; w < words; w++ {
		if w > 0 {
			msg.WriteByte(' ')
		}
		// Skewed: the square of a uniform favours the start of the list.
		f := r.Float64()
		msg.WriteString(vocab[int(f*f*float64(len(vocab)))])
	}
	payload := map[string]any{
		"status":  d.Status(i),
		"traceId": d.TraceID(i),
		"seq":     i,
		"amount":  float64(r.IntN(1_000_000)) / 100,
		"count":   r.IntN(50),
		"user": map[string]any{
			"name":   firstNames[r.IntN(len(firstNames))],
			"region": regions[r.IntN(len(regions))],
			"tier":   tiers[r.IntN(len(tiers))],
		},
		"tags":    []string{vocab[r.IntN(len(vocab))], vocab[r.IntN(len(vocab))]},
		"message": msg.String(),
		"kind":    strings.SplitN(schema, "+", 2)[0][len("bench."):],
		"retries": r.IntN(4),
		"ok":      r.IntN(10) > 0,
	}
	pb, err := json.Marshal(payload)
	if err != nil {
		panic(err)
	}
	e := trove.Event{
		ID:        trove.EventID{ID: d.ID(i), Version: 1},
		CreatedAt: d.CreatedAt(i),
		Producer:  d.Producer(i),
		Schema:    schemaDocs[schema],
		Payload:   pb,
		Metadata:  json.RawMessage(fmt.Sprintf(`{"ip":"10.%d.%d.%d","agent":"bench/1"}`, r.IntN(256), r.IntN(256), r.IntN(256))),
	}
	if t := d.LinkTarget(i); t >= 0 {
		e.Links = []trove.EventLink{{Type: linkTypes[r.IntN(len(linkTypes))], TargetEvent: trove.EventID{ID: d.ID(t)}}}
	}
	it := Item{Index: i, Event: e}
	if r.IntN(1000) < filePermille {
		data := make([]byte, 256+r.IntN(3840))
		for k := range data {
			data[k] = byte('a' + (k*7+i)%26)
		}
		sum := sha256.Sum256(data)
		it.File = data
		it.Event.Files = []trove.EventFile{{
			ID: fmt.Sprintf("f-%d", i), ContentType: "text/plain", Filename: fmt.Sprintf("note-%d.txt", i),
			Size: int64(len(data)), Hash: "sha256:" + hex.EncodeToString(sum[:]),
		}}
	}
	return it
}
