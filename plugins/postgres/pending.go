package postgres

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// GIN pending lists.
//
// The two GIN indexes (events_payload_bucket, events_search) keep PostgreSQL's
// fastupdate: a new row's keys are appended to the index's pending list,
// and moved into the index proper in bulk, far cheaper a row than one by
// one (with fastupdate off, a batch of 1,000 events took three to five
// times as long). But every query through the index reads the whole
// pending list (a payload equality on 35,000 pending rows took 5.9 ms,
// 0.03 ms once they were moved), and the move happens inside the insert
// that finds the list over gin_pending_list_limit: an append pays for the
// rows of several appends before it.
//
// The cleaner moves them itself once appends pause: cleanIdle after the
// last append of this Store that wrote rows, it calls
// gin_clean_pending_list on both indexes from a pooled connection (not an
// append's), so a burst of appends leaves nothing pending for the queries
// after it. While appends go on, the server moves the lists inside
// inserts, as it always does: moving them more often, alongside the
// appends, cost more in all (on 1M events, moves every 4,096 rows slowed
// batched ingest from 6,980 to 5,310 events/s). An insert that finds the
// list being moved leaves it to the mover, so appends do not wait for it.
// The call needs the indexes' owner (the role that applied the
// migrations); where it is refused or missing (another role, an engine
// without pending lists), the cleaner stops for good.
//
// Once the lists are moved, the cleaner also analyzes the events and
// links tables when this Store wrote a tenth of their rows (and at least
// analyzeMin) since it last did: the planner's choices for a time range or
// a link target rest on the tables' statistics, and after a bulk load
// autovacuum refreshes them up to a minute later or more (its workers
// vacuum the new rows first). Unanalyzed, a one-hour window on 1M events
// walked the primary key (27-112 ms) instead of reading its 1,400 rows
// through events_created (under 2 ms once analyzed).
const cleanIdle = 100 * time.Millisecond

// analyzeMin is the fewest rows written since the last ANALYZE that
// call for another.
const analyzeMin = 10000

// cleaner is the state of the pending-list cleaner.
type cleaner struct {
	rows     atomic.Int64  // rows written since the last move began
	unstats  atomic.Int64  // rows written since the last ANALYZE began
	kick     chan struct{} // a commit happened (buffered, never blocks)
	stopped  atomic.Bool   // refused by the server: no more moves
	moves    atomic.Int64  // moves made (for tests)
	analyzes atomic.Int64  // ANALYZEs made (for tests)
	noStats  atomic.Bool   // refused by the server: no more ANALYZE
}

func newCleaner() *cleaner { return &cleaner{kick: make(chan struct{}, 1)} }

// added records n rows written and wakes the cleaner.
func (c *cleaner) added(n int) {
	c.unstats.Add(int64(n))
	if c.stopped.Load() && c.noStats.Load() {
		return
	}
	c.rows.Add(int64(n))
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// run moves the pending lists until bg is done, once appends paused for
// cleanIdle.
func (c *cleaner) run(bg context.Context, pool *pgxpool.Pool) {
	idle := time.NewTimer(time.Hour)
	idle.Stop()
	for {
		select {
		case <-bg.Done():
			return
		case <-c.kick:
			idle.Reset(cleanIdle)
			continue
		case <-idle.C:
		}
		if c.rows.Swap(0) == 0 {
			continue
		}
		if !c.stopped.Load() {
			_, err := pool.Exec(bg, `SELECT gin_clean_pending_list('events_payload_bucket'::regclass), gin_clean_pending_list('events_search'::regclass)`)
			switch {
			case err == nil:
				c.moves.Add(1)
			case refused(err):
				c.stopped.Store(true)
			}
			// Other errors (the server restarting, Shutdown) leave the
			// rows to the next move or to the server.
		}
		c.analyze(bg, pool)
	}
}

// analyze runs ANALYZE on the events and links tables when this Store
// wrote analyzeMin rows since it last did and a tenth of the rows the
// server's statistics count (every time while it counts none). A role
// that does not own the tables gets a warning and nothing analyzed:
// autovacuum then does it.
func (c *cleaner) analyze(bg context.Context, pool *pgxpool.Pool) {
	n := c.unstats.Load()
	if n < analyzeMin || c.noStats.Load() {
		return
	}
	var tuples float64
	if err := pool.QueryRow(bg, `SELECT reltuples FROM pg_class WHERE oid = 'events'::regclass`).Scan(&tuples); err != nil {
		return
	}
	if tuples >= 0 && float64(n) < tuples/10 {
		return
	}
	c.unstats.Add(-n)
	_, err := pool.Exec(bg, `ANALYZE events, links`)
	switch {
	case err == nil:
		c.analyzes.Add(1)
	case refused(err) || isSyntax(err):
		c.noStats.Store(true)
	default:
		c.unstats.Add(n) // again at the next pause
	}
}

// isSyntax reports whether err is a syntax error: a server that speaks the
// protocol without the statement.
func isSyntax(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "42601"
}

// refused reports whether err says the server will never move pending
// lists for this role: not the owner, no such function, not a GIN index.
func refused(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.Code {
	case "42501", // insufficient_privilege
		"42883", // undefined_function
		"42809", // wrong_object_type
		"0A000": // feature_not_supported
		return true
	}
	return false
}
