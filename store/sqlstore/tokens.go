package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/trystgw/tryst/ntf"
	"github.com/trystgw/tryst/push"
)

// Tokens is the ntf.TokenStore over the tokens table.
type Tokens struct {
	d *DB
}

var _ ntf.TokenStore = (*Tokens)(nil)

// Tokens returns the token store.
func (d *DB) Tokens() *Tokens { return &Tokens{d: d} }

const tokenColumns = `id, platform, app, environment, device_token, dh_key, server_public_key, server_key_sealed,
	secret_hash, code_hash, failed_attempts, status, invalid_reason, check_interval_ms, next_check_at, created_at, updated_at`

// decoyID is the id of a row that a lookup of a missing id reads instead,
// so that a missing id costs what a present one does (two primary-key
// probes and one row read either way) and timing does not tell which ids
// exist. "~" is not in the base64url alphabet: no token id can be it.
const decoyID = "~decoy"

// selectToken reads the token with id $1, or the decoy row when there is
// none (readToken then answers ErrTokenNotFound).
const selectToken = `SELECT ` + tokenColumns + ` FROM tokens
	WHERE id = COALESCE((SELECT id FROM tokens WHERE id = $1), '` + decoyID + `')`

// readToken scans the row selectToken found for id: the token, or
// ErrTokenNotFound when it is the decoy.
func readToken(row scanner, id ntf.TokenID) (ntf.Token, error) {
	t, err := scanToken(row)
	if err == nil && t.ID != id {
		return ntf.Token{}, ntf.ErrTokenNotFound
	}
	return t, err
}

// insertDecoy puts the decoy row in place; it is active with no check
// due, so neither the scheduler nor the expiry ever reads it.
func (d *DB) insertDecoy(ctx context.Context) error {
	decoy := ntf.Token{ID: decoyID, Platform: push.APNs, App: "decoy", Environment: push.Production,
		DeviceToken:     push.MustParseDeviceToken(push.APNs, strings.Repeat("00", 32)),
		ServerKeySealed: make([]byte, 72), Status: ntf.StatusActive,
		CreatedAt: time.UnixMilli(0), UpdatedAt: time.UnixMilli(0)}
	_, err := d.db.ExecContext(ctx, `INSERT INTO tokens (`+tokenColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
		ON CONFLICT (id) DO NOTHING`, tokenArgs(decoy)...)
	if err != nil {
		return fmt.Errorf("sqlstore: decoy row: %w", err)
	}
	return nil
}

// Create implements ntf.TokenStore.
func (s *Tokens) Create(ctx context.Context, t ntf.Token) error {
	res, err := s.d.db.ExecContext(ctx, `INSERT INTO tokens (`+tokenColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
		ON CONFLICT (id) DO NOTHING`, tokenArgs(t)...)
	if err != nil {
		return fmt.Errorf("create token: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return fmt.Errorf("create token %s: %w", t.ID, errors.Join(ntf.ErrTokenExists, err))
	}
	return nil
}

// Get implements ntf.TokenStore.
func (s *Tokens) Get(ctx context.Context, id ntf.TokenID) (ntf.Token, error) {
	t, err := readToken(s.d.db.QueryRowContext(ctx, selectToken, string(id)), id)
	if err != nil {
		return ntf.Token{}, fmt.Errorf("get token %s: %w", id, err)
	}
	return t, nil
}

// Update implements ntf.TokenStore: the row is read with SELECT ... FOR UPDATE
// (PostgreSQL) or in an immediate transaction (SQLite), then rewritten.
func (s *Tokens) Update(ctx context.Context, id ntf.TokenID, fn func(*ntf.Token) error) (ntf.Token, error) {
	var t ntf.Token
	err := s.d.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		t, err = readToken(tx.QueryRowContext(ctx, selectToken+s.d.dialect.forUpdate, string(id)), id)
		if err != nil {
			return fmt.Errorf("update token %s: %w", id, err)
		}
		if err := fn(&t); err != nil {
			return err
		}
		t.ID = id
		args := tokenArgs(t)
		_, err = tx.ExecContext(ctx, `UPDATE tokens SET platform = $2, app = $3, environment = $4, device_token = $5,
			dh_key = $6, server_public_key = $7, server_key_sealed = $8, secret_hash = $9, code_hash = $10,
			failed_attempts = $11, status = $12, invalid_reason = $13, check_interval_ms = $14, next_check_at = $15,
			created_at = $16, updated_at = $17 WHERE id = $1`, args...)
		if err != nil {
			return fmt.Errorf("update token %s: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return ntf.Token{}, err
	}
	return t, nil
}

// Delete implements ntf.TokenStore.
func (s *Tokens) Delete(ctx context.Context, id ntf.TokenID) error {
	res, err := s.d.db.ExecContext(ctx, `DELETE FROM tokens WHERE id = $1`, string(id))
	if err != nil {
		return fmt.Errorf("delete token %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return fmt.Errorf("delete token %s: %w", id, errors.Join(ntf.ErrTokenNotFound, err))
	}
	return nil
}

// ClaimDue implements ntf.TokenStore. In one transaction it reads the earliest
// due rows through the partial index on next_check_at (skipping rows
// another instance holds, on PostgreSQL) and moves them to their next
// period.
func (s *Tokens) ClaimDue(ctx context.Context, now time.Time, limit int) ([]ntf.Token, error) {
	var due []ntf.Token
	err := s.d.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		due, err = selectDue(ctx, tx, now, limit, s.d.dialect)
		if err != nil || len(due) == 0 {
			return err
		}
		return moveDue(ctx, tx, now, due)
	})
	if err != nil {
		return nil, fmt.Errorf("claim due tokens: %w", err)
	}
	return due, nil
}

func selectDue(ctx context.Context, tx *sql.Tx, now time.Time, limit int, d dialect) ([]ntf.Token, error) {
	rows, err := tx.QueryContext(ctx, `SELECT `+tokenColumns+` FROM tokens
		WHERE next_check_at IS NOT NULL AND next_check_at <= $1
		ORDER BY next_check_at LIMIT $2`+d.skipLocked, now.UnixMilli(), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var due []ntf.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, err
		}
		due = append(due, t)
	}
	return due, rows.Err()
}

// moveDue sets each claimed token's next check to now plus its interval
// (not its old due time plus the interval: a gateway that was down does
// not burst the missed periods).
func moveDue(ctx context.Context, tx *sql.Tx, now time.Time, due []ntf.Token) error {
	var q strings.Builder
	q.WriteString(`UPDATE tokens SET next_check_at = $1 + check_interval_ms WHERE id IN (`)
	args := make([]any, 0, len(due)+1)
	args = append(args, now.UnixMilli())
	for i := range due {
		if i > 0 {
			q.WriteByte(',')
		}
		q.WriteString("$" + strconv.Itoa(i+2))
		args = append(args, string(due[i].ID))
		due[i].NextCheckAt = now.Add(due[i].CheckInterval)
	}
	q.WriteByte(')')
	_, err := tx.ExecContext(ctx, q.String(), args...)
	return err
}

// deleteInactive deletes the oldest inactive tokens through the partial
// index tokens_inactive_updated_at (migration 0004).
const deleteInactive = `DELETE FROM tokens WHERE id IN (SELECT id FROM tokens
	WHERE status <> 'active' AND updated_at <= $1 ORDER BY updated_at LIMIT $2)`

// DeleteInactive implements ntf.TokenStore.
func (s *Tokens) DeleteInactive(ctx context.Context, before time.Time, limit int) (int, error) {
	res, err := s.d.db.ExecContext(ctx, deleteInactive, before.UnixMilli(), limit)
	if err != nil {
		return 0, fmt.Errorf("delete inactive tokens: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete inactive tokens: %w", err)
	}
	return int(n), nil
}

// tokenArgs lists t's columns in tokenColumns order.
func tokenArgs(t ntf.Token) []any {
	var next any // NULL when no check is due
	if !t.NextCheckAt.IsZero() {
		next = t.NextCheckAt.UnixMilli()
	}
	return []any{
		string(t.ID), t.Platform.String(), string(t.App), t.Environment.String(), t.DeviceToken.String(),
		t.DHKey[:], t.ServerPublicKey[:], t.ServerKeySealed, t.SecretHash[:], t.CodeHash[:],
		t.FailedAttempts, string(t.Status), string(t.InvalidReason), t.CheckInterval.Milliseconds(), next,
		t.CreatedAt.UnixMilli(), t.UpdatedAt.UnixMilli(),
	}
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// scanToken reads one row in tokenColumns order, parsing every value
// back into its domain type.
func scanToken(row scanner) (ntf.Token, error) {
	var (
		t                                       ntf.Token
		id, platform, app, env, dt, status, why string
		dh, spub, shash, chash                  []byte
		interval, created, updated              int64
		next                                    sql.NullInt64
	)
	err := row.Scan(&id, &platform, &app, &env, &dt, &dh, &spub, &t.ServerKeySealed, &shash, &chash,
		&t.FailedAttempts, &status, &why, &interval, &next, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return t, ntf.ErrTokenNotFound
	}
	if err != nil {
		return t, err
	}
	var errs [8]error
	t.ID = ntf.TokenID(id)
	t.App = ntf.AppID(app)
	t.Platform, errs[0] = push.ParsePlatform(platform)
	t.Environment, errs[1] = push.ParseEnvironment(env)
	t.DeviceToken, errs[2] = push.ParseDeviceToken(t.Platform, dt)
	t.Status, errs[3] = ntf.ParseStatus(status)
	errs[4] = copyExact(t.DHKey[:], dh, "dh_key")
	errs[5] = copyExact(t.ServerPublicKey[:], spub, "server_public_key")
	errs[6] = copyExact(t.SecretHash[:], shash, "secret_hash")
	errs[7] = copyExact(t.CodeHash[:], chash, "code_hash")
	if err := errors.Join(errs[:]...); err != nil {
		return t, fmt.Errorf("token %s: corrupt row: %w", id, err)
	}
	t.InvalidReason = push.Reason(why)
	t.CheckInterval = time.Duration(interval) * time.Millisecond
	if next.Valid {
		t.NextCheckAt = time.UnixMilli(next.Int64).UTC()
	}
	t.CreatedAt, t.UpdatedAt = time.UnixMilli(created).UTC(), time.UnixMilli(updated).UTC()
	return t, nil
}

// copyExact copies src into dst if the lengths agree, else reports the
// column's wrong length.
func copyExact(dst, src []byte, column string) error {
	if len(src) != len(dst) {
		return fmt.Errorf("%s is %d bytes, want %d", column, len(src), len(dst))
	}
	copy(dst, src)
	return nil
}
