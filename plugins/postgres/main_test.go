package postgres_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"testing"

	"github.com/trovedb/trove/internal/testservices"
	"github.com/trovedb/trove/plugins/postgres"
)

// server is the PostgreSQL every test of the package uses (nil in a crash
// child, which uses its parent's); each store gets a schema of its own.
var server *testservices.Postgres

// testDSN is the database of the tests; children of crash tests find it in
// the environment variable dsnEnv.
var testDSN string

const dsnEnv = "TROVE_POSTGRES_TEST_DSN"

func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) != "" {
		testDSN = os.Getenv(dsnEnv)
		os.Exit(m.Run())
	}
	var err error
	server, err = testservices.StartPostgres()
	if err != nil {
		fmt.Fprintln(os.Stderr, "postgres tests: cannot start PostgreSQL:", err)
		os.Exit(1)
	}
	testDSN = server.DSN("")
	os.Setenv(dsnEnv, testDSN)
	code := m.Run()
	server.Remove()
	os.Exit(code)
}

// schemaFor names the schema of a store on dir: the same dir, the same
// schema.
func schemaFor(dir string) string {
	sum := sha256.Sum256([]byte(dir))
	return "t_" + hex.EncodeToString(sum[:10])
}

// open makes (not initializes) a store in schema.
func open(t testing.TB, schema string, change ...func(*postgres.Options)) *postgres.Store {
	t.Helper()
	o := postgres.Options{DSN: testDSN, Schema: schema, MaxConns: 4}
	for _, c := range change {
		c(&o)
	}
	s, err := postgres.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
