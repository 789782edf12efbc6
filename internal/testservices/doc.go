// Package testservices starts the real servers that tests need, on
// loopback, and stops them when the tests are done. A service that cannot
// be installed or started fails the test (t.Fatal); it is never skipped.
//
// S3 runs versitygw (an S3-compatible gateway) with its posix backend on a
// temporary directory. The binary is looked up on PATH, then in
// $(go env GOPATH)/bin; when absent it is installed once with
// `go install github.com/versity/versitygw/cmd/versitygw@` + VersitygwVersion,
// under a file lock in os.TempDir() so that test packages running in
// parallel install it once. One server runs per test process while any test
// uses it; the last user's cleanup stops it and removes its directory.
//
// StartPostgres initializes a PostgreSQL cluster (initdb) in a temporary
// directory and starts it (pg_ctl) on a free loopback port, fsync on, trust
// authentication for the superuser PostgresUser. The server programs are
// found on PATH or under /usr/lib/postgresql/<version>/bin (Debian's
// layout). PostgreSQL refuses to run as root, so a root test process runs it
// as the "postgres" user, creating that user when missing. The postmaster is
// a child of the test process and gets SIGQUIT (immediate shutdown) when
// that process dies, so a crashed test run leaves no server behind. StartStandby
// adds a hot standby made with pg_basebackup -R. A test package usually
// starts one server in TestMain and gives each test a database or schema of
// its own.
package testservices
