package testservices

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresVersion is the PostgreSQL major version looked for first.
const PostgresVersion = "15"

// PostgresUser is the database superuser of a server started here; every
// connection is trusted on loopback.
const PostgresUser = "trove"

// PostgresWriteSettings are the server settings storage-postgres
// recommends for a write-heavy store (plugins/postgres/SCHEMA.md, "Server
// settings"), in postgresql.conf form; servers started here use them.
// Durability is unchanged: fsync, synchronous_commit and full_page_writes
// stay on. WAL buffers hold a whole batch's WAL (a 1,000-event append
// writes about 2.6 MB; with the default 4 MB a backend often had to
// write WAL itself before its commit); checkpoints come less often, so
// fewer pages are logged whole after each one; those full-page images
// are compressed.
const PostgresWriteSettings = `
wal_buffers = 64MB
max_wal_size = 4GB
checkpoint_timeout = 15min
wal_compression = lz4
`

// Postgres is one PostgreSQL server run from a temporary directory: a
// primary made by initdb, or a hot standby made by pg_basebackup -R.
type Postgres struct {
	Bin     string // the directory holding initdb, pg_ctl, pg_basebackup
	Dir     string // the temporary directory: data/ and server.log
	DataDir string
	Port    int
	runAs   *user.User // nil: run the server as this process's user

	mu     sync.Mutex
	exited chan struct{} // closed when the running postmaster exited; nil when none runs
}

// StartPostgres initializes a new cluster in a temporary directory and
// starts it on a free loopback port with fsync on. When this process runs
// as root, the server runs as the unprivileged "postgres" user (created when
// missing), since PostgreSQL refuses to run as root. Stop it with Remove.
func StartPostgres() (*Postgres, error) {
	p, err := newPostgres()
	if err != nil {
		return nil, err
	}
	if err := p.run("initdb", "-D", p.DataDir, "-U", PostgresUser, "--auth=trust", "-E", "UTF8", "--locale=C"); err != nil {
		p.Remove()
		return nil, err
	}
	conf := fmt.Sprintf(`
listen_addresses = '127.0.0.1'
port = %d
unix_socket_directories = '%s'
fsync = on
synchronous_commit = on
max_connections = 300
shared_buffers = 128MB
wal_level = replica
max_wal_senders = 10
hot_standby = on
`, p.Port, p.Dir) + PostgresWriteSettings
	if err := p.appendConf(conf + "\nhost replication all 127.0.0.1/32 trust\n"); err != nil {
		p.Remove()
		return nil, err
	}
	if err := p.Start(); err != nil {
		p.Remove()
		return nil, err
	}
	return p, nil
}

// StartStandby makes a hot standby of p with pg_basebackup -R (streaming
// replication from p) and starts it on a port of its own.
func (p *Postgres) StartStandby() (*Postgres, error) {
	s, err := newPostgres()
	if err != nil {
		return nil, err
	}
	if err := s.run("pg_basebackup", "-h", "127.0.0.1", "-p", strconv.Itoa(p.Port), "-U", PostgresUser,
		"-D", s.DataDir, "-R", "-X", "stream", "-c", "fast"); err != nil {
		s.Remove()
		return nil, err
	}
	if err := s.appendConf(fmt.Sprintf("\nport = %d\nunix_socket_directories = '%s'\n", s.Port, s.Dir)); err != nil {
		s.Remove()
		return nil, err
	}
	if err := s.Start(); err != nil {
		s.Remove()
		return nil, err
	}
	return s, nil
}

func newPostgres() (*Postgres, error) {
	bin, err := postgresBin()
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "trove-pg-")
	if err != nil {
		return nil, err
	}
	p := &Postgres{Bin: bin, Dir: dir, DataDir: filepath.Join(dir, "data"), Port: port}
	if os.Geteuid() == 0 {
		u, err := postgresOSUser()
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		p.runAs = u
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	if err := p.mkdirOwned(p.DataDir); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return p, nil
}

// mkdirOwned creates dir (0700) owned by the server's user.
func (p *Postgres) mkdirOwned(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil {
		return err
	}
	if p.runAs == nil {
		return nil
	}
	uid, _ := strconv.Atoi(p.runAs.Uid)
	gid, _ := strconv.Atoi(p.runAs.Gid)
	return os.Chown(dir, uid, gid)
}

func (p *Postgres) appendConf(text string) error {
	conf := filepath.Join(p.DataDir, "postgresql.conf")
	hba := filepath.Join(p.DataDir, "pg_hba.conf")
	var settings, rules []string
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "host ") {
			rules = append(rules, line)
		} else {
			settings = append(settings, line)
		}
	}
	add := func(path string, lines []string) error {
		f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		_, err = f.WriteString(strings.Join(lines, "\n") + "\n")
		return errors.Join(err, f.Close())
	}
	if err := add(conf, settings); err != nil {
		return err
	}
	if len(rules) > 0 {
		return add(hba, rules)
	}
	return nil
}

// Start starts the server (again) and waits until it accepts
// connections. The postmaster is a child of this process, run as the
// server's user, and gets SIGQUIT (immediate shutdown) when this process
// dies, so a crashed or killed test run leaves no server behind.
func (p *Postgres) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exited != nil {
		return nil
	}
	log, err := os.OpenFile(filepath.Join(p.Dir, "server.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := exec.Command(filepath.Join(p.Bin, "postgres"), "-D", p.DataDir)
	cmd.Dir = p.Dir
	cmd.Env = append(cleanEnv(), "LC_ALL=C")
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = serverProcAttr(p.runAs)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("testservices: postgres: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, p.DSN(""))
		cancel()
		if err == nil {
			conn.Close(context.Background())
			break
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(filepath.Join(p.Dir, "server.log"))
			return fmt.Errorf("testservices: postgres exited at start\nserver log:\n%s", tail(b, 4000))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			b, _ := os.ReadFile(filepath.Join(p.Dir, "server.log"))
			return fmt.Errorf("testservices: postgres does not accept connections after a minute: %v\nserver log:\n%s", err, tail(b, 4000))
		}
	}
	p.exited = exited
	return nil
}

// Stop stops the server with pg_ctl; mode is its -m: "fast" or
// "immediate" (a crash: no checkpoint, recovery at the next start).
func (p *Postgres) Stop(mode string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exited == nil {
		return nil
	}
	if err := p.run("pg_ctl", "stop", "-w", "-t", "60", "-D", p.DataDir, "-m", mode); err != nil {
		return err
	}
	<-p.exited
	p.exited = nil
	return nil
}

// Remove stops the server and deletes its directory.
func (p *Postgres) Remove() {
	_ = p.Stop("fast")
	os.RemoveAll(p.Dir)
}

// DSN is a connection string for database db (empty: "postgres") as the
// superuser.
func (p *Postgres) DSN(db string) string {
	if db == "" {
		db = "postgres"
	}
	return fmt.Sprintf("host=127.0.0.1 port=%d user=%s dbname=%s sslmode=disable", p.Port, PostgresUser, db)
}

// CreateDatabase creates database name (ignoring that it exists) and
// returns its DSN.
func (p *Postgres) CreateDatabase(ctx context.Context, name string) (string, error) {
	conn, err := pgx.Connect(ctx, p.DSN(""))
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return "", err
	}
	if !exists {
		if _, err := conn.Exec(ctx, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize()); err != nil {
			return "", err
		}
	}
	return p.DSN(name), nil
}

// run runs one of the server programs, as the server's user.
func (p *Postgres) run(prog string, args ...string) error {
	path := filepath.Join(p.Bin, prog)
	var cmd *exec.Cmd
	if p.runAs != nil {
		cmd = exec.Command("runuser", append([]string{"-u", p.runAs.Username, "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	cmd.Dir = p.Dir
	cmd.Env = append(cleanEnv(), "LC_ALL=C")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("testservices: %s: %w", prog, err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("testservices: %s %s: %w\n%s", prog, strings.Join(args, " "), err, tail(out.Bytes(), 4000))
		}
		return nil
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		return fmt.Errorf("testservices: %s: timed out\n%s", prog, tail(out.Bytes(), 4000))
	}
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// postgresBin finds the directory of initdb and pg_ctl: PATH first (through
// symlinks), then /usr/lib/postgresql/<version>/bin, PostgresVersion
// preferred, else the newest installed.
func postgresBin() (string, error) {
	if path, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(path); err == nil {
			path = real
		}
		dir := filepath.Dir(path)
		if _, err := os.Stat(filepath.Join(dir, "pg_ctl")); err == nil {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi > vj
	})
	preferred := filepath.Join("/usr/lib/postgresql", PostgresVersion, "bin")
	for _, d := range append([]string{preferred}, dirs...) {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("testservices: PostgreSQL server programs (initdb, pg_ctl) not found on PATH or in /usr/lib/postgresql/*/bin; install Debian's postgresql package (scripts/test does)")
}

// postgresOSUser returns the unprivileged user the server runs as when this
// process is root: "postgres", created as a system user when missing.
func postgresOSUser() (*user.User, error) {
	u, err := user.Lookup("postgres")
	if err == nil {
		return u, nil
	}
	out, cerr := exec.Command("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "postgres").CombinedOutput()
	if cerr != nil {
		return nil, fmt.Errorf("testservices: no user postgres to run PostgreSQL as (it refuses root), and useradd failed: %v: %s", cerr, out)
	}
	return user.Lookup("postgres")
}
