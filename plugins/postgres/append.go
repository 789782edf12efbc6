package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/trovedb/trove"
	"github.com/trovedb/trove/plugins/internal/saveplan"
)

// The append path.
//
// Positions come from the one row of the head table. An append transaction
// locks that row first (SELECT … FOR UPDATE), checks its events against
// what is committed (no other append can commit meanwhile: they wait on the
// lock), inserts them at head+1, head+2, …, moves the head and commits.
// The lock is held to the commit, so appends commit one at a time in
// position order: a reader whose snapshot holds position N holds every
// position below N, and a failed transaction gives its positions back (no
// holes). This holds across processes sharing the database.
//
// One commit at a time would make every save pay a full round trip and WAL
// flush alone, so saves of one Store are merged (group commit): a single
// committer goroutine takes every request queued while the previous
// transaction ran and commits them together, planning each request on its
// own (a conflict fails that request alone) against the database plus the
// requests before it in the group. Rows are written with COPY when a group
// holds copyThreshold events or more, else with one INSERT from arrays (a
// column each) in the same round trip as the commit. Nobody is answered
// before the commit returned. While one group writes and commits, the
// next one's transaction begins and waits on the head lock in the server
// (see committer). A small group is planned before it takes the lock, and
// holds it for the server's work alone (ahead.go).

const (
	// maxGroupEvents bounds the events merged into one transaction.
	maxGroupEvents = 10000
	// copyThreshold is the group size from which rows go in by COPY, a
	// round trip of its own but written a page at a time (COPY batches
	// its heap inserts and their WAL records); smaller groups are one
	// INSERT from arrays in the group's batch.
	copyThreshold = 256
)

// commitReq is one save waiting for the committer.
type commitReq struct {
	ctx    context.Context // the caller's: a request whose caller gave up before its transaction began is dropped
	staged []saveplan.Staged
	out    []trove.Event
	err    error
	done   chan struct{}
}

// commit queues staged for the committer and waits for its result.
func (s *Store) commit(ctx context.Context, staged []saveplan.Staged) ([]trove.Event, error) {
	if len(staged) == 0 {
		if _, err := s.pool("save"); err != nil {
			return nil, err
		}
		return []trove.Event{}, nil
	}
	r := &commitReq{ctx: ctx, staged: staged, done: make(chan struct{})}
	s.mu.RLock()
	if err := s.mu.state.Check("save"); err != nil {
		s.mu.RUnlock()
		return nil, err
	}
	select {
	case s.commits <- r:
	case <-ctx.Done():
		s.mu.RUnlock()
		return nil, ctx.Err()
	}
	s.mu.RUnlock()
	select {
	case <-r.done:
		return r.out, r.err
	case <-ctx.Done():
		// Given up while queued or committing: the events may or may not be
		// saved (a retry with the same ids tells which).
		return nil, ctx.Err()
	}
}

// committer runs the append transactions until bg is done, then commits
// what is still queued and returns.
//
// Two appends overlap: once a group's plan is made, its writes and commit
// go on in a goroutine of their own (finish) while the committer gathers
// the next group and sends its first round trip, which waits on the head
// lock in the server and so goes on the moment the commit before it ends.
// The next group's versions are read under the lock, after that commit:
// every check is made against what is committed, as with one append at a
// time. A group of fewer than copyThreshold events whose schema documents
// are known is instead planned ahead of the lock and sent as one batch
// (ahead.go); it first waits for the groups in flight that share one of
// its ids. At most maxFlights groups are in flight: one writing, the
// next waiting for the lock.
func (s *Store) committer(bg context.Context, pool *pgxpool.Pool) {
	ctx := context.WithoutCancel(bg)
	var writing sync.WaitGroup
	defer writing.Wait()
	var inFlight flights
	for {
		var first *commitReq
		select {
		case first = <-s.commits:
		case <-bg.Done():
			for {
				select {
				case r := <-s.commits:
					s.commitGroup(ctx, pool, []*commitReq{r})
				default:
					return
				}
			}
		}
		group := []*commitReq{first}
		n := len(first.staged)
	more:
		for n < maxGroupEvents {
			select {
			case r := <-s.commits:
				group = append(group, r)
				n += len(r.staged)
			default:
				break more
			}
		}
		reset(group)
		ids := groupIDs(group)
		inFlight.wait(ids)
		f := &flight{ids: ids, done: make(chan struct{})}
		if !s.lockedOnly && s.aheadOK(group) {
			a, ok, err := s.beginAhead(ctx, pool, group)
			if ok {
				if err != nil || a == nil {
					s.settle(ctx, pool, group, err)
					continue
				}
				if s.aheadPlanned != nil {
					s.aheadPlanned()
				}
				inFlight = append(inFlight, f)
				writing.Add(1)
				go func() {
					defer writing.Done()
					defer close(f.done)
					err := a.finish(ctx, group)
					if errors.Is(err, errStalePlan) {
						// Planned on a stale read: again, under the lock.
						reset(group)
						err = s.appendTx(ctx, pool, group)
					}
					s.settle(ctx, pool, group, err)
				}()
				continue
			}
			reset(group)
		}
		a, err := s.beginAppend(ctx, pool, group)
		if err != nil || a == nil {
			s.settle(ctx, pool, group, err)
			continue
		}
		inFlight = append(inFlight, f)
		writing.Add(1)
		go func() {
			defer writing.Done()
			defer close(f.done)
			s.settle(ctx, pool, group, a.finish(ctx))
		}()
	}
}

// commitGroup commits group in one transaction and answers every request
// (see settle).
func (s *Store) commitGroup(ctx context.Context, pool *pgxpool.Pool, group []*commitReq) {
	reset(group)
	s.settle(ctx, pool, group, s.appendTx(ctx, pool, group))
}

// settle answers every request of group once its append transaction
// ended with err. A serialization failure or a deadlock is tried again
// (Options.Retries times at most). When the transaction itself failed
// (not one request's plan), each request is tried again alone, so one
// request's database error does not fail the others; a request whose
// first attempt did commit is then an idempotent retry.
func (s *Store) settle(ctx context.Context, pool *pgxpool.Pool, group []*commitReq, err error) {
	err = s.retryAfter(ctx, pool, group, err)
	if err != nil && len(group) > 1 {
		for _, r := range group {
			reset([]*commitReq{r})
			if err := s.retryAfter(ctx, pool, []*commitReq{r}, s.appendTx(ctx, pool, []*commitReq{r})); err != nil {
				r.out, r.err = nil, err
			}
		}
	} else if err != nil {
		group[0].out, group[0].err = nil, err
	}
	for _, r := range group {
		close(r.done)
	}
}

// retryAfter runs appendTx for group again while the attempt before
// ended in a serialization failure or a deadlock, Options.Retries times
// at most, and returns the last attempt's error.
func (s *Store) retryAfter(ctx context.Context, pool *pgxpool.Pool, group []*commitReq, err error) error {
	pause := 5 * time.Millisecond
	for attempt := 0; err != nil && attempt < s.opts.Retries && retryable(err); attempt++ {
		time.Sleep(pause)
		pause *= 2
		reset(group)
		err = s.appendTx(ctx, pool, group)
	}
	return err
}

// reset clears the outcome of each request before an attempt.
func reset(group []*commitReq) {
	for _, r := range group {
		r.out, r.err = nil, nil
	}
}

// retryable reports whether err is a serialization failure or a deadlock:
// the transaction was rolled back and may succeed when run again.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// groupLog is the database as the requests of one append transaction see
// it: committed rows plus the new versions of the requests before.
type groupLog struct {
	s        *Store
	tx       *pgxpool.Conn            // inside the append transaction
	dbLatest map[string]int           // committed latest version per id
	pending  map[string][]trove.Event // new versions of earlier requests, in version order
	next     uint64                   // the next free position
	rows     []trove.Event            // every new version, in position order
	dbErr    error                    // a database error: the transaction is lost
}

// plan plans each request of group in turn, its new versions taking the
// positions from g.next: a request's answer or refusal goes to the
// request; the error returned (a database error) loses the whole group.
func (g *groupLog) plan(ctx context.Context, group []*commitReq) error {
	for _, r := range group {
		if err := r.ctx.Err(); err != nil {
			r.err = err // its caller has gone: not saved
			continue
		}
		rl := &reqLog{g: g}
		out, _, err := saveplan.Plan(ctx, "postgres", r.staged, rl)
		if g.dbErr != nil {
			return fmt.Errorf("postgres: save: %w", g.dbErr)
		}
		if err != nil {
			r.err = err
			continue
		}
		r.out = out
		for _, e := range rl.added {
			g.pending[e.ID.ID] = append(g.pending[e.ID.ID], e)
		}
		g.rows = append(g.rows, rl.added...)
		g.next += uint64(len(rl.added))
	}
	return nil
}

// reqLog is a groupLog as one request's plan sees it.
type reqLog struct {
	g     *groupLog
	added []trove.Event
}

func (l *reqLog) Latest(ctx context.Context, id string) (int, error) {
	v, ok := l.g.dbLatest[id]
	if !ok {
		if err := l.g.tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM events WHERE id = $1`, id).Scan(&v); err != nil {
			l.g.dbErr = err
			return 0, fmt.Errorf("postgres: save %s: %w", id, err)
		}
		l.g.dbLatest[id] = v
	}
	return v + len(l.g.pending[id]), nil
}

func (l *reqLog) Stored(ctx context.Context, id trove.EventID) (trove.Event, error) {
	db := l.g.dbLatest[id.ID]
	if id.Version > db {
		return l.g.pending[id.ID][id.Version-db-1], nil
	}
	e, err := l.g.s.loadEvent(ctx, l.g.tx, id)
	if err != nil {
		l.g.dbErr = err
	}
	return e, err
}

func (l *reqLog) Append(_ context.Context, e trove.Event) (uint64, error) {
	e.Position = l.g.next + uint64(len(l.added))
	l.added = append(l.added, e)
	return e.Position, nil
}

// appendTx runs one append transaction for group. It sets each request's
// out or err (a plan error fails that request alone) and returns an error
// when the transaction failed as a whole.
func (s *Store) appendTx(ctx context.Context, pool *pgxpool.Pool, group []*commitReq) error {
	a, err := s.beginAppend(ctx, pool, group)
	if err != nil || a == nil {
		return err
	}
	return a.finish(ctx)
}

// appendTxn is an append transaction between its plan and its commit: the
// head row locked, its new versions planned.
type appendTxn struct {
	s    *Store
	pool *pgxpool.Pool
	conn *pgxpool.Conn
	g    *groupLog
}

// end rolls the transaction back unless it committed and releases its
// connection. The pool closes, rather than reuses, a connection left
// inside a transaction; the ROLLBACK keeps the usual failure cheap.
func (a *appendTxn) end(ctx context.Context, committed bool) {
	if !committed {
		_, _ = a.conn.Exec(context.WithoutCancel(ctx), `ROLLBACK`)
	}
	a.conn.Release()
}

// beginAppend begins the append transaction of group: it locks the head,
// reads the latest versions of the group's ids and plans each request,
// setting its out or err (a plan error fails that request alone). It
// returns nil, and ends the transaction, when nothing is new; an error
// when the transaction failed as a whole.
func (s *Store) beginAppend(ctx context.Context, pool *pgxpool.Pool, group []*commitReq) (_ *appendTxn, err error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres: save: %w", err)
	}
	a := &appendTxn{s: s, pool: pool, conn: conn}
	defer func() {
		if err != nil || a.g == nil {
			a.end(ctx, false)
		}
	}()
	dbLatest := map[string]int{}
	var ids []string
	for _, r := range group {
		for _, st := range r.staged {
			if _, ok := dbLatest[st.Event.ID.ID]; !ok {
				dbLatest[st.Event.ID.ID] = 0
				ids = append(ids, st.Event.ID.ID)
			}
		}
	}
	// One round trip: begin, lock the head (waiting for any other append
	// to commit), read the latest versions — a statement of its own, so
	// under READ COMMITTED it sees every append committed before the lock
	// was granted.
	b := &pgx.Batch{}
	b.Queue(`BEGIN`)
	b.Queue(`SELECT position FROM head WHERE id = 1 FOR UPDATE`)
	b.Queue(latestVersions, ids)
	var head int64
	err = func() error {
		br := conn.SendBatch(ctx, b)
		defer br.Close()
		var err error
		if head, err = beganAtHead(br); err != nil {
			return err
		}
		rows, err := br.Query()
		if err != nil {
			return err
		}
		for rows.Next() {
			var id string
			var v int
			if err := rows.Scan(&id, &v); err != nil {
				rows.Close()
				return err
			}
			dbLatest[id] = v
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		return br.Close()
	}()
	if err != nil {
		return nil, fmt.Errorf("postgres: save: %w", err)
	}
	g := &groupLog{s: s, tx: conn, dbLatest: dbLatest, pending: map[string][]trove.Event{}, next: uint64(head) + 1}
	if err := g.plan(ctx, group); err != nil {
		return nil, err
	}
	if len(g.rows) == 0 {
		return nil, nil // nothing new: retries and failures only (rolled back)
	}
	a.g = g
	return a, nil
}

// hookedCommit runs the test hook beforeCommit inside the append's
// transaction, then commits it (without the hook, the COMMIT goes with the
// append's last batch of writes).
func (s *Store) hookedCommit(ctx context.Context, conn *pgxpool.Conn) error {
	if err := s.beforeCommit(ctx, conn); err != nil {
		return fmt.Errorf("postgres: save: %w", err)
	}
	tag, err := conn.Exec(ctx, `COMMIT`)
	if err != nil {
		return fmt.Errorf("postgres: save: commit: %w", err)
	}
	if tag.String() != "COMMIT" {
		return fmt.Errorf("postgres: save: commit: the transaction was rolled back")
	}
	return nil
}

// finish writes the transaction's rows and commits, then ends it.
func (a *appendTxn) finish(ctx context.Context) error {
	s, conn, committed := a.s, a.conn, false
	defer func() { a.end(ctx, committed) }()
	// Without the test hook the COMMIT ends the last batch of writes: one
	// round trip more for the whole append.
	newPKs, err := s.writeRows(ctx, a.g, s.beforeCommit == nil)
	if err != nil {
		return err
	}
	if s.beforeCommit != nil {
		if err := s.hookedCommit(ctx, conn); err != nil {
			return err
		}
	}
	committed = true
	for h, pk := range newPKs {
		s.schemaPKs.Store(h, pk)
	}
	// On the transaction's own connection: asking the pool for another
	// while this one is held can wait forever once overlapping appends
	// hold every connection.
	s.wrote(ctx, conn)
	s.notify()
	s.pending.added(len(a.g.rows))
	return nil
}

// writeRows inserts g's new versions, their links and schema documents,
// clears the latest flag of the versions they supersede, moves the head,
// sends the NOTIFY hint (notify on) and, with commit, commits. It returns
// the schema documents it added (hash → key), to be cached once committed.
func (s *Store) writeRows(ctx context.Context, g *groupLog, commit bool) (map[string]int64, error) {
	tx := g.tx
	newPKs := map[string]int64{}
	pkOf := func(sc trove.Schema) (int64, error) {
		sum := sha256.Sum256(sc.Raw())
		h := hex.EncodeToString(sum[:])
		if v, ok := s.schemaPKs.Load(h); ok {
			return v.(int64), nil
		}
		if pk, ok := newPKs[h]; ok {
			return pk, nil
		}
		var pk int64
		err := tx.QueryRow(ctx, `WITH ins AS (
	INSERT INTO schema_docs (hash, identity, doc) VALUES ($1, $2, $3) ON CONFLICT (hash) DO NOTHING RETURNING schema_pk)
SELECT schema_pk FROM ins UNION ALL SELECT schema_pk FROM schema_docs WHERE hash = $1`, h, sc.Identity(), string(sc.Raw())).Scan(&pk)
		if err != nil {
			return 0, fmt.Errorf("postgres: save: schema document: %w", err)
		}
		newPKs[h] = pk
		return pk, nil
	}
	// The latest flag: a new version is the latest unless a later one of
	// its id is in the group; a committed latest version loses it.
	lastNew := map[string]int{}
	for _, e := range g.rows {
		lastNew[e.ID.ID] = e.ID.Version
	}
	var rows eventRows
	var links linkRows
	for _, e := range g.rows {
		pk, err := pkOf(e.Schema)
		if err != nil {
			return nil, err
		}
		if err := rows.add(e, e.ID.Version == lastNew[e.ID.ID], pk); err != nil {
			return nil, err
		}
		for _, l := range e.Links {
			links.add(e.ID, l, true)
		}
	}
	// One pipelined batch: one round trip for the whole group, COMMIT
	// included.
	b := &pgx.Batch{}
	if len(g.rows) >= copyThreshold {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"events"}, eventColumns, pgx.CopyFromSlice(len(g.rows), rows.row)); err != nil {
			return nil, fmt.Errorf("postgres: save: copy: %w", err)
		}
	} else {
		b.Queue(insertEvents, rows.args()...)
	}
	for id := range lastNew {
		if v := g.dbLatest[id]; v > 0 {
			b.Queue(clearLatest, id, v)
		}
	}
	if n := len(links.sourceID); n >= copyThreshold {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"links"}, linkColumns, pgx.CopyFromSlice(n, links.row)); err != nil {
			return nil, fmt.Errorf("postgres: save: copy links: %w", err)
		}
	} else if n > 0 {
		b.Queue(insertLinks, links.args()...)
	}
	b.Queue(`UPDATE head SET position = $1 WHERE id = 1`, int64(g.next-1))
	if s.opts.Notify == "on" {
		b.Queue(`SELECT pg_notify($1, $2)`, s.channel, strconv.FormatUint(g.next-1, 10))
	}
	if commit {
		b.Queue(`COMMIT`)
	}
	br := tx.SendBatch(ctx, b)
	for range b.Len() - 1 {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return nil, fmt.Errorf("postgres: save: %w", err)
		}
	}
	tag, err := br.Exec()
	if err == nil {
		err = br.Close()
	} else {
		br.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: save: %w", err)
	}
	if commit && tag.String() != "COMMIT" {
		return nil, fmt.Errorf("postgres: save: commit: the transaction was rolled back")
	}
	return newPKs, nil
}

// latestVersions reads the latest committed version of each of the ids
// in $1 (ids without one are missing).
const latestVersions = `SELECT id, max(version) FROM events WHERE id = ANY($1) GROUP BY id`

// clearLatest takes the latest flag from version $2 of id $1.
const clearLatest = `UPDATE events SET latest = false WHERE id = $1 AND version = $2`

// insertEvents inserts rows given column by column, one array a column
// (eventRows.args): one statement text whatever the number of rows, so
// each connection prepares it once.
const insertEvents = `INSERT INTO events (position, id, version, latest, created_ms, producer, schema_id, schema_pk,
	payload, payload_jsonb, search_tsv, files, links, metadata)
SELECT p, i, v, l, c, pr, s, k, pl, j::jsonb, t, f, ln, m
FROM unnest($1::bigint[], $2::text[], $3::int[], $4::bool[], $5::bigint[], $6::text[], $7::text[], $8::bigint[],
	$9::text[], $10::text[], $11::tsvector[], $12::text[], $13::text[], $14::text[]) AS u(p, i, v, l, c, pr, s, k, pl, j, t, f, ln, m)`

// eventRows is new events rows as insertEvents takes them: a slice a
// column, nil pointers for NULL.
type eventRows struct {
	position, created, schemaPK   []int64
	id, producer, schema, payload []string
	version                       []int
	latest                        []bool
	jsonb, files, links, metadata []*string
	search                        tsvectors
}

// add appends the row of e.
func (r *eventRows) add(e trove.Event, latest bool, schemaPK int64) error {
	files, err := jsonOrNil(len(e.Files) > 0, e.Files)
	if err != nil {
		return err
	}
	links, err := jsonOrNil(len(e.Links) > 0, e.Links)
	if err != nil {
		return err
	}
	var metadata *string
	if len(e.Metadata) > 0 {
		m := string(e.Metadata)
		metadata = &m
	}
	jb, search := indexValues(e.Payload)
	var jsonb *string
	if jb != nil {
		j := jb.(string)
		jsonb = &j
	}
	var tsv tsvector
	if search != nil {
		tsv = search.(tsvector)
	}
	r.position = append(r.position, int64(e.Position))
	r.id = append(r.id, e.ID.ID)
	r.version = append(r.version, e.ID.Version)
	r.latest = append(r.latest, latest)
	r.created = append(r.created, e.CreatedAt.UnixMilli())
	r.producer = append(r.producer, e.Producer)
	r.schema = append(r.schema, e.Schema.Identity())
	r.schemaPK = append(r.schemaPK, schemaPK)
	r.payload = append(r.payload, string(e.Payload))
	r.jsonb = append(r.jsonb, jsonb)
	r.search = append(r.search, tsv)
	r.files = append(r.files, files)
	r.links = append(r.links, links)
	r.metadata = append(r.metadata, metadata)
	return nil
}

// row is row i as COPY takes it, in eventColumns order.
func (r *eventRows) row(i int) ([]any, error) {
	var search any
	if r.search[i] != nil {
		search = r.search[i]
	}
	return []any{r.position[i], r.id[i], r.version[i], r.latest[i], r.created[i], r.producer[i], r.schema[i], r.schemaPK[i],
		r.payload[i], r.jsonb[i], search, r.files[i], r.links[i], r.metadata[i]}, nil
}

var eventColumns = []string{"position", "id", "version", "latest", "created_ms", "producer", "schema_id", "schema_pk",
	"payload", "payload_jsonb", "search_tsv", "files", "links", "metadata"}

// args are insertEvents' parameters.
func (r *eventRows) args() []any {
	return []any{r.position, r.id, r.version, r.latest, r.created, r.producer, r.schema, r.schemaPK,
		r.payload, r.jsonb, r.search, r.files, r.links, r.metadata}
}

// insertLinks inserts links rows given column by column (linkRows.args).
const insertLinks = `INSERT INTO links (source_id, source_version, type, target_id, target_version, metadata, own)
SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::int[], $6::text[], $7::bool[])`

// linkRows is links rows as insertLinks takes them.
type linkRows struct {
	sourceID, typ, targetID      []string
	sourceVersion, targetVersion []int
	metadata                     []*string
	own                          []bool
}

func (r *linkRows) add(source trove.EventID, l trove.EventLink, own bool) {
	var metadata *string
	if len(l.Metadata) > 0 {
		m := string(l.Metadata)
		metadata = &m
	}
	r.sourceID = append(r.sourceID, source.ID)
	r.sourceVersion = append(r.sourceVersion, source.Version)
	r.typ = append(r.typ, l.Type)
	r.targetID = append(r.targetID, l.TargetEvent.ID)
	r.targetVersion = append(r.targetVersion, l.TargetEvent.Version)
	r.metadata = append(r.metadata, metadata)
	r.own = append(r.own, own)
}

// row is row i as COPY takes it, in linkColumns order.
func (r *linkRows) row(i int) ([]any, error) {
	return []any{r.sourceID[i], r.sourceVersion[i], r.typ[i], r.targetID[i], r.targetVersion[i], r.metadata[i], r.own[i]}, nil
}

var linkColumns = []string{"source_id", "source_version", "type", "target_id", "target_version", "metadata", "own"}

func (r *linkRows) args() []any {
	return []any{r.sourceID, r.sourceVersion, r.typ, r.targetID, r.targetVersion, r.metadata, r.own}
}

// linkRow is one links row, in linkColumns order.
func linkRow(source trove.EventID, l trove.EventLink, own bool) []any {
	var metadata any
	if len(l.Metadata) > 0 {
		metadata = string(l.Metadata)
	}
	return []any{source.ID, source.Version, l.Type, l.TargetEvent.ID, l.TargetEvent.Version, metadata, own}
}

// jsonOrNil is the JSON of v when set, else nil (NULL).
func jsonOrNil(set bool, v any) (*string, error) {
	if !set {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	j := string(b)
	return &j, nil
}

// beganAtHead reads the first two answers of a batch that queued BEGIN,
// then the head's position: that position.
func beganAtHead(br pgx.BatchResults) (int64, error) {
	if _, err := br.Exec(); err != nil {
		return 0, err
	}
	var head int64
	err := br.QueryRow().Scan(&head)
	return head, err
}
