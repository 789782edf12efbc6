package postgres

import (
	"context"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/trovedb/trove"
)

// SetBeforeCommit sets the hook each append transaction runs just before
// its commit, the head row locked.
func SetBeforeCommit(s *Store, f func(ctx context.Context, tx *pgxpool.Conn) error) {
	s.beforeCommit = f
}

// SetAheadPlanned sets the hook run after a group was planned ahead of
// the head lock, before its transaction is sent.
func SetAheadPlanned(s *Store, f func()) { s.aheadPlanned = f }

// Append statements whose plans are checked.
const (
	LatestVersionsSQL = latestVersions
	ClearLatestSQL    = clearLatest
)

// SetLockedOnly makes every append of s take the head lock before its
// plan (no planning ahead).
func SetLockedOnly(s *Store) { s.lockedOnly = true }

// QuerySQL is the statement QueryEvents runs first for q (its first keyset
// page when it pages), with its arguments.
func QuerySQL(q trove.EventQuery) (string, []any, error) {
	c, err := q.Compile()
	if err != nil {
		return "", nil, err
	}
	keyset, desc := positionOrder(c)
	stmt, args := pageStatement(eventCols, whereClause(c, false), keyset && c.Limit() >= 0, desc, -1,
		min(max(c.Offset()+c.Limit(), minQueryPage), maxQueryPage))
	return stmt, args, nil
}

// Listening is closed once the Store's LISTEN connection listens.
func Listening(s *Store) <-chan struct{} { return s.listening }

// SetWalked sets the hook told each position window a query walks.
func SetWalked(s *Store, f func(window int64, candidates int, buckets bool, handOver bool)) {
	s.walked = f
}

// WalkSQL is the statement of q's position windows, its window bounds
// last.
func WalkSQL(q trove.EventQuery) (string, []any, error) {
	c, err := q.Compile()
	if err != nil {
		return "", nil, err
	}
	w := whereClause(c, true)
	return walkStatement(eventCols, w, false), w.args, nil
}

// BucketSQL is the statement reading position buckets of q's first
// payload term, with its arguments before the window's bounds and the
// buckets' documents; ok is false when q has no such term.
func BucketSQL(q trove.EventQuery) (stmt string, args []any, doc string, ok bool, err error) {
	c, err := q.Compile()
	if err != nil {
		return "", nil, "", false, err
	}
	w := whereClause(c, true)
	if w.bucketDoc == "" {
		return "", nil, "", false, nil
	}
	return bucketStatement(eventCols, w, false), w.args, w.bucketDoc, true, nil
}

// PendingMoves reports the GIN pending-list moves the cleaner made, and
// whether the server refused them.
func PendingMoves(s *Store) (moves int64, stopped bool) {
	return s.pending.moves.Load(), s.pending.stopped.Load()
}

// Analyzes reports the ANALYZEs the cleaner ran.
func Analyzes(s *Store) int64 { return s.pending.analyzes.Load() }

// RegisterTSVector makes m encode the values of MakeTSVector.
func RegisterTSVector(m *pgtype.Map) { registerTSVector(m) }

// MakeTSVector is the search_tsv value the appender writes for tokens.
func MakeTSVector(tokens []string) any { return makeTSVector(tokens) }

// MakeTSVectors is a tsvector[] value as the appender writes it: each
// element the tsvector of its tokens, nil elements NULL.
func MakeTSVectors(tokens [][]string) any {
	a := make(tsvectors, len(tokens))
	for i, t := range tokens {
		if t != nil {
			a[i] = makeTSVector(t)
		}
	}
	return a
}

// SetRate makes s remember that q's filter matched share of the positions
// of a log of head positions (rates.go).
func SetRate(s *Store, q trove.EventQuery, share float64, head int64) error {
	c, err := q.Compile()
	if err != nil {
		return err
	}
	s.rates.put(rateKey(whereClause(c, true)), rate{rate: share, head: head})
	return nil
}

// Rate is the share of positions s remembers for q's filter.
func Rate(s *Store, q trove.EventQuery) (float64, bool, error) {
	c, err := q.Compile()
	if err != nil {
		return 0, false, err
	}
	r, ok := s.rates.get(rateKey(whereClause(c, true)))
	return r.rate, ok, nil
}
