package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// reader returns where a read goes: the replica (Options.ReadDSN) once it
// has replayed this Store's last acknowledged commit, else the primary. A
// read never sees less than this Store acknowledged: the replica is asked
// for pg_last_wal_replay_lsn() until it reaches the commit's WAL position,
// for at most Options.ReplicaWaitMS; then the primary answers.
func (s *Store) reader(ctx context.Context, op string) (*pgxpool.Pool, error) {
	s.mu.RLock()
	if err := s.mu.state.Check(op); err != nil {
		s.mu.RUnlock()
		return nil, err
	}
	pool, read := s.mu.pool, s.mu.read
	s.mu.RUnlock()
	if read == nil {
		return pool, nil
	}
	s.lsnMu.Lock()
	want := s.lastLSN
	s.lsnMu.Unlock()
	deadline := time.Now().Add(time.Duration(s.opts.ReplicaWaitMS) * time.Millisecond)
	for pause := time.Millisecond; ; pause = min(2*pause, 20*time.Millisecond) {
		var recovering bool
		var lsn *string
		if err := read.QueryRow(ctx, `SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text`).Scan(&recovering, &lsn); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return pool, nil // replica unreachable: the primary answers
		}
		switch {
		case !recovering:
			return read, nil // a primary itself (promoted): always current
		case lsn == nil:
			return pool, nil // no replay position: it cannot show it is current
		}
		if have, err := parseLSN(*lsn); err == nil && have >= want {
			return read, nil
		}
		if time.Now().After(deadline) {
			return pool, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(pause):
		}
	}
}

// wrote records, with a replica configured, the WAL position after a
// write this Store acknowledges, so later reads wait for the replica to
// replay it.
func (s *Store) wrote(ctx context.Context, q querier) {
	if s.opts.ReadDSN != "" {
		s.noteCommitLSN(ctx, q)
	}
}

// noteCommitLSN records the primary's WAL position after a commit: at or
// past the commit record.
func (s *Store) noteCommitLSN(ctx context.Context, q querier) {
	var text string
	if err := q.QueryRow(ctx, `SELECT pg_current_wal_lsn()::text`).Scan(&text); err != nil {
		return // the next commit records it; reads may then go to the primary
	}
	lsn, err := parseLSN(text)
	if err != nil {
		return
	}
	s.lsnMu.Lock()
	if lsn > s.lastLSN {
		s.lastLSN = lsn
	}
	s.lsnMu.Unlock()
}

// parseLSN reads a pg_lsn text, "16/B374D848".
func parseLSN(s string) (uint64, error) {
	hi, lo, ok := strings.Cut(s, "/")
	if !ok {
		return 0, fmt.Errorf("postgres: bad LSN %q", s)
	}
	h, err := strconv.ParseUint(hi, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("postgres: bad LSN %q", s)
	}
	l, err := strconv.ParseUint(lo, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("postgres: bad LSN %q", s)
	}
	return h<<32 | l, nil
}
