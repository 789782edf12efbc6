package engine

import (
	"fmt"
	"strings"
	"time"

	"github.com/trovedb/trove"
)

// The -benchwide data set mirrors the shape of the bench harness's
// (bench/dataset.go) without its generator: ~728 bytes of JSON an event, a
// ~296-byte payload, ~45 bytes of metadata, 30% of events linking to an
// earlier one, 10 schemas × 100 producers drawn independently. Files (2% in
// the harness) are left out: they need the blob store and weigh nothing in
// reads by id or by schema and producer.

var wideSchemaNames = [10]string{
	"order.created", "order.shipped", "payment.captured", "user.signed-up", "user.login",
	"document.uploaded", "sensor.reading", "audit.access", "job.finished", "alert.raised",
}

var (
	wideRegions = []string{"eu-west", "eu-north", "us-east", "us-west", "ap-south", "sa-east"}
	wideTiers   = []string{"free", "pro", "gold", "enterprise"}
	wideNames   = []string{"jane", "omar", "li", "ana", "kofi", "mira", "sven", "yuki", "raj", "eva", "tom", "ines"}
	wideLinks   = []string{"parent", "caused-by", "relates-to"}
	wideVocab   = strings.Fields(`the a of to and in is for on with request response user order payment disk
network timeout retry failed succeeded latency queue worker cache miss hit database connection refused
reset upstream downstream checkout invoice refund shipment warehouse carrier label customer account
session token expired renewed password login logout device mobile browser desktop region cluster node`)
	wideSchemas = func() (s [10]trove.Schema) {
		for k, n := range wideSchemaNames {
			s[k] = trove.MustSchema(`{"$id":"bench.` + n + `+v1.0.0","type":"object","required":["status","traceId"],` +
				`"properties":{"status":{"type":"string"},"traceId":{"type":"string"},"amount":{"type":"number"}}}`)
		}
		return s
	}()
)

// wideRand is a splitmix64 stream seeded by (i, salt): event i is a pure
// function of i.
type wideRand uint64

func newWideRand(i int, salt uint64) *wideRand {
	r := wideRand(uint64(i)*0x9e3779b97f4a7c15 ^ salt*0xbf58476d1ce4e5b9)
	return &r
}

func (r *wideRand) next() uint64 {
	*r += 0x9e3779b97f4a7c15
	z := uint64(*r)
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

func (r *wideRand) intn(n int) int { return int(r.next() % uint64(n)) }

func wideID(i int) string {
	r := newWideRand(i, 0x1d)
	ms := uint64(1_735_689_600_000 + int64(i)*2592)
	return fmt.Sprintf("%08x-%04x-7%03x-%04x-%012x", ms>>16, ms&0xffff, r.next()&0xfff, 0x8000|r.next()&0x3fff, r.next()&0xffffffffffff)
}

func wideSchemaIndex(i int) int { return newWideRand(i, 0x5c).intn(10) }
func wideProducer(i int) string { return fmt.Sprintf("producer-%d", newWideRand(i, 0x9d).intn(100)) }

// benchWideEvent returns event i of the -benchwide data set.
func benchWideEvent(i int) trove.Event {
	r := newWideRand(i, 0xe7)
	sch := wideSchemaIndex(i)
	var msg strings.Builder
	for w := range 7 + r.intn(9) {
		if w > 0 {
			msg.WriteByte(' ')
		}
		f := float64(r.next()>>11) / (1 << 53)
		msg.WriteString(wideVocab[int(f*f*float64(len(wideVocab)))])
	}
	status := "ok"
	switch n := newWideRand(i, 0x57).intn(100); {
	case n < 1:
		status = "failed"
	case n < 11:
		status = "pending"
	}
	payload := fmt.Sprintf(`{"amount":%d.%02d,"count":%d,"kind":%q,"message":%q,"ok":%v,"retries":%d,"seq":%d,"status":%q,"tags":[%q,%q],"traceId":"t-%016x","user":{"name":%q,"region":%q,"tier":%q}}`,
		r.intn(10000), r.intn(100), r.intn(50), wideSchemaNames[sch], msg.String(), r.intn(10) > 0, r.intn(4), i, status,
		wideVocab[r.intn(len(wideVocab))], wideVocab[r.intn(len(wideVocab))], newWideRand(i, 0x7a).next(),
		wideNames[r.intn(len(wideNames))], wideRegions[r.intn(len(wideRegions))], wideTiers[r.intn(len(wideTiers))])
	e := trove.Event{
		ID:        trove.EventID{ID: wideID(i), Version: 1},
		CreatedAt: time.UnixMilli(1_735_689_600_000 + int64(i)*2592).UTC(),
		Producer:  wideProducer(i),
		Schema:    wideSchemas[sch],
		Payload:   []byte(payload),
		Metadata:  []byte(fmt.Sprintf(`{"ip":"10.%d.%d.%d","agent":"bench/1"}`, r.intn(256), r.intn(256), r.intn(256))),
	}
	if i > 0 {
		lr := newWideRand(i, 0x11)
		if lr.intn(100) < 30 {
			t := lr.intn(i)
			if lr.intn(4) > 0 {
				t = i - 1 - lr.intn(min(i, 1000))
			}
			e.Links = []trove.EventLink{{Type: wideLinks[lr.intn(len(wideLinks))], TargetEvent: trove.EventID{ID: wideID(t)}}}
		}
	}
	return e
}

// benchSchemaProducerQuery is query i of the schema+producer benchmark.
// With -benchwide it is, like the harness's, the schema and producer of a
// pseudo-random event (one of 1,000 pairs, ~0.1% of the events each, so
// successive queries read different events); without, always the same pair
// (1% of the events).
func benchSchemaProducerQuery(i int) trove.EventQuery {
	if *benchWide {
		k := 1 // query 0 is checked for a full page: ~1,000 matches at 1M events
		if i > 0 {
			k = int(newWideRand(i, 0x51).next() % uint64(*benchEvents))
		}
		return trove.EventQuery{Schema: []string{wideSchemas[wideSchemaIndex(k)].Identity()}, Producer: []string{wideProducer(k)}, Limit: trove.Limit(100)}
	}
	return trove.EventQuery{Schema: []string{"bench.schema3+v1"}, Producer: []string{"service-4"}, Limit: trove.Limit(100)}
}
