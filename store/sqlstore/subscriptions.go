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
)

// Subscriptions is the ntf.SubscriptionStore over the subscriptions,
// subscription_queues and notifications tables.
type Subscriptions struct {
	d *DB
}

var _ ntf.SubscriptionStore = (*Subscriptions)(nil)

// Subscriptions returns the subscription store.
func (d *DB) Subscriptions() *Subscriptions { return &Subscriptions{d: d} }

const subQueueColumns = `server, notifier_id, key_sealed, status, error, rotate, added_at`

// CreateSubscription implements ntf.SubscriptionStore.
func (s *Subscriptions) CreateSubscription(ctx context.Context, sub ntf.Subscription) error {
	err := s.d.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO subscriptions (id, token_id, created_at) VALUES ($1, $2, $3)`,
			string(sub.ID), string(sub.Token), sub.CreatedAt.UnixMilli()); err != nil {
			return err
		}
		for i, q := range sub.Queues {
			if err := insertQueue(ctx, tx, sub.Token, sub.ID, int64(i), q); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("create subscription: %w", err)
	}
	return nil
}

// insertQueue inserts q unless its (server, notifier id) is taken.
func insertQueue(ctx context.Context, tx *sql.Tx, token ntf.TokenID, id ntf.SubscriptionID, pos int64, q ntf.Queue) error {
	res, err := tx.ExecContext(ctx, `INSERT INTO subscription_queues
		(server, notifier_id, subscription_id, token_id, position, key_sealed, status, error, rotate, added_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (server, notifier_id) DO NOTHING`,
		q.Server, q.NotifierID, string(id), string(token), pos, q.KeySealed, string(q.Status), q.Error,
		boolInt(q.Rotate), q.AddedAt.UnixMilli())
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return fmt.Errorf("queue %s: %w", q.QueueRef, errors.Join(ntf.ErrQueueTaken, err))
	}
	return nil
}

// GetSubscription implements ntf.SubscriptionStore.
func (s *Subscriptions) GetSubscription(ctx context.Context, token ntf.TokenID, id ntf.SubscriptionID) (ntf.Subscription, error) {
	sub, err := getSubscription(ctx, s.d.db, token, id)
	if err != nil {
		return sub, fmt.Errorf("get subscription %s: %w", id, err)
	}
	return sub, nil
}

// querier is a *sql.DB or *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func getSubscription(ctx context.Context, q querier, token ntf.TokenID, id ntf.SubscriptionID) (ntf.Subscription, error) {
	sub := ntf.Subscription{ID: id, Token: token}
	var created int64
	err := q.QueryRowContext(ctx, `SELECT created_at FROM subscriptions WHERE id = $1 AND token_id = $2`,
		string(id), string(token)).Scan(&created)
	if errors.Is(err, sql.ErrNoRows) {
		return sub, ntf.ErrSubscriptionNotFound
	}
	if err != nil {
		return sub, err
	}
	sub.CreatedAt = time.UnixMilli(created).UTC()
	sub.Queues, err = scanSubQueues(q.QueryContext(ctx, `SELECT `+subQueueColumns+` FROM subscription_queues
		WHERE subscription_id = $1 ORDER BY position`, string(id)))
	return sub, err
}

// scanSubQueues reads every row of a query of subQueueColumns.
func scanSubQueues(rows *sql.Rows, err error) ([]ntf.Queue, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var qs []ntf.Queue
	for rows.Next() {
		q, err := scanSubQueue(rows)
		if err != nil {
			return nil, err
		}
		qs = append(qs, q)
	}
	return qs, rows.Err()
}

func scanSubQueue(row scanner) (ntf.Queue, error) {
	var (
		q       ntf.Queue
		status  string
		rotate  int
		addedAt int64
	)
	if err := row.Scan(&q.Server, &q.NotifierID, &q.KeySealed, &status, &q.Error, &rotate, &addedAt); err != nil {
		return q, err
	}
	var err error
	if q.Status, err = ntf.ParseQueueStatus(status); err != nil {
		return q, fmt.Errorf("queue %s: corrupt row: %w", q.QueueRef, err)
	}
	q.Rotate, q.AddedAt = rotate != 0, time.UnixMilli(addedAt).UTC()
	return q, nil
}

// AddQueue implements ntf.SubscriptionStore.
func (s *Subscriptions) AddQueue(ctx context.Context, token ntf.TokenID, id ntf.SubscriptionID, q ntf.Queue) (ntf.Subscription, error) {
	var sub ntf.Subscription
	err := s.d.inTx(ctx, func(tx *sql.Tx) error {
		if err := lockSubscription(ctx, tx, s.d.dialect, token, id); err != nil {
			return err
		}
		var next int64
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(position), -1) + 1 FROM subscription_queues
			WHERE subscription_id = $1`, string(id)).Scan(&next); err != nil {
			return err
		}
		if err := insertQueue(ctx, tx, token, id, next, q); err != nil {
			return err
		}
		var err error
		sub, err = getSubscription(ctx, tx, token, id)
		return err
	})
	if err != nil {
		return ntf.Subscription{}, fmt.Errorf("add queue to subscription %s: %w", id, err)
	}
	return sub, nil
}

// lockSubscription checks the token's subscription exists and, on
// PostgreSQL, locks its row so queue positions are taken one at a time.
func lockSubscription(ctx context.Context, tx *sql.Tx, d dialect, token ntf.TokenID, id ntf.SubscriptionID) error {
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM subscriptions WHERE id = $1 AND token_id = $2`+d.forUpdate,
		string(id), string(token)).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return ntf.ErrSubscriptionNotFound
	}
	return err
}

// RemoveQueue implements ntf.SubscriptionStore.
func (s *Subscriptions) RemoveQueue(ctx context.Context, token ntf.TokenID, id ntf.SubscriptionID, index int) (ntf.Queue, error) {
	var removed ntf.Queue
	err := s.d.inTx(ctx, func(tx *sql.Tx) error {
		if err := lockSubscription(ctx, tx, s.d.dialect, token, id); err != nil {
			return err
		}
		if index < 0 {
			return ntf.ErrQueueNotFound
		}
		q, err := scanSubQueue(tx.QueryRowContext(ctx, `SELECT `+subQueueColumns+` FROM subscription_queues
			WHERE subscription_id = $1 ORDER BY position LIMIT 1 OFFSET $2`, string(id), index))
		if errors.Is(err, sql.ErrNoRows) {
			return ntf.ErrQueueNotFound
		}
		if err != nil {
			return err
		}
		removed = q
		return deleteQueues(ctx, tx, []ntf.QueueRef{q.QueueRef})
	})
	if err != nil {
		return ntf.Queue{}, fmt.Errorf("remove queue %d of subscription %s: %w", index, id, err)
	}
	return removed, nil
}

// deleteQueues deletes queues with their notifications.
func deleteQueues(ctx context.Context, tx *sql.Tx, refs []ntf.QueueRef) error {
	for _, r := range refs {
		for _, table := range []string{"notifications", "subscription_queues"} {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE server = $1 AND notifier_id = $2`,
				r.Server, r.NotifierID); err != nil {
				return err
			}
		}
	}
	return nil
}

// DeleteSubscription implements ntf.SubscriptionStore.
func (s *Subscriptions) DeleteSubscription(ctx context.Context, token ntf.TokenID, id ntf.SubscriptionID) ([]ntf.Queue, error) {
	var qs []ntf.Queue
	err := s.d.inTx(ctx, func(tx *sql.Tx) error {
		sub, err := getSubscription(ctx, tx, token, id)
		if err != nil {
			return err
		}
		qs = sub.Queues
		refs := make([]ntf.QueueRef, len(qs))
		for i, q := range qs {
			refs[i] = q.QueueRef
		}
		if err := deleteQueues(ctx, tx, refs); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM subscriptions WHERE id = $1`, string(id))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("delete subscription %s: %w", id, err)
	}
	return qs, nil
}

// FindQueue implements ntf.SubscriptionStore.
func (s *Subscriptions) FindQueue(ctx context.Context, ref ntf.QueueRef) (ntf.TokenID, ntf.SubscriptionID, ntf.Queue, error) {
	var token, id string
	row := s.d.db.QueryRowContext(ctx, `SELECT token_id, subscription_id, `+subQueueColumns+` FROM subscription_queues
		WHERE server = $1 AND notifier_id = $2`, ref.Server, ref.NotifierID)
	q, err := scanSubQueue(prefixScanner{row, []any{&token, &id}})
	if errors.Is(err, sql.ErrNoRows) {
		err = ntf.ErrQueueNotFound
	}
	if err != nil {
		return "", "", ntf.Queue{}, fmt.Errorf("find queue %s: %w", ref, err)
	}
	return ntf.TokenID(token), ntf.SubscriptionID(id), q, nil
}

// prefixScanner scans leading columns into prefix, the rest into the
// destinations of the call.
type prefixScanner struct {
	row    scanner
	prefix []any
}

func (p prefixScanner) Scan(dest ...any) error { return p.row.Scan(append(p.prefix, dest...)...) }

// TokenQueues implements ntf.SubscriptionStore.
func (s *Subscriptions) TokenQueues(ctx context.Context, token ntf.TokenID) ([]ntf.QueueRef, error) {
	rows, err := s.d.db.QueryContext(ctx, `SELECT server, notifier_id FROM subscription_queues WHERE token_id = $1`, string(token))
	if err != nil {
		return nil, fmt.Errorf("queues of token %s: %w", token, err)
	}
	defer rows.Close()
	var refs []ntf.QueueRef
	for rows.Next() {
		var r ntf.QueueRef
		if err := rows.Scan(&r.Server, &r.NotifierID); err != nil {
			return nil, err
		}
		refs = append(refs, r)
	}
	return refs, rows.Err()
}

// finalStatuses lists the final queue statuses in SQL.
const finalStatuses = `('ended', 'deleted', 'auth', 'error')`

// LoadQueues implements ntf.SubscriptionStore, paging by primary key.
func (s *Subscriptions) LoadQueues(ctx context.Context, after ntf.QueueRef, limit int) ([]ntf.Queue, error) {
	qs, err := scanSubQueues(s.d.db.QueryContext(ctx, `SELECT `+subQueueColumns+` FROM subscription_queues
		WHERE (server > $1 OR (server = $1 AND notifier_id > $2)) AND status NOT IN `+finalStatuses+`
		ORDER BY server, notifier_id LIMIT $3`, after.Server, nonNil(after.NotifierID), limit))
	if err != nil {
		return nil, fmt.Errorf("load queues: %w", err)
	}
	return qs, nil
}

// nonNil makes an empty id a zero-length BYTEA rather than NULL.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// SetQueueStatus implements ntf.SubscriptionStore.
func (s *Subscriptions) SetQueueStatus(ctx context.Context, server string, ids [][]byte, status ntf.QueueStatus, errText string) error {
	guard := ""
	if !status.Final() {
		guard = ` AND status NOT IN ` + finalStatuses
	}
	for chunk := range chunks(ids, 500) {
		args := []any{string(status), errText, server}
		// Rows that have the status already are not written again: a
		// takeover re-confirms queues recorded active by the last owner.
		q := `UPDATE subscription_queues SET status = $1, error = $2 WHERE server = $3` + guard +
			` AND (status <> $1 OR error <> $2)` +
			` AND notifier_id IN (` + placeholders(len(args)+1, len(chunk)) + `)`
		for _, id := range chunk {
			args = append(args, id)
		}
		if _, err := s.d.db.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("set queue status %s on %s: %w", status, server, err)
		}
	}
	return nil
}

// chunks yields s in slices of at most n.
func chunks[T any](s []T, n int) func(func([]T) bool) {
	return func(yield func([]T) bool) {
		for len(s) > 0 {
			k := min(n, len(s))
			if !yield(s[:k]) {
				return
			}
			s = s[k:]
		}
	}
}

// placeholders returns "$from, $from+1, ..." for n parameters.
func placeholders(from, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("$" + strconv.Itoa(from+i))
	}
	return b.String()
}

// DeactivateServer implements ntf.SubscriptionStore.
func (s *Subscriptions) DeactivateServer(ctx context.Context, server string) error {
	_, err := s.d.db.ExecContext(ctx, `UPDATE subscription_queues SET status = 'inactive'
		WHERE server = $1 AND status = 'active'`, server)
	if err != nil {
		return fmt.Errorf("deactivate %s: %w", server, err)
	}
	return nil
}

// CountQueues implements ntf.SubscriptionStore.
func (s *Subscriptions) CountQueues(ctx context.Context) (map[ntf.QueueStatus]int, error) {
	rows, err := s.d.db.QueryContext(ctx, `SELECT status, COUNT(*) FROM subscription_queues GROUP BY status`)
	if err != nil {
		return nil, fmt.Errorf("count queues: %w", err)
	}
	defer rows.Close()
	counts := map[ntf.QueueStatus]int{}
	for rows.Next() {
		var status string
		var n int
		if err := rows.Scan(&status, &n); err != nil {
			return nil, err
		}
		st, err := ntf.ParseQueueStatus(status)
		if err != nil {
			return nil, fmt.Errorf("count queues: %w", err)
		}
		counts[st] = n
	}
	return counts, rows.Err()
}
