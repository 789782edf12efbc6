package testservices

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
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

// A test process killed with SIGKILL leaves no server running: the
// postmaster gets SIGQUIT when its parent dies.
func TestPostgresDiesWithItsProcess(t *testing.T) {
	if os.Getenv("TESTSERVICES_PG_CHILD") != "" {
		p, err := StartPostgres()
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println("datadir", p.DataDir)
		select {}
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestPostgresDiesWithItsProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "TESTSERVICES_PG_CHILD=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var dataDir string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "datadir "); ok {
			dataDir = d
			break
		}
		if strings.HasPrefix(sc.Text(), "error") {
			t.Fatal(sc.Text())
		}
	}
	if dataDir == "" {
		t.Fatal("the child started no server")
	}
	defer os.RemoveAll(filepath.Dir(dataDir))
	pidText, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.SplitN(string(pidText), "\n", 2)[0])
	if err != nil {
		t.Fatal(err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	deadline := time.Now().Add(time.Minute)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("postmaster %d still runs a minute after its test process died", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
