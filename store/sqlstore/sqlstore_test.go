package sqlstore_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/trystgw/tryst/ntf"
	"github.com/trystgw/tryst/ntf/ntftest"
	"github.com/trystgw/tryst/store/sqlstore"
	"github.com/trystgw/tryst/store/sqlstore/sqlstoretest"
)

// backends names each database kind with a way to get an empty one.
var backends = []struct {
	name string
	url  func(testing.TB) string
}{
	{"SQLite", sqlstoretest.SQLiteURL},
	{"Postgres", sqlstoretest.PostgresURL},
}

func open(t *testing.T, url string) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.Open(t.Context(), url)
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestTokenStore(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ntftest.TestTokenStore(t, func(t *testing.T) ntf.TokenStore { return open(t, b.url(t)).Tokens() })
		})
	}
}

// TestMigrateConcurrently starts several instances on one empty database
// at once: all must come up, and the schema must be applied once.
func TestMigrateConcurrently(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			url := b.url(t)
			var wg sync.WaitGroup
			for range 4 {
				wg.Go(func() {
					db, err := sqlstore.Open(context.Background(), url)
					if err != nil {
						t.Errorf("concurrent Open = %v", err)
						return
					}
					db.Close()
				})
			}
			wg.Wait()
			db := open(t, url)
			files, err := os.ReadDir("migrations")
			if err != nil {
				t.Fatal(err)
			}
			var n int
			if err := db.SQL().QueryRow("SELECT COUNT(*) FROM schema_migrations").Scan(&n); err != nil || n != len(files) {
				t.Errorf("schema_migrations rows = %d, %v; want one per migration, %d", n, err, len(files))
			}
		})
	}
}

// TestRefuseNewerSchema checks that a binary does not run on a database
// a newer binary migrated.
func TestRefuseNewerSchema(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			url := b.url(t)
			db := open(t, url)
			if _, err := db.SQL().Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future', 0)"); err != nil {
				t.Fatal(err)
			}
			_, err := sqlstore.Open(t.Context(), url)
			if err == nil || !strings.Contains(err.Error(), "upgrade tryst") {
				t.Errorf("Open(newer schema) = %v, want a refusal", err)
			}
		})
	}
}

func TestOpenBadURL(t *testing.T) {
	for _, url := range []string{"", "mysql://x", "sqlite://"} {
		if _, err := sqlstore.Open(t.Context(), url); err == nil {
			t.Errorf("Open(%q) succeeded, want an error", url)
		}
	}
}

// TestDeleteInactiveUsesIndex checks the plan SQLite makes for the expiry
// delete: it finds its rows through the partial index, never by scanning
// the table, so a sweep costs in proportion to what it deletes.
func TestDeleteInactiveUsesIndex(t *testing.T) {
	db := open(t, sqlstoretest.SQLiteURL(t))
	rows, err := db.SQL().QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+sqlstore.DeleteInactiveSQL, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	joined := strings.Join(plan, "\n")
	if !strings.Contains(joined, "tokens_inactive_updated_at") || strings.Contains(joined, "SCAN tokens\n") || strings.HasSuffix(joined, "SCAN tokens") {
		t.Errorf("expiry delete plan:\n%s\nwant a search through tokens_inactive_updated_at and no table scan", joined)
	}
	t.Logf("plan:\n%s", joined)
}

// TestDeleteInactiveCanUseIndexOnPostgres checks that PostgreSQL can
// answer the expiry delete from the partial index: with sequential scans
// priced out (a test table is too small for the planner to prefer an
// index by itself), the plan names it.
func TestDeleteInactiveCanUseIndexOnPostgres(t *testing.T) {
	db := open(t, sqlstoretest.PostgresURL(t))
	tx, err := db.SQL().BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(t.Context(), "SET LOCAL enable_seqscan = off"); err != nil {
		t.Fatal(err)
	}
	rows, err := tx.QueryContext(t.Context(), "EXPLAIN "+sqlstore.DeleteInactiveSQL, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, line)
	}
	if joined := strings.Join(plan, "\n"); !strings.Contains(joined, "tokens_inactive_updated_at") {
		t.Errorf("expiry delete plan:\n%s\nwant tokens_inactive_updated_at", joined)
	}
}

// TestSQLiteFilesOwnerOnly checks that the database and its -wal and -shm
// files, which hold device tokens, are 0600, created new in a directory
// others may read, and when an older version left them 0644.
func TestSQLiteFilesOwnerOnly(t *testing.T) {
	defer syscall.Umask(syscall.Umask(0o022)) // the common umask, whatever this process has
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "tryst.db")
	for round := range 2 {
		db, err := sqlstore.Open(t.Context(), "sqlite://"+path)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Tokens().Create(t.Context(), ntftest.NewToken(round)); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			fi, err := os.Stat(p)
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("round %d: %s mode = %v, %v; want 0600", round, filepath.Base(p), fi.Mode().Perm(), err)
			}
		}
		db.Close()
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			os.Chmod(p, 0o644) // as an older version left them
		}
	}
}

// TestHoldsSealedSecrets checks the question serve asks before it would
// generate a master key: no on a fresh database (whatever rows the store
// keeps for itself), yes once a token is stored.
func TestHoldsSealedSecrets(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			db := open(t, b.url(t))
			if held, err := db.HoldsSealedSecrets(t.Context()); held || err != nil {
				t.Errorf("fresh database: HoldsSealedSecrets = %v, %v; want false", held, err)
			}
			if err := db.Tokens().Create(t.Context(), ntftest.NewToken(1)); err != nil {
				t.Fatal(err)
			}
			if held, err := db.HoldsSealedSecrets(t.Context()); !held || err != nil {
				t.Errorf("with a token: HoldsSealedSecrets = %v, %v; want true", held, err)
			}
			db2 := open(t, b.url(t))
			if _, err := db2.SenderSecrets().SenderSecret(t.Context(), []byte("sealed")); err != nil {
				t.Fatal(err)
			}
			if held, err := db2.HoldsSealedSecrets(t.Context()); !held || err != nil {
				t.Errorf("with the DS sender secret: HoldsSealedSecrets = %v, %v; want true", held, err)
			}
		})
	}
}

func TestSubscriptionStore(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ntftest.TestSubscriptionStore(t, func(t *testing.T) ntftest.Stores {
				db := open(t, b.url(t))
				return ntftest.Stores{Tokens: db.Tokens(), Subscriptions: db.Subscriptions()}
			})
		})
	}
}

// TestLeaseStore runs the lease conformance suite on PostgreSQL, the one
// backend where instances share servers.
func TestLeaseStore(t *testing.T) {
	ntftest.TestLeaseStore(t, func(t *testing.T) ntftest.LeaseStores {
		db := open(t, sqlstoretest.PostgresURL(t))
		leases, err := db.Leases(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return ntftest.LeaseStores{Stores: ntftest.Stores{Tokens: db.Tokens(), Subscriptions: db.Subscriptions()}, Leases: leases}
	})
}

// TestLeasesNeedPostgres: SQLite has no leases to offer.
func TestLeasesNeedPostgres(t *testing.T) {
	if _, err := open(t, sqlstoretest.SQLiteURL(t)).Leases(t.Context()); err == nil {
		t.Error("Leases on SQLite = nil error, want a refusal")
	}
}
