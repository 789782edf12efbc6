package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/trovedb/trove"
)

// Appends planned ahead of the head lock.
//
// In the locked append (beginAppend, finish) the head row is held from
// the round trip that reads the group's latest versions to the commit:
// the versions travel to this process, the group is planned and its rows
// built, and the writes travel back, all while every other append
// waits. With many small saves in flight that wait, not the server's
// work, bounds the commits a second.
//
// A group of fewer than copyThreshold events whose schema documents are
// all known is therefore planned before the lock: its latest versions
// are read without a transaction (or, when every event is a version 1,
// taken to be none: a new event's save needs no read), its requests
// planned and its rows built,
// and then one pipelined batch begins, moves the head (which locks it),
// inserts the rows at positions computed in the server from the head,
// clears the superseded latest flags, inserts the links, sends the
// NOTIFY and commits. The lock is held for the server's work alone.
//
// The plan may be stale: another process may have appended a version of
// one of the group's ids since the read (or, unread, before it). Versions are dense per id, so a
// new version planned on a stale latest is one that now exists, and the
// (id, version) unique index refuses it: the transaction rolls back
// (its positions given back) and the group is appended again by the
// locked path, against what is committed. A plan that only answers
// (an idempotent retry, a version conflict) is an answer as of the read,
// made after the request arrived. Within one Store a group waits, before
// its read, for every group in flight that shares one of its ids, so
// its plan sees every save this Store acknowledged.
//
// Positions stay dense and visible in order: they are given out under the
// head lock, held to the commit, exactly as in the locked path.

// aheadBase offsets the positions of a group planned ahead until the head
// is known: the plan numbers its new events aheadBase, aheadBase+1, …,
// and the commit replaces the offset by the head.
const aheadBase = uint64(1) << 62

// maxFlights bounds the groups in flight: sent or being written, each on
// a connection of its own, the later ones waiting in the server for the
// head lock.
const maxFlights = 2

// flight is a group between its plan and its answer.
type flight struct {
	ids  map[string]bool
	done chan struct{}
}

// flights are the committer's groups in flight (used by the committer
// goroutine alone; done is closed by the group's writer).
type flights []*flight

// wait prunes finished flights, then waits for every one sharing an id
// with ids, and for the oldest ones until fewer than maxFlights remain.
func (fs *flights) wait(ids map[string]bool) {
	kept := (*fs)[:0]
	for _, f := range *fs {
		shared := false
		for id := range ids {
			if f.ids[id] {
				shared = true
				break
			}
		}
		if shared {
			<-f.done
			continue
		}
		select {
		case <-f.done:
		default:
			kept = append(kept, f)
		}
	}
	for len(kept) >= maxFlights {
		<-kept[0].done
		kept = kept[1:]
	}
	*fs = kept
}

// groupIDs is the set of event ids group saves.
func groupIDs(group []*commitReq) map[string]bool {
	ids := map[string]bool{}
	for _, r := range group {
		for _, st := range r.staged {
			ids[st.Event.ID.ID] = true
		}
	}
	return ids
}

// aheadOK reports whether group may be planned ahead of the lock: fewer
// than copyThreshold events, every schema document already known.
func (s *Store) aheadOK(group []*commitReq) bool {
	n := 0
	for _, r := range group {
		n += len(r.staged)
		for _, st := range r.staged {
			sum := sha256.Sum256(st.Event.Schema.Raw())
			if _, ok := s.schemaPKs.Load(hex.EncodeToString(sum[:])); !ok {
				return false
			}
		}
	}
	return n < copyThreshold
}

// aheadTxn is a group planned ahead of the head lock, on the connection
// its transaction will run on.
type aheadTxn struct {
	s    *Store
	conn *pgxpool.Conn
	g    *groupLog
	rows eventRows
	n    int // new events
}

// beginAhead reads the latest versions of group's ids without a
// transaction and plans each request, setting its out or err. It returns
// nil when nothing is new (every request answered), and ok false when
// the group must take the locked path after all (a schema document
// unknown to this Store); an error when the read failed.
func (s *Store) beginAhead(ctx context.Context, pool *pgxpool.Pool, group []*commitReq) (_ *aheadTxn, ok bool, err error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, true, fmt.Errorf("postgres: save: %w", err)
	}
	a := &aheadTxn{s: s, conn: conn}
	defer func() {
		if err != nil || a.g == nil {
			conn.Release()
		}
	}()
	dbLatest := map[string]int{}
	ids := make([]string, 0, len(group))
	firsts := true // every event is a version 1
	for _, r := range group {
		for _, st := range r.staged {
			firsts = firsts && st.Event.ID.Version == 1
			if _, ok := dbLatest[st.Event.ID.ID]; !ok {
				dbLatest[st.Event.ID.ID] = 0
				ids = append(ids, st.Event.ID.ID)
			}
		}
	}
	// A group of first versions is planned as if none of its ids were
	// stored, without reading: the usual save of a new event costs one
	// round trip. An id that is stored has its version 1, which the
	// unique index refuses as it refuses any stale plan; its save (a
	// retry, or a conflict) is then planned under the lock.
	if !firsts {
		if err := readLatest(ctx, conn, ids, dbLatest); err != nil {
			return nil, true, err
		}
	}
	g := &groupLog{s: s, tx: conn, dbLatest: dbLatest, pending: map[string][]trove.Event{}, next: aheadBase}
	if err := g.plan(ctx, group); err != nil {
		return nil, true, err
	}
	if len(g.rows) == 0 {
		return nil, true, nil
	}
	// The rows, their positions relative to the head after the move:
	// the last new event at the head, the first n-1 before it.
	n := len(g.rows)
	lastNew := map[string]int{}
	for _, e := range g.rows {
		lastNew[e.ID.ID] = e.ID.Version
	}
	for _, e := range g.rows {
		sum := sha256.Sum256(e.Schema.Raw())
		pk, known := s.schemaPKs.Load(hex.EncodeToString(sum[:]))
		if !known {
			return nil, false, nil
		}
		// e's offset from the head, ≤ 0, as rows.add reads the position.
		e.Position = uint64(int64(e.Position-aheadBase) - int64(n-1))
		if err := a.rows.add(e, e.ID.Version == lastNew[e.ID.ID], pk.(int64)); err != nil {
			return nil, true, err
		}
	}
	a.g, a.n = g, n
	return a, true, nil
}

// readLatest sets dbLatest[id] to the latest committed version of each
// of ids that has one.
func readLatest(ctx context.Context, conn *pgxpool.Conn, ids []string, dbLatest map[string]int) error {
	rows, err := conn.Query(ctx, latestVersions, ids)
	if err != nil {
		return fmt.Errorf("postgres: save: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var v int
		if err := rows.Scan(&id, &v); err != nil {
			return fmt.Errorf("postgres: save: %w", err)
		}
		dbLatest[id] = v
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("postgres: save: %w", err)
	}
	return nil
}

// finish sends the group's transaction in one pipelined batch (see the
// comment at the top) and, once committed, gives the new events their
// positions. It ends the transaction and releases the connection.
func (a *aheadTxn) finish(ctx context.Context, group []*commitReq) error {
	s, conn, g, committed := a.s, a.conn, a.g, false
	defer func() {
		if !committed {
			_, _ = conn.Exec(context.WithoutCancel(ctx), `ROLLBACK`)
		}
		conn.Release()
	}()
	var links linkRows
	lastNew := map[string]int{}
	for _, e := range g.rows {
		lastNew[e.ID.ID] = e.ID.Version
		for _, l := range e.Links {
			links.add(e.ID, l, true)
		}
	}
	commit := s.beforeCommit == nil
	b := &pgx.Batch{}
	b.Queue(`BEGIN`)
	b.Queue(`UPDATE head SET position = position + $1 WHERE id = 1 RETURNING position`, int64(a.n))
	b.Queue(insertEventsAhead, a.rows.args()...)
	for id := range lastNew {
		if v := g.dbLatest[id]; v > 0 {
			b.Queue(clearLatest, id, v)
		}
	}
	if len(links.sourceID) > 0 {
		b.Queue(insertLinks, links.args()...)
	}
	if s.opts.Notify == "on" {
		b.Queue(`SELECT pg_notify($1, position::text) FROM head WHERE id = 1`, s.channel)
	}
	if commit {
		b.Queue(`COMMIT`)
	}
	var head int64
	err := func() error {
		br := conn.SendBatch(ctx, b)
		defer br.Close()
		var err error
		if head, err = beganAtHead(br); err != nil {
			return err
		}
		var tag pgconn.CommandTag
		for range b.Len() - 2 {
			t, err := br.Exec()
			if err != nil {
				return err
			}
			tag = t
		}
		if commit && tag.String() != "COMMIT" {
			return errors.New("commit: the transaction was rolled back")
		}
		return br.Close()
	}()
	if err != nil {
		if staleVersion(err) {
			return fmt.Errorf("postgres: save: %w: %w", errStalePlan, err)
		}
		return fmt.Errorf("postgres: save: %w", err)
	}
	if !commit {
		if err := s.hookedCommit(ctx, conn); err != nil {
			return err
		}
	}
	committed = true
	// The new events are head-n+1 … head, in plan order.
	first := uint64(head) - uint64(a.n) + 1
	for _, r := range group {
		for i := range r.out {
			if p := r.out[i].Position; p >= aheadBase {
				r.out[i].Position = first + (p - aheadBase)
			}
		}
	}
	s.wrote(ctx, conn)
	s.notify()
	s.pending.added(a.n)
	return nil
}

// insertEventsAhead is insertEvents with positions relative to the head
// row, moved already in the same transaction: the first column holds
// each row's offset from the head (the last row 0, the one before -1, …).
const insertEventsAhead = `INSERT INTO events (position, id, version, latest, created_ms, producer, schema_id, schema_pk,
	payload, payload_jsonb, search_tsv, files, links, metadata)
SELECT h.position + p, i, v, l, c, pr, s, k, pl, j::jsonb, t, f, ln, m
FROM head h, unnest($1::bigint[], $2::text[], $3::int[], $4::bool[], $5::bigint[], $6::text[], $7::text[], $8::bigint[],
	$9::text[], $10::text[], $11::tsvector[], $12::text[], $13::text[], $14::text[]) AS u(p, i, v, l, c, pr, s, k, pl, j, t, f, ln, m)
WHERE h.id = 1`

// errStalePlan marks the failure of a group planned ahead on a read that
// another append overtook: it is appended again by the locked path.
var errStalePlan = errors.New("a version planned ahead was taken meanwhile")

// staleVersion reports whether err is the (id, version) unique index
// refusing a row: a version planned on a stale read.
func staleVersion(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505" && pe.ConstraintName == "events_id_version_key"
}
