package testservices

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestPostgres(t *testing.T) {
	p, err := StartPostgres()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Remove()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, p.DSN(""))
	if err != nil {
		t.Fatal(err)
	}
	var fsync, version string
	if err := conn.QueryRow(ctx, `SELECT current_setting('fsync'), current_setting('server_version_num')`).Scan(&fsync, &version); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	if fsync != "on" {
		t.Errorf("fsync = %s, want on", fsync)
	}
	t.Logf("server version %s", version)
	if err := p.Stop("immediate"); err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	dsn, err := p.CreateDatabase(ctx, "other")
	if err != nil {
		t.Fatal(err)
	}
	conn, err = pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
}
