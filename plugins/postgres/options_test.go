package postgres_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/trovedb/trove"
	"github.com/trovedb/trove/plugins/postgres"
)

// An append transaction failing with a serialization failure or a
// deadlock is run again, Options.Retries times at most; other failures are
// not retried. A retried save is stored once, at the next position.
func TestRetriesSerializationFailures(t *testing.T) {
	schema := schemaFor(t.TempDir())
	s := open(t, schema, func(o *postgres.Options) { o.Retries = 2 })
	var calls, fail int
	var code string
	postgres.SetBeforeCommit(s, func(context.Context, *pgxpool.Conn) error {
		calls++
		if calls <= fail {
			if code == "" {
				return errors.New("not a database error")
			}
			return &pgconn.PgError{Code: code, Message: "injected"}
		}
		return nil
	})
	ctx := timeout(t, time.Minute)
	if err := s.Initialize(ctx, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	stored := 0
	for i, tc := range []struct {
		code      string
		fail      int
		ok        bool
		wantCalls int
	}{
		{"40001", 2, true, 3},  // retried twice, then committed
		{"40P01", 1, true, 2},  // a deadlock too
		{"40001", 3, false, 3}, // out of retries
		{"23505", 1, false, 1}, // not retryable
		{"", 1, false, 1},      // not a database error
		{"40001", 0, true, 1},
	} {
		calls, fail, code = 0, tc.fail, tc.code
		e, err := s.SaveEvent(ctx, ev(fmt.Sprintf("r%d", i), 1, `{"a":1}`))
		if calls != tc.wantCalls {
			t.Errorf("case %d: %d attempts, want %d", i, calls, tc.wantCalls)
		}
		if tc.ok {
			if err != nil {
				t.Fatalf("case %d: %v", i, err)
			}
			stored++
			if e.Position != uint64(stored) {
				t.Errorf("case %d: position %d, want %d", i, e.Position, stored)
			}
			continue
		}
		if err == nil {
			t.Fatalf("case %d: saved despite the failure", i)
		}
		if _, gerr := s.GetEvent(ctx, trove.EventID{ID: fmt.Sprintf("r%d", i)}); !errors.Is(gerr, trove.ErrNotFound) {
			t.Errorf("case %d: the failed save is stored (%v)", i, gerr)
		}
	}
	calls, fail = 0, 0
	if n := checkDense(t, s); n != stored {
		t.Errorf("%d events, want %d", n, stored)
	}
}

// maxConns bounds the connections a Store opens: its pool, plus the LISTEN
// connection with notify on, however many calls run at once.
func TestMaxConnsBoundsConnections(t *testing.T) {
	for _, notify := range []string{"on", "off"} {
		t.Run("notify "+notify, func(t *testing.T) {
			app := "maxconns_" + notify
			s := newStore(t, schemaFor(t.TempDir()), func(o *postgres.Options) {
				o.DSN, o.MaxConns, o.Notify = testDSN+" application_name="+app, 2, notify
			})
			ctx := timeout(t, time.Minute)
			c := conn(t)
			most := 0
			sample := func() {
				var n int
				if err := c.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&n); err != nil {
					t.Error(err)
				}
				most = max(most, n)
			}
			done := make(chan error, 40)
			for i := range 40 {
				go func() {
					if i%2 == 0 {
						_, err := s.SaveEvent(ctx, ev(fmt.Sprintf("m%d", i), 1, `{"a":1}`))
						done <- err
						return
					}
					_, err := s.QueryEvents(ctx, trove.EventQuery{Search: "x"})
					done <- err
				}()
			}
			for range 40 {
				sample()
				if err := <-done; err != nil {
					t.Fatal(err)
				}
			}
			sample()
			want := 2
			if notify == "on" {
				want = 3
			}
			if most == 0 || most > want {
				t.Errorf("up to %d connections seen, want 1…%d", most, want)
			}
		})
	}
}

// chunkSize is the size of the rows file bytes are kept in; the bytes read
// back whole.
func TestFileChunks(t *testing.T) {
	schema := schemaFor(t.TempDir())
	s := newStore(t, schema, func(o *postgres.Options) { o.ChunkSize = 7 })
	ctx := timeout(t, time.Minute)
	data := bytes.Repeat([]byte("0123456789"), 5)
	if _, err := s.SaveFile(ctx, trove.EventFile{ID: "f", ContentType: "text/plain", Filename: "f.txt"}, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	var chunks, longest int
	if err := conn(t).QueryRow(ctx, `SELECT count(*), max(length(data)) FROM `+schema+`.file_chunks WHERE file_id = 'f'`).Scan(&chunks, &longest); err != nil {
		t.Fatal(err)
	}
	if chunks != 8 || longest != 7 {
		t.Errorf("%d chunks of at most %d bytes, want 8 of 7", chunks, longest)
	}
	rc, err := s.GetFileData(ctx, "f")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if got, err := io.ReadAll(rc); err != nil || !bytes.Equal(got, data) {
		t.Errorf("read back %q (%v), want %q", got, err, data)
	}
}
