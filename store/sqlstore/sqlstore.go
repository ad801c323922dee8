// Package sqlstore keeps the gateway's durable state in SQL: SQLite
// (modernc.org/sqlite, no cgo; one file, the zero-set-up default) or
// PostgreSQL (github.com/jackc/pgx/v5, for several instances), chosen by
// the database URL. Both run the same store code and, where the dialects
// agree, the same SQL.
//
// Open applies the versioned migrations embedded in the binary
// (migrations/NNNN_name.sql, each in its own transaction, recorded in
// schema_migrations). On PostgreSQL it holds an advisory lock while doing
// so, so instances starting together migrate once; on SQLite the
// database file's write lock does the same. A database migrated by a
// newer binary is refused.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	sqlitedriver "modernc.org/sqlite"  // registers the "sqlite" database/sql driver
	sqlite3 "modernc.org/sqlite/lib"
)

// dialect is what differs between the two databases.
type dialect struct {
	name string
	// forUpdate locks selected rows until the transaction ends; SQLite
	// needs none, its write transactions are exclusive.
	forUpdate string
	// skipLocked lets concurrent claimers pass over each other's rows.
	skipLocked string
}

var (
	sqlite   = dialect{name: "sqlite"}
	postgres = dialect{name: "postgres", forUpdate: " FOR UPDATE", skipLocked: " FOR UPDATE SKIP LOCKED"}
)

// Pool sizes. SQLite gets one connection: it serialises writers anyway,
// and one connection makes transactions queue in Go instead of spinning
// on SQLITE_BUSY. PostgreSQL gets enough for a busy instance without
// exhausting a shared server's max_connections (default 100), and keeps
// them all open: database/sql closes a returned connection beyond the
// idle limit, and a new PostgreSQL connection (a forked backend) costs
// milliseconds, which under steady concurrent use made every NMSG wait
// for one (NMSG-to-push p99 80–150 ms at 1,000/s with 4 idle, 27–37 ms
// with all 16).
const (
	sqliteBusyTimeout = 5 * time.Second
	postgresMaxConns  = 16
	postgresIdleConns = postgresMaxConns
	postgresConnLife  = 30 * time.Minute
)

// DB is an open database with its schema up to date. It is safe for
// concurrent use.
type DB struct {
	db      *sql.DB
	dialect dialect
}

// Open connects to the database named by url and migrates it:
//
//	sqlite:///var/lib/tryst/tryst.db   absolute path (the directory is created, mode 0700)
//	sqlite://data/tryst.db             path relative to the working directory
//	postgres://user@host:5432/db?sslmode=disable   (or postgresql://; pgx parameters apply)
//
// ctx bounds the connection and the migrations.
func Open(ctx context.Context, url string) (*DB, error) {
	d, err := open(url)
	if err != nil {
		return nil, err
	}
	if err := d.connect(ctx); err != nil {
		d.db.Close()
		return nil, fmt.Errorf("sqlstore: connecting to %s: %w", d.dialect.name, err)
	}
	if err := d.migrate(ctx); err != nil {
		d.db.Close()
		return nil, err
	}
	if err := d.insertDecoy(ctx); err != nil {
		d.db.Close()
		return nil, err
	}
	return d, nil
}

// connect opens the first connection. Switching a new SQLite file to WAL
// needs the file to itself, and SQLite answers SQLITE_BUSY at once rather
// than calling the busy handler when another process is doing the same,
// so instances starting together on one file retry here for as long as
// they would wait for any other lock.
func (d *DB) connect(ctx context.Context) error {
	deadline := time.Now().Add(sqliteBusyTimeout)
	for pause := time.Millisecond; ; pause = min(2*pause, 100*time.Millisecond) {
		err := d.db.PingContext(ctx)
		if err == nil || d.dialect != sqlite || !isBusy(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return err
		}
	}
}

// isBusy reports whether err is SQLite's SQLITE_BUSY.
func isBusy(err error) bool {
	var e *sqlitedriver.Error
	return errors.As(err, &e) && e.Code()&0xff == sqlite3.SQLITE_BUSY
}

func open(url string) (*DB, error) {
	switch {
	case strings.HasPrefix(url, "sqlite://"):
		return openSQLite(strings.TrimPrefix(url, "sqlite://"))
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		db, err := sql.Open("pgx", url)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: %w", err)
		}
		db.SetMaxOpenConns(postgresMaxConns)
		db.SetMaxIdleConns(postgresIdleConns)
		db.SetConnMaxLifetime(postgresConnLife)
		return &DB{db: db, dialect: postgres}, nil
	}
	return nil, errors.New("sqlstore: database URL must start with sqlite:// or postgres://")
}

func openSQLite(path string) (*DB, error) {
	if path == "" {
		return nil, errors.New("sqlstore: sqlite URL has no path")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("sqlstore: %w", err)
	}
	if err := ownerOnly(path); err != nil {
		return nil, fmt.Errorf("sqlstore: %w", err)
	}
	// WAL lets readers of other processes (backups, sqlite3 CLI) run
	// beside the writer; _txlock=immediate takes the write lock at BEGIN,
	// so read-modify-write transactions cannot deadlock on upgrade.
	// The driver sets busy_timeout before the other pragmas.
	dsn := "file:" + path + "?_txlock=immediate" +
		fmt.Sprintf("&_pragma=busy_timeout(%d)", sqliteBusyTimeout.Milliseconds()) +
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: %w", err)
	}
	db.SetMaxOpenConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	return &DB{db: db, dialect: sqlite}, nil
}

// ownerOnly makes the database file, and its -wal and -shm files if any,
// readable by their owner alone: they hold device tokens. SQLite creates
// the -wal and -shm files with the database file's mode, so creating that
// one 0600 (before SQLite would, with the umask's 0644) covers them.
func ownerOnly(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// Kind returns "sqlite" or "postgres".
func (d *DB) Kind() string { return d.dialect.name }

// Ping checks that the database answers, for readiness checks.
func (d *DB) Ping(ctx context.Context) error { return d.db.PingContext(ctx) }

// HoldsSealedSecrets reports whether any row holds a value sealed with
// the master key, which a new master key could not open: the server key
// of a token, and the notifier keys of its subscriptions, which cannot
// exist without their token (the foreign keys cascade); the DS's signing
// secret, whose keys groups list as their external sender.
func (d *DB) HoldsSealedSecrets(ctx context.Context) (bool, error) {
	var n int
	if err := d.db.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM (SELECT 1 FROM tokens WHERE id <> $1 LIMIT 1) AS t)
		+ (SELECT COUNT(*) FROM ds_sender)`, decoyID).Scan(&n); err != nil {
		return false, fmt.Errorf("sqlstore: looking for sealed secrets: %w", err)
	}
	return n > 0, nil
}

// Close closes the database; stores made from it stop working.
func (d *DB) Close() error { return d.db.Close() }

// SQL returns the underlying database, for tests and benchmarks that
// load data in bulk.
func (d *DB) SQL() *sql.DB { return d.db }

// inTx runs fn in a transaction, committing if it returns nil.
func (d *DB) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}
