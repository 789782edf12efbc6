package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/trovedb/trove"
	"github.com/trovedb/trove/plugins/internal/logstream"
	"github.com/trovedb/trove/plugins/internal/sqlevents"
)

// logPage is how many events one read of the log returns.
const logPage = 256

// after reads up to logPage events after position from, at most up to
// position end (0: no bound).
func (s *Store) after(ctx context.Context, from, end uint64) ([]trove.Event, error) {
	q, err := s.reader(ctx, "read log")
	if err != nil {
		return nil, err
	}
	stmt := `SELECT ` + eventCols + ` FROM events e WHERE e.position > $1`
	args := []any{int64(from)}
	if end > 0 {
		stmt += ` AND e.position <= $2`
		args = append(args, int64(end))
	}
	page, _, err := s.readRows(ctx, q, stmt+` ORDER BY e.position LIMIT `+fmt.Sprint(logPage), args, false)
	if err != nil {
		return nil, err
	}
	return s.resolve(ctx, q, page)
}

// page is the log as logstream reads it. The channel is taken before
// reading, so a commit in between is not missed.
func (s *Store) page(ctx context.Context, from, end uint64) ([]trove.Event, <-chan struct{}, error) {
	changed := s.changedChan()
	batch, err := s.after(ctx, from, end)
	if err != nil {
		// A read cut short by Shutdown (its pool closed under it) is
		// ErrClosed, as every call after Shutdown.
		s.mu.RLock()
		if cerr := s.mu.state.Check("read log"); cerr != nil {
			err = cerr
		}
		s.mu.RUnlock()
	}
	return batch, changed, err
}

// Subscribe calls fn with every event after position from, then with each
// event as it commits, until ctx is done or fn fails (see logstream). fn
// runs with no lock or connection held, so it may call the store. Commits
// of this Store wake it at once; those of other processes through the
// NOTIFY hint (notify on), and in any case within Options.PollMS.
// Positions are dense and committed in order, so reading past the last
// position seen never skips an event.
func (s *Store) Subscribe(ctx context.Context, from uint64, fn func(trove.Event) error) error {
	if _, err := s.pool("subscribe"); err != nil {
		return err
	}
	return logstream.Subscribe(ctx, from, time.Duration(s.opts.PollMS)*time.Millisecond, s.page, fn)
}

// Replay calls fn with every event after position from, up to the last one
// committed when Replay was called.
func (s *Store) Replay(ctx context.Context, from uint64, fn func(trove.Event) error) error {
	q, err := s.reader(ctx, "replay")
	if err != nil {
		return err
	}
	var end int64
	if err := q.QueryRow(ctx, `SELECT position FROM head WHERE id = 1`).Scan(&end); err != nil {
		return fmt.Errorf("postgres: replay: %w", err)
	}
	return logstream.Replay(ctx, from, uint64(end), s.page, fn)
}

// listen holds a connection that LISTENs on the schema's channel and wakes
// the subscribers at each notification, until bg is done. A lost
// connection is reopened (after a pause growing to 5 s) and LISTENs again;
// subscribers are woken on every reconnect, since notifications sent
// meanwhile are lost.
func (s *Store) listen(bg context.Context, cfg *pgxpool.Config) {
	pause := 50 * time.Millisecond
	first := true
	for bg.Err() == nil {
		conn, err := pgx.ConnectConfig(bg, cfg.ConnConfig.Copy())
		if err == nil {
			_, err = conn.Exec(bg, `LISTEN `+pgx.Identifier{s.channel}.Sanitize())
			if err == nil {
				if first {
					close(s.listening)
					first = false
				}
				pause = 50 * time.Millisecond
				s.notify()
				for err == nil {
					_, err = conn.WaitForNotification(bg)
					if err == nil {
						s.notify()
					}
				}
			}
			conn.Close(context.Background())
		}
		if bg.Err() != nil || errors.Is(err, context.Canceled) && bg.Err() != nil {
			return
		}
		select {
		case <-bg.Done():
			return
		case <-time.After(pause):
		}
		pause = min(2*pause, 5*time.Second)
	}
}

// SaveSchema keeps a registered schema: the same (id, version) with the same
// document is a no-op, with another ErrConflict.
func (s *Store) SaveSchema(ctx context.Context, rs trove.RegisteredSchema) error {
	pool, err := s.pool("save schema")
	if err != nil {
		return err
	}
	var doc string
	err = pool.QueryRow(ctx, `WITH ins AS (
	INSERT INTO registered_schemas (id, version, doc) VALUES ($1, $2, $3) ON CONFLICT (id, version) DO NOTHING RETURNING doc)
SELECT doc FROM ins UNION ALL SELECT doc FROM registered_schemas WHERE id = $1 AND version = $2 LIMIT 1`, rs.ID, rs.Version, string(rs.Schema)).Scan(&doc)
	if err != nil {
		return fmt.Errorf("postgres: save schema: %w", err)
	}
	if !trove.JSONEqual([]byte(doc), rs.Schema) {
		return fmt.Errorf("%w: postgres: schema %s version %s is stored with another document", trove.ErrConflict, rs.ID, rs.Version)
	}
	s.wrote(ctx, pool)
	return nil
}

// ListSchemas returns the stored schemas in registration order.
func (s *Store) ListSchemas(ctx context.Context) ([]trove.RegisteredSchema, error) {
	pool, err := s.pool("list schemas")
	if err != nil {
		return nil, err
	}
	rows, err := pool.Query(ctx, `SELECT id, version, doc FROM registered_schemas ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list schemas: %w", err)
	}
	defer rows.Close()
	return sqlevents.ReadSchemas(rows, "postgres: list schemas")
}
