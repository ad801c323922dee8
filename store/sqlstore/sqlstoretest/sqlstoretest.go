// Package sqlstoretest gives tests an empty database of each kind
// sqlstore supports: a SQLite file in a temporary directory, and a fresh
// schema on the PostgreSQL server named by TRYST_TEST_POSTGRES_URL.
package sqlstoretest

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver
)

// SQLiteURL returns the URL of a new SQLite database in t's temporary
// directory.
func SQLiteURL(t testing.TB) string {
	t.Helper()
	return "sqlite://" + filepath.Join(t.TempDir(), "tryst.db")
}

// PostgresURL returns the URL of TRYST_TEST_POSTGRES_URL's server with a
// fresh, empty schema first on the search_path; the schema is dropped at
// cleanup. The test is skipped when the variable is unset, unless
// TRYST_TEST_REQUIRE_SERVICES=1, which makes that a failure.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("TRYST_TEST_POSTGRES_URL")
	if base == "" {
		if os.Getenv("TRYST_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatal("TRYST_TEST_POSTGRES_URL is unset but TRYST_TEST_REQUIRE_SERVICES=1")
		}
		t.Skip("set TRYST_TEST_POSTGRES_URL to run")
	}
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	b := make([]byte, 8)
	rand.Read(b)
	schema := "tryst_test_" + hex.EncodeToString(b)
	if _, err := db.ExecContext(t.Context(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("creating test schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := db.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			t.Errorf("dropping test schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
