package postgres

import (
	"context"
	"math"
	"strconv"

	"github.com/trovedb/trove"
)

// Position windows.
//
// A limited query in position order whose filter is a payload or search
// term can be read two ways. Through the term's GIN index: every candidate
// in the table is fetched and sorted — cheap for a rare value, costly for
// a common one, since all its rows are read however small the limit. Or
// along the log in position order, testing each row: the limit of a
// common value is reached after a few hundred rows, but a rare one makes
// it a scan of the table. PostgreSQL cannot choose between them: it keeps
// no statistics for jsonb containment, and a tsquery's estimate does not
// tell how far along the log its matches are.
//
// walk therefore reads the log first, in windows of positions (positions
// are dense: a window of n positions holds n rows at most), and estimates
// from what it found how common the filter is. It goes on while walking
// to the limit promises to read fewer rows than the index would fetch for
// the rest of the log (ginRowCost weighs the index's random reads and
// sort), and otherwise hands the rest of the log over to the index. A
// payload term has a third way, between the two: events_payload_bucket
// also indexes each row's position bucket (8,192 positions), so the
// term's rows of the next few buckets alone can be read, in one statement
// — what a term matching 1% of 1M events needs to fill a limit of 100
// without the 10,000 rows of either other way. The filter itself is the
// same every way, so results do not depend on the choice.
const (
	minWalkWindow = 256
	maxWalkWindow = 65536
	// firstWalkFactor sizes the first window: the rows wanted times this
	// (a filter matching one row in ten fills it).
	firstWalkFactor = 10
	// ginRowCost is what a candidate fetched through a GIN index costs,
	// in rows walked in position order: a heap page read at random and a
	// sort entry against a row of a page read in order (on 1M events,
	// 10,000 candidates took 11 times as long as walking 10,000 rows).
	ginRowCost = 8
	// bucketCost is what reading one position bucket of a payload term
	// through events_payload_bucket costs beyond its candidates, in rows
	// walked: intersecting the term's and the bucket's posting lists
	// (0.9 ms a bucket on 1M events, against about 1 µs a row walked);
	// bucketRowCost is a candidate found so (a heap fetch and the
	// recheck of the index expression, about 4 µs).
	bucketCost    = 900
	bucketRowCost = 4
	// maxBuckets bounds the buckets one statement reads.
	maxBuckets = 8
)

// walk reads q's candidates along the log in position windows (desc: from
// head down; head is the snapshot's), handing each window's rows to keep, until have() reaches
// want, the log ends, or the index promises to be cheaper. done reports
// that the query is answered; else the rest of the log is the positions
// after last (desc: before last), for the keyset pages of the index.
//
// The first window tests every row. From what it found, each next one is
// the cheapest of three ways: walk on; with a payload term, read the next
// position buckets through events_payload_bucket (the term's rows of
// those buckets alone, however common the term is elsewhere); or hand
// the rest over to the GIN index.
//
// The first window is sized, or read by buckets, from the share of
// positions the filter's last walk matched when the Store remembers one
// (rates.go), and the share this walk finds is remembered for the next.
//
// first, when not nil, holds the rows of the first window, read in
// ascending order with the snapshot's head (firstWalkRead).
func (s *Store) walk(ctx context.Context, tx querier, c *trove.CompiledQuery, cols string, desc bool, head int64, want int,
	first *firstRead, have func() int, keep func([]scanned, [][]trove.EventLink) error) (last int64, done bool, err error) {
	var w where
	var key uint64
	if first != nil {
		w, key = first.w, first.key
	} else {
		w = whereClause(c, true)
		key = rateKey(w)
	}
	n := len(w.args)
	stmt := walkStatement(cols, w, desc)
	bstmt := ""
	if w.bucketDoc != "" {
		bstmt = bucketStatement(cols, w, desc)
	}
	// The walked positions are (0, b], or (b, head] with desc.
	b := int64(0)
	if desc {
		b = head
	}
	remaining := func() int64 {
		if desc {
			return b
		}
		return head - b
	}
	var seen, found int64
	defer func() {
		if err == nil && seen >= minRateSpan {
			s.rates.put(key, rate{rate: float64(found) / float64(seen), head: head})
		}
	}()
	// window: the positions the next window walks; buckets: the buckets
	// it reads instead when not 0.
	start := s.startPlan(key, w, want, b, desc)
	window, buckets := start.window, start.buckets
	if start.handOver && first == nil {
		if s.walked != nil {
			s.walked(0, 0, false, true)
		}
		if desc {
			return b + 1, false, nil
		}
		return b, false, nil
	}
	for {
		if remaining() <= 0 {
			return 0, true, nil
		}
		var lo, hi int64
		var page []scanned
		bucketed := buckets > 0
		switch {
		case first != nil:
			// Read with the head, from position 0: (lo, hi] here.
			page, lo, hi, bucketed = first.rows, first.lo, min(first.hi, head), first.buckets
			first = nil
		case bucketed:
			lo, hi = bucketWindow(b, buckets, desc, head)
			page, _, err = s.readRows(ctx, tx, bstmt, append(w.args[:n:n], lo, hi, bucketDocs(w, lo, hi)), false)
		default:
			window = min(window, remaining())
			lo, hi = b, b+window
			if desc {
				lo, hi = b-window, b
			}
			page, _, err = s.readRows(ctx, tx, stmt, append(w.args[:n:n], lo, hi), false)
		}
		if err != nil {
			return 0, false, err
		}
		if err := keep(page, nil); err != nil {
			return 0, false, err
		}
		seen, found = seen+hi-lo, found+int64(len(page))
		if desc {
			b = lo
		} else {
			b = hi
		}
		need := want - have()
		finished := need <= 0 || remaining() == 0
		handOver := !finished && found == 0
		buckets = 0
		if !finished && !handOver {
			next := nextStep(float64(found)/float64(seen), need, remaining(), b, desc, bstmt != "")
			window, buckets, handOver = next.window, next.buckets, next.handOver
		}
		if s.walked != nil {
			s.walked(hi-lo, len(page), bucketed, handOver)
		}
		switch {
		case finished:
			return 0, true, nil
		case handOver:
			if desc {
				return b + 1, false, nil
			}
			return b, false, nil
		}
	}
}

// step is what a walk reads next: a window of window positions, or
// (buckets > 0) that many position buckets; or nothing (handOver), the
// rest of the log being cheaper through the GIN index.
type step struct {
	window, buckets int64
	handOver        bool
}

// nextStep chooses the cheapest way for a walk at b (remaining positions
// left) to find need more matches of a filter matching rate of the
// positions (> 0): walk on, read position buckets (withBuckets: a payload
// term), or hand over to the GIN index.
func nextStep(rate float64, need int, remaining, b int64, desc, withBuckets bool) step {
	walkRows := float64(need) / rate
	ginRows := rate * float64(remaining) * ginRowCost
	bucketRows, nb := math.Inf(1), int64(0)
	if withBuckets {
		// The buckets the rest of the limit takes at this rate (with
		// bucketMargin to spare), at most every one left. Every
		// candidate of a bucket read is fetched.
		perBucket := rate * (1 << bucketShift)
		nb = min(bucketsFor(b, desc, float64(need)*bucketMargin/rate), remaining>>bucketShift+1)
		bucketRows = float64(nb) * (bucketCost + perBucket*bucketRowCost)
	}
	switch {
	case ginRows < walkRows && ginRows < bucketRows:
		return step{handOver: true}
	case bucketRows < walkRows:
		return step{buckets: min(nb, maxBuckets)}
	}
	return step{window: min(max(int64(walkRows*1.25)+minWalkWindow/4, minWalkWindow), maxWalkWindow)}
}

// firstWalkWindow is the size of a walk's first window for want
// matches, knowing nothing of the filter.
func firstWalkWindow(want int) int64 {
	return min(max(int64(want)*firstWalkFactor, minWalkWindow), maxWalkWindow)
}

// startPlan is how a walk of w for want matches from b (b = head with
// desc; 0 without, the head not yet read) starts. Without a remembered
// share of the filter (rates.go) it is the first window; with one, what
// the walk would choose after a window that found that share, the log as
// long as the remembered walk's when the head is not known yet.
func (s *Store) startPlan(key uint64, w where, want int, b int64, desc bool) step {
	r, ok := s.rates.get(key)
	if !ok || r.rate <= 0 {
		return step{window: firstWalkWindow(want)}
	}
	remaining := b
	if !desc {
		remaining = r.head
	}
	return nextStep(r.rate, want, max(remaining, 1), b, desc, w.bucketDoc != "")
}

// firstWalkRead is the first window of an ascending walk of c for want
// matches, to be read with the head: its statement and arguments, and its
// bounds (0, hi], not yet cut at the head (positions past it are not in
// the snapshot), with the filter and its rate key for the walk that goes
// on from it. It is nil when the walk is to hand the log over to the GIN
// index at once.
func (s *Store) firstWalkRead(c *trove.CompiledQuery, cols string, want int) *firstRead {
	w := whereClause(c, true)
	key := rateKey(w)
	start := s.startPlan(key, w, want, 0, false)
	n := len(w.args)
	switch {
	case start.handOver:
		return nil
	case start.buckets > 0:
		lo, hi := bucketWindow(0, start.buckets, false, math.MaxInt64)
		return &firstRead{stmt: bucketStatement(cols, w, false), args: append(w.args[:n:n], lo, hi, bucketDocs(w, lo, hi)),
			w: w, key: key, lo: lo, hi: hi, buckets: true}
	}
	return &firstRead{stmt: walkStatement(cols, w, false), args: append(w.args[:n:n], int64(0), start.window),
		w: w, key: key, hi: start.window}
}

// bucketDocs are the containment documents of the buckets of (lo, hi]
// for w's first payload term: {"b": bucket, "p": the term}.
func bucketDocs(w where, lo, hi int64) []string {
	docs := make([]string, 0, hi>>bucketShift-(lo+1)>>bucketShift+1)
	for k := (lo + 1) >> bucketShift; k <= hi>>bucketShift; k++ {
		docs = append(docs, `{"b":`+strconv.FormatInt(k, 10)+`,"p":`+w.bucketDoc+`}`)
	}
	return docs
}

// bucketMargin is how many more matches than the limit still needs the
// buckets of a window are sized for: an estimate a little low then still
// fills the limit in one statement (each costs a round trip and a scan of
// the index entries of the term and of each bucket).
const bucketMargin = 1.25

// bucketsFor returns how many buckets the next window takes (see
// bucketWindow) to hold positions positions past b, the first of them
// only in part when b lies inside it.
func bucketsFor(b int64, desc bool, positions float64) int64 {
	const size = 1 << bucketShift
	// The positions of the first bucket that the walk has not read yet.
	first := float64(size - (b+1)%size)
	if desc {
		first = float64(b%size + 1)
	}
	if positions <= first {
		return 1
	}
	return 1 + int64(math.Ceil((positions-first)/size))
}

// bucketWindow is the position window (lo, hi] of the next n buckets
// after b (desc: of the n buckets ending with b's), within (0, head].
func bucketWindow(b, n int64, desc bool, head int64) (lo, hi int64) {
	if desc {
		first := max(b>>bucketShift-n+1, 0)
		return max(first<<bucketShift-1, 0), b
	}
	last := (b+1)>>bucketShift + n - 1
	return b, min((last+1)<<bucketShift-1, head)
}

// bucketStatement reads the candidates of w in whole position buckets
// through events_payload_bucket: its parameters after w's are the
// window's bounds lo and hi and the containment documents of its buckets
// ({"b": k, "p": the first payload term}). The bounds are tested on the
// rows read (position + 0: no index serves them, so the planner reads
// the buckets rather than walk the window). The window's rows the index
// does not hold are read by a second arm of a UNION ALL, not an OR: under
// an OR the planner tests the index expression again on every row the
// index found, after its recheck (on 1M events, two buckets took
// 3.5–4.3 ms that way, 2.1–2.8 ms this way).
func bucketStatement(cols string, w where, desc bool) string {
	n := len(w.args)
	lo, hi, docs := `$`+strconv.Itoa(n+1), `$`+strconv.Itoa(n+2), `$`+strconv.Itoa(n+3)
	stmt := `SELECT * FROM (SELECT ` + cols + ` FROM events e WHERE (e.position + 0) > ` + lo + ` AND (e.position + 0) <= ` + hi +
		` AND ` + payloadDoc + ` @> ANY(` + docs + `::jsonb[])` + w.sql +
		` UNION ALL SELECT ` + cols + ` FROM events e WHERE e.payload_jsonb IS NULL AND e.position > ` + lo + ` AND e.position <= ` + hi + w.sql +
		`) e ORDER BY e.position`
	if desc {
		stmt += ` DESC`
	}
	return stmt
}

// walkStatement reads the candidates of w in one position window, its
// bounds the two parameters after w's: e.position > lo AND <= hi.
func walkStatement(cols string, w where, desc bool) string {
	n := len(w.args)
	stmt := `SELECT ` + cols + ` FROM events e WHERE e.position > $` + strconv.Itoa(n+1) + ` AND e.position <= $` + strconv.Itoa(n+2) +
		w.sql + ` ORDER BY e.position`
	if desc {
		stmt += ` DESC`
	}
	return stmt
}
