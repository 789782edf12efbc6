package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/trovedb/trove"
	"github.com/trovedb/trove/plugins/postgres"
)

// With readDSN on a hot standby (pg_basebackup -R), reads never see less
// than the store acknowledged: each save is read back at once, through
// the replica while it keeps up, and through the primary when its replay
// is paused.
func TestReadReplica(t *testing.T) {
	standby, err := server.StartStandby()
	if err != nil {
		t.Fatal(err)
	}
	defer standby.Remove()
	schema := schemaFor(t.TempDir())
	s := newStore(t, schema, func(o *postgres.Options) { o.ReadDSN = standby.DSN("") })
	ctx := timeout(t, 2*time.Minute)
	rc, err := pgx.Connect(ctx, standby.DSN(""))
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close(context.Background())
	var inRecovery bool
	if err := rc.QueryRow(ctx, `SELECT pg_is_in_recovery()`).Scan(&inRecovery); err != nil || !inRecovery {
		t.Fatalf("the standby is not in recovery (%v)", err)
	}
	check := func(i int) {
		t.Helper()
		id := fmt.Sprintf("e%d", i)
		if _, err := s.SaveEvent(ctx, ev(id, 1, fmt.Sprintf(`{"i":%d}`, i))); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetEvent(ctx, trove.EventID{ID: id}); err != nil {
			t.Fatalf("get %s right after its save: %v", id, err)
		}
		got, err := s.QueryEvents(ctx, trove.EventQuery{})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != i {
			t.Fatalf("query right after save %d sees %d events", i, len(got))
		}
	}
	for i := 1; i <= 20; i++ {
		check(i)
	}
	// The replica has replayed them all.
	var n int
	for n != 20 {
		if err := rc.QueryRow(ctx, `SELECT count(*) FROM `+schema+`.events`).Scan(&n); err != nil {
			t.Fatal(err)
		}
	}
	// Replay paused: the replica falls behind, reads go to the primary.
	if _, err := rc.Exec(ctx, `SELECT pg_wal_replay_pause()`); err != nil {
		t.Fatal(err)
	}
	for i := 21; i <= 25; i++ {
		check(i)
	}
	if err := rc.QueryRow(ctx, `SELECT count(*) FROM `+schema+`.events`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 20 {
		t.Fatalf("the paused replica holds %d events, want 20", n)
	}
	if _, err := rc.Exec(ctx, `SELECT pg_wal_replay_resume()`); err != nil {
		t.Fatal(err)
	}
	check(26)
	// With the primary down, reads are served by the replica alone.
	for n != 26 {
		if err := rc.QueryRow(ctx, `SELECT count(*) FROM `+schema+`.events`).Scan(&n); err != nil {
			t.Fatal(err)
		}
	}
	if err := server.Stop("fast"); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := server.Start(); err != nil {
			t.Fatal(err)
		}
	}()
	if _, err := s.GetEvent(ctx, trove.EventID{ID: "e26"}); err != nil {
		t.Fatalf("get through the replica with the primary down: %v", err)
	}
	got, err := s.QueryEvents(ctx, trove.EventQuery{})
	if err != nil || len(got) != 26 {
		t.Fatalf("query through the replica with the primary down: %d events, %v", len(got), err)
	}
}

// With readDSN set, concurrent saves through a pool of two connections
// all complete: an append records its commit's WAL position on its own
// connection, never waiting for another from the pool while it holds one
// (overlapping appends once held every connection that way, and waited
// for each other forever).
func TestReplicaSavesWithFewConnections(t *testing.T) {
	standby, err := server.StartStandby()
	if err != nil {
		t.Fatal(err)
	}
	defer standby.Remove()
	s := newStore(t, schemaFor(t.TempDir()), func(o *postgres.Options) {
		o.ReadDSN = standby.DSN("")
		o.MaxConns = 2
	})
	ctx := timeout(t, 2*time.Minute)
	const writers, each = 32, 10
	errs := make(chan error, writers)
	for w := range writers {
		go func() {
			for i := range each {
				if _, err := s.SaveEvent(ctx, ev(fmt.Sprintf("w%d-%d", w, i), 1, `{}`)); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range writers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.QueryEvents(ctx, trove.EventQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != writers*each {
		t.Fatalf("%d events stored, want %d", len(got), writers*each)
	}
}
