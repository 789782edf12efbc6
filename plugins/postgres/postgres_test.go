package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/trovedb/trove"
	"github.com/trovedb/trove/plugins/postgres"
)

var testSchema = trove.MustSchema(`{"$id":"pg-test+v1","type":"object"}`)

// newStore opens and initializes a store in schema, shut down at cleanup.
func newStore(t testing.TB, schema string, change ...func(*postgres.Options)) *postgres.Store {
	t.Helper()
	s := open(t, schema, change...)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.Initialize(ctx, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return s
}

func ev(id string, version int, payload string) trove.Event {
	return trove.Event{ID: trove.EventID{ID: id, Version: version}, Schema: testSchema, Payload: json.RawMessage(payload)}
}

func timeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// conn is a plain connection to the test database.
func conn(t testing.TB) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(timeout(t, time.Minute), testDSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// checkDense reads every event of s in position order and fails unless the
// positions are 1…n and each id+version appears once; it returns n.
func checkDense(t testing.TB, s *postgres.Store) int {
	t.Helper()
	all, err := s.QueryEvents(timeout(t, time.Minute), trove.EventQuery{AllVersions: true})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[trove.EventID]bool{}
	for i, e := range all {
		if e.Position != uint64(i+1) {
			t.Fatalf("event %d has position %d: positions are not dense", i+1, e.Position)
		}
		if seen[e.ID] {
			t.Fatalf("event %s stored twice", e.ID)
		}
		seen[e.ID] = true
	}
	return len(all)
}

func TestOptionsInvalid(t *testing.T) {
	for name, o := range map[string]postgres.Options{
		"schema with a quote": {Schema: `x"; DROP TABLE y`},
		"schema upper case":   {Schema: "Trove"},
		"notify":              {Notify: "maybe"},
		"negative maxConns":   {MaxConns: -1},
		"negative retries":    {Retries: -1},
		"too many retries":    {Retries: postgres.MaxRetries + 1},
		"bad dsn":             {DSN: "postgres://%zz"},
	} {
		if _, err := postgres.New(o); !errors.Is(err, trove.ErrInvalid) {
			t.Errorf("%s: New = %v, want ErrInvalid", name, err)
		}
	}
	if _, err := trove.Open(context.Background(), trove.Config{Storage: trove.StorageConfig{Events: trove.PluginConfig{
		Plugin: postgres.Name, Options: json.RawMessage(`{"dsn":"` + testDSN + `","shema":"x"}`)}}}); !errors.Is(err, trove.ErrInvalid) {
		t.Errorf("a misspelt option: %v, want ErrInvalid", err)
	}
}

// Two stores initializing at once on an empty schema both come up, and
// each migration is recorded once.
func TestMigrateConcurrently(t *testing.T) {
	schema := schemaFor(t.TempDir())
	const n = 4
	errs := make(chan error, n)
	stores := make([]*postgres.Store, n)
	for i := range stores {
		stores[i] = open(t, schema)
	}
	for _, s := range stores {
		go func() { errs <- s.Initialize(timeout(t, time.Minute), nil) }()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range stores {
		defer s.Shutdown(context.Background())
	}
	var rows, versions int
	if err := conn(t).QueryRow(context.Background(), `SELECT count(*), count(DISTINCT version) FROM `+schema+`.schema_migrations`).Scan(&rows, &versions); err != nil {
		t.Fatal(err)
	}
	if rows != versions || rows == 0 {
		t.Fatalf("schema_migrations: %d rows for %d versions", rows, versions)
	}
	if _, err := stores[0].SaveEvent(context.Background(), ev("a", 1, `{}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := stores[n-1].GetEvent(context.Background(), trove.EventID{ID: "a"}); err != nil {
		t.Fatal(err)
	}
}

// A database at a migration this build does not know is refused.
func TestMigrateRefusesNewerSchema(t *testing.T) {
	schema := schemaFor(t.TempDir())
	newStore(t, schema)
	if _, err := conn(t).Exec(context.Background(), `INSERT INTO `+schema+`.schema_migrations (version, name) VALUES (9999, 'future')`); err != nil {
		t.Fatal(err)
	}
	if err := open(t, schema).Initialize(context.Background(), nil); !errors.Is(err, trove.ErrInvalid) {
		t.Fatalf("Initialize = %v, want ErrInvalid", err)
	}
}

// 20 concurrent saves of the same id and version with different content,
// through two stores: exactly one succeeds, 19 conflict.
func TestVersionRace(t *testing.T) {
	schema := schemaFor(t.TempDir())
	stores := []*postgres.Store{newStore(t, schema), newStore(t, schema)}
	var ok, conflicts atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := stores[i%2].SaveEvent(context.Background(), ev("race", 1, fmt.Sprintf(`{"n":%d}`, i)))
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, trove.ErrConflict):
				conflicts.Add(1)
			default:
				t.Errorf("save %d: %v", i, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if ok.Load() != 1 || conflicts.Load() != 19 {
		t.Fatalf("%d saved, %d conflicts; want 1 and 19", ok.Load(), conflicts.Load())
	}
	if n := checkDense(t, stores[0]); n != 1 {
		t.Fatalf("%d events stored, want 1", n)
	}
}

// A slow append holds its transaction open; a fast one from another store
// waits for it; no reader or subscriber gets past the slow one until it
// commits, then both are read in order.
func TestSlowAppendHoldsReaders(t *testing.T) {
	schema := schemaFor(t.TempDir())
	slow := open(t, schema)
	inside, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	postgres.SetBeforeCommit(slow, func(ctx context.Context, tx *pgxpool.Conn) error {
		once.Do(func() {
			close(inside)
			<-release
		})
		return nil
	})
	if err := slow.Initialize(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	defer slow.Shutdown(context.Background())
	fast := newStore(t, schema)
	reader := newStore(t, schema)

	got := make(chan trove.Event, 10)
	sctx, stop := context.WithCancel(context.Background())
	defer stop()
	go reader.Subscribe(sctx, 0, func(e trove.Event) error { got <- e; return nil })

	slowDone := make(chan error, 1)
	go func() { _, err := slow.SaveEvent(context.Background(), ev("slow", 1, `{}`)); slowDone <- err }()
	<-inside // the slow append has written position 1 and holds the head
	fastDone := make(chan error, 1)
	go func() { _, err := fast.SaveEvent(context.Background(), ev("fast", 1, `{}`)); fastDone <- err }()

	// The fast append waits on the head row's lock: it is seen waiting.
	c := conn(t)
	for {
		var waiting int
		if err := c.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%FROM head%FOR UPDATE%'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	all, err := reader.QueryEvents(context.Background(), trove.EventQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 0 {
		t.Fatalf("a reader sees %d events while the first append is uncommitted", len(all))
	}
	select {
	case e := <-got:
		t.Fatalf("a subscriber got %s before the first append committed", e.ID)
	case err := <-fastDone:
		t.Fatalf("the fast append returned (%v) while the slow one held the head", err)
	default:
	}
	close(release)
	if err := <-slowDone; err != nil {
		t.Fatal(err)
	}
	if err := <-fastDone; err != nil {
		t.Fatal(err)
	}
	first, second := <-got, <-got
	if first.ID.ID != "slow" || first.Position != 1 || second.ID.ID != "fast" || second.Position != 2 {
		t.Fatalf("subscriber got %s@%d then %s@%d, want slow@1 then fast@2", first.ID.ID, first.Position, second.ID.ID, second.Position)
	}
}

// Appends that fail after taking positions — an error inside the
// transaction, the client's connection killed mid-transaction — leave no
// hole.
func TestFailedAppendLeavesNoHole(t *testing.T) {
	schema := schemaFor(t.TempDir())
	s := open(t, schema)
	var mode atomic.Value
	mode.Store("")
	admin := conn(t)
	postgres.SetBeforeCommit(s, func(ctx context.Context, tx *pgxpool.Conn) error {
		switch mode.Swap("") {
		case "fail":
			// A constraint error: a second row at a taken position.
			_, err := tx.Exec(ctx, `INSERT INTO events (position, id, version, latest, created_ms, producer, schema_id, schema_pk, payload)
SELECT position, id || 'x', version, latest, created_ms, producer, schema_id, schema_pk, payload FROM events ORDER BY position DESC LIMIT 1`)
			return err
		case "kill":
			var pid int
			if err := tx.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
				return err
			}
			if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend($1)`, pid); err != nil {
				return err
			}
		}
		return nil
	})
	if err := s.Initialize(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	ctx := context.Background()
	if _, err := s.SaveEvent(ctx, ev("a", 1, `{}`)); err != nil {
		t.Fatal(err)
	}
	mode.Store("fail")
	if _, err := s.SaveEvents(ctx, []trove.Event{ev("b", 1, `{}`), ev("c", 1, `{}`)}); err == nil {
		t.Fatal("the failing append succeeded")
	}
	// The killed transaction's request is tried again on a new
	// connection, and saved once.
	mode.Store("kill")
	if _, err := s.SaveEvents(ctx, []trove.Event{ev("d", 1, `{}`), ev("e", 1, `{}`)}); err != nil {
		t.Logf("the append whose connection was killed: %v", err)
	}
	e, err := s.SaveEvent(ctx, ev("f", 1, `{}`))
	if err != nil {
		t.Fatal(err)
	}
	n := checkDense(t, s)
	if int(e.Position) != n {
		t.Fatalf("the last save got position %d of %d", e.Position, n)
	}
	if _, err := s.GetEvent(ctx, trove.EventID{ID: "b"}); !errors.Is(err, trove.ErrNotFound) {
		t.Fatalf("an event of the failed append is there: %v", err)
	}
}

// A subscriber on one store receives the events another store appends:
// with notify on (through NOTIFY, the poll tick set out of reach), and
// with notify off (through polling).
func TestSubscribeAcrossStores(t *testing.T) {
	for _, notify := range []string{"on", "off"} {
		t.Run("notify "+notify, func(t *testing.T) {
			schema := schemaFor(t.TempDir())
			sub := newStore(t, schema, func(o *postgres.Options) {
				o.Notify = notify
				if notify == "on" {
					o.PollMS = 3600 * 1000
				}
			})
			<-postgres.Listening(sub)
			writer := newStore(t, schema, func(o *postgres.Options) { o.Notify = notify })
			got := make(chan trove.Event, 100)
			ctx, stop := context.WithCancel(context.Background())
			defer stop()
			go sub.Subscribe(ctx, 0, func(e trove.Event) error { got <- e; return nil })
			for i := 1; i <= 5; i++ {
				if _, err := writer.SaveEvent(context.Background(), ev("e"+strconv.Itoa(i), 1, `{}`)); err != nil {
					t.Fatal(err)
				}
				if e := <-got; e.Position != uint64(i) {
					t.Fatalf("got position %d, want %d", e.Position, i)
				}
			}
		})
	}
}

// The LISTEN connection killed during a subscription (pg_terminate_backend)
// reconnects and listens again: the subscriber, whose poll tick is out of
// reach, still receives every event.
func TestListenReconnects(t *testing.T) {
	schema := schemaFor(t.TempDir())
	sub := newStore(t, schema, func(o *postgres.Options) { o.PollMS = 3600 * 1000 })
	<-postgres.Listening(sub)
	writer := newStore(t, schema)
	<-postgres.Listening(writer)
	got := make(chan trove.Event, 100)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go sub.Subscribe(ctx, 0, func(e trove.Event) error { got <- e; return nil })
	c := conn(t)
	listeners := func() []int {
		rows, err := c.Query(context.Background(), `SELECT pid FROM pg_stat_activity WHERE query LIKE 'LISTEN %' AND pid <> pg_backend_pid()`)
		if err != nil {
			t.Fatal(err)
		}
		pids, err := pgx.CollectRows(rows, pgx.RowTo[int])
		if err != nil {
			t.Fatal(err)
		}
		return pids
	}
	for round := 1; round <= 3; round++ {
		old := listeners()
		if len(old) != 2 {
			t.Fatalf("%d LISTEN connections, want 2 (one a store)", len(old))
		}
		for _, pid := range old {
			if _, err := c.Exec(context.Background(), `SELECT pg_terminate_backend($1)`, pid); err != nil {
				t.Fatal(err)
			}
		}
		// Wait until both stores listen again on new connections.
		for {
			now := listeners()
			if len(now) == 2 && now[0] != old[0] && now[0] != old[1] && now[1] != old[0] && now[1] != old[1] {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if _, err := writer.SaveEvent(context.Background(), ev("e"+strconv.Itoa(round), 1, `{}`)); err != nil {
			t.Fatal(err)
		}
		if e := <-got; e.Position != uint64(round) {
			t.Fatalf("got position %d, want %d", e.Position, round)
		}
	}
}

// soakDuration is how long TestSoak runs: TROVE_PG_SOAK (a Go duration)
// when set, else two seconds.
func soakDuration(t *testing.T) time.Duration {
	if v := os.Getenv("TROVE_PG_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("TROVE_PG_SOAK: %v", err)
		}
		return d
	}
	return 2 * time.Second
}

// 16 appenders (single saves and batches, through two stores) and 4
// tailing subscribers: every subscriber sees positions 1, 2, 3, … with no
// gap and as many events as are stored.
func TestSoak(t *testing.T) {
	schema := schemaFor(t.TempDir())
	stores := []*postgres.Store{newStore(t, schema), newStore(t, schema, func(o *postgres.Options) { o.Notify = "off" })}
	ctx, stop := context.WithTimeout(context.Background(), soakDuration(t))
	defer stop()
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := stores[w%2]
			for i := 0; ctx.Err() == nil; i++ {
				var err error
				if w%4 == 0 {
					batch := make([]trove.Event, 1+i%50)
					for j := range batch {
						batch[j] = ev(fmt.Sprintf("w%d-%d-%d", w, i, j), 1, `{"k":1}`)
					}
					_, err = s.SaveEvents(context.Background(), batch)
				} else {
					_, err = s.SaveEvent(context.Background(), ev(fmt.Sprintf("w%d-%d", w, i), 1, `{"k":2}`))
				}
				if err != nil {
					t.Errorf("appender %d: %v", w, err)
					return
				}
			}
		}()
	}
	type seen struct {
		last  atomic.Uint64
		count atomic.Int64
	}
	subs := make([]*seen, 4)
	sctx, cancelSubs := context.WithCancel(context.Background())
	defer cancelSubs()
	var sw sync.WaitGroup
	for i := range subs {
		subs[i] = &seen{}
		sw.Add(1)
		go func() {
			defer sw.Done()
			sn := subs[i]
			err := stores[i%2].Subscribe(sctx, 0, func(e trove.Event) error {
				if last := sn.last.Load(); e.Position != last+1 {
					return fmt.Errorf("position %d after %d", e.Position, last)
				}
				sn.last.Store(e.Position)
				sn.count.Add(1)
				return nil
			})
			if !errors.Is(err, context.Canceled) {
				t.Errorf("subscriber %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	stored := checkDense(t, stores[0])
	// Every subscriber reaches the head (or has failed).
	for i, sn := range subs {
		for sn.last.Load() < uint64(stored) && !t.Failed() {
			time.Sleep(10 * time.Millisecond)
		}
		if n := sn.count.Load(); n != int64(stored) {
			t.Errorf("subscriber %d saw %d events, %d are stored", i, n, stored)
		}
	}
	cancelSubs()
	sw.Wait()
	t.Logf("%d events in %v", stored, soakDuration(t))
}

// The server stopped with pg_ctl stop -m immediate (a crash) under load,
// then started again: every acknowledged event is there, once, and
// positions are dense; the store keeps working on new connections.
func TestServerCrashUnderLoad(t *testing.T) {
	schema := schemaFor(t.TempDir())
	s := newStore(t, schema)
	var mu sync.Mutex
	var acked []string
	var count atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var ids []string
				var err error
				if w%2 == 0 {
					batch := make([]trove.Event, 10)
					for j := range batch {
						batch[j] = ev(fmt.Sprintf("w%d-%d-%d", w, i, j), 1, `{}`)
						ids = append(ids, batch[j].ID.ID)
					}
					_, err = s.SaveEvents(context.Background(), batch)
				} else {
					id := fmt.Sprintf("w%d-%d", w, i)
					ids = append(ids, id)
					_, err = s.SaveEvent(context.Background(), ev(id, 1, `{}`))
				}
				if err != nil {
					return // the server is gone
				}
				mu.Lock()
				acked = append(acked, ids...)
				mu.Unlock()
				count.Add(int64(len(ids)))
			}
		}()
	}
	for count.Load() < 300 {
		time.Sleep(5 * time.Millisecond)
	}
	if err := server.Stop("immediate"); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	after := newStore(t, schema)
	n := checkDense(t, after)
	for _, id := range acked {
		if _, err := after.GetEvent(context.Background(), trove.EventID{ID: id}); err != nil {
			t.Fatalf("acknowledged event %s: %v", id, err)
		}
	}
	// The first store's pool drops its dead connections and goes on.
	var e trove.Event
	var err error
	for range 10 {
		if e, err = s.SaveEvent(context.Background(), ev("after", 1, `{}`)); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("saving after the restart: %v", err)
	}
	if e.Position != uint64(n+1) {
		t.Fatalf("saved at %d after %d events", e.Position, n)
	}
	t.Logf("%d acknowledged, %d stored", len(acked), n)
}

// A save whose caller gives up while it waits behind a held append returns
// the context's error at once, and is not saved when its caller had gone
// before its transaction began.
func TestSaveGivesUpWithItsContext(t *testing.T) {
	schema := schemaFor(t.TempDir())
	s := open(t, schema)
	inside, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	postgres.SetBeforeCommit(s, func(ctx context.Context, tx *pgxpool.Conn) error {
		once.Do(func() {
			close(inside)
			<-release
		})
		return nil
	})
	if err := s.Initialize(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	first := make(chan error, 1)
	go func() { _, err := s.SaveEvent(context.Background(), ev("first", 1, `{}`)); first <- err }()
	<-inside
	ctx, cancel := context.WithCancel(context.Background())
	second := make(chan error, 1)
	go func() { _, err := s.SaveEvent(ctx, ev("second", 1, `{}`)); second <- err }()
	cancel()
	if err := <-second; !errors.Is(err, context.Canceled) {
		t.Fatalf("the abandoned save returned %v, want context.Canceled", err)
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if _, err := s.SaveEvent(context.Background(), ev("third", 1, `{}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetEvent(context.Background(), trove.EventID{ID: "second"}); !errors.Is(err, trove.ErrNotFound) {
		t.Fatalf("the abandoned save was stored: %v", err)
	}
	if n := checkDense(t, s); n != 2 {
		t.Fatalf("%d events, want 2", n)
	}
}

// A group planned ahead of the head lock whose read another store's
// append overtook is appended again under the lock: a version taken
// meanwhile is a conflict, or the stored event when it is the same; the
// overtaking append keeps its position and no position is lost.
func TestStalePlanAppendedUnderLock(t *testing.T) {
	schema := schemaFor(t.TempDir())
	a, b := open(t, schema), newStore(t, schema)
	var overtake atomic.Value // the event b saves once a's plan is made, or nil
	planned := atomic.Int32{}
	postgres.SetAheadPlanned(a, func() {
		planned.Add(1)
		if e, ok := overtake.Swap(trove.Event{}).(trove.Event); ok && e.ID.ID != "" {
			if _, err := b.SaveEvent(context.Background(), e); err != nil {
				t.Errorf("the overtaking save: %v", err)
			}
		}
	})
	ctx := timeout(t, time.Minute)
	if err := a.Initialize(ctx, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Shutdown(context.Background()) })
	// The first save writes the schema document: locked path.
	if _, err := a.SaveEvent(ctx, ev("s", 1, `{}`)); err != nil {
		t.Fatal(err)
	}
	if planned.Load() != 0 {
		t.Fatal("a group with a new schema document was planned ahead")
	}
	// A first version is planned without reading: a stored one is found
	// by the unique index, then answered under the lock (here an
	// idempotent retry).
	got, err := a.SaveEvent(ctx, ev("s", 1, `{}`))
	if err != nil || got.Position != 1 {
		t.Fatalf("retry of s v1: %v at %d, want position 1", err, got.Position)
	}
	// Version 1 of u saved by b meanwhile, with another payload.
	overtake.Store(ev("u", 1, `{"by":"b"}`))
	if _, err := a.SaveEvent(ctx, ev("u", 1, `{"by":"a"}`)); !errors.Is(err, trove.ErrConflict) {
		t.Fatalf("u v1 taken meanwhile: %v, want ErrConflict", err)
	}
	// Version 2 taken by b meanwhile, with another payload: a conflict.
	overtake.Store(ev("s", 2, `{"by":"b"}`))
	if _, err := a.SaveEvent(ctx, ev("s", 2, `{"by":"a"}`)); !errors.Is(err, trove.ErrConflict) {
		t.Fatalf("version 2 taken meanwhile: %v, want ErrConflict", err)
	}
	// Version 3 taken by b meanwhile, the same event: its idempotent retry.
	overtake.Store(ev("s", 3, `{"same":true}`))
	got, err = a.SaveEvent(ctx, ev("s", 3, `{"same":true}`))
	if err != nil {
		t.Fatal(err)
	}
	if got.Position != 4 || got.ID.Version != 3 {
		t.Fatalf("the retry answered %s at %d, want version 3 at 4", got.ID, got.Position)
	}
	// Nothing overtakes: the plan is written as made.
	got, err = a.SaveEvent(ctx, ev("t", 1, `{}`))
	if err != nil {
		t.Fatal(err)
	}
	if got.Position != 5 {
		t.Fatalf("t at %d, want 5", got.Position)
	}
	if planned.Load() != 5 {
		t.Fatalf("%d groups planned ahead, want 5", planned.Load())
	}
	latest, err := a.GetEvent(ctx, trove.EventID{ID: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if latest.ID.Version != 3 || string(latest.Payload) != `{"same":true}` {
		t.Fatalf("latest of s: %s %s", latest.ID, latest.Payload)
	}
	all, err := a.QueryEvents(ctx, trove.EventQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 { // latest versions only: u, s v3 and t
		t.Fatalf("%d latest versions, want 3", len(all))
	}
	if n := checkDense(t, a); n != 5 {
		t.Fatalf("%d events, want 5", n)
	}
}
