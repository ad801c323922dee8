package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/trystgw/tryst/ntf"
)

// AddNotifications implements ntf.OutboxStore: one transaction for the
// whole batch, so a burst of NMSG costs one commit (one fsync).
func (s *Subscriptions) AddNotifications(ctx context.Context, ns []ntf.Notification, due time.Time) ([]ntf.Accepted, error) {
	out := make([]ntf.Accepted, len(ns))
	err := s.d.inTx(ctx, func(tx *sql.Tx) error {
		for _, i := range lockOrder(ns) {
			a, err := addNotification(ctx, tx, ns[i], due)
			if err != nil {
				return err
			}
			out[i] = a
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("add notifications: %w", err)
	}
	return out, nil
}

// lockOrder returns the indexes of ns sorted by primary key: every
// transaction that writes several notification rows takes their locks in
// this one order, so concurrent writers on PostgreSQL never deadlock.
func lockOrder(ns []ntf.Notification) []int {
	idx := make([]int, len(ns))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		if c := strings.Compare(ns[a].Server, ns[b].Server); c != 0 {
			return c
		}
		return bytes.Compare(ns[a].NotifierID, ns[b].NotifierID)
	})
	return idx
}

// addNotification makes n its queue's newest notification, pending and
// due at due, unless a newer one (by Seq) is stored already, and runs the
// queue's rotation if it is marked.
func addNotification(ctx context.Context, tx *sql.Tx, n ntf.Notification, due time.Time) (ntf.Accepted, error) {
	var (
		a        ntf.Accepted
		token, s string
		pos      int64
		rotate   int
	)
	err := tx.QueryRowContext(ctx, `SELECT token_id, subscription_id, position, rotate FROM subscription_queues
		WHERE server = $1 AND notifier_id = $2`, n.Server, n.NotifierID).Scan(&token, &s, &pos, &rotate)
	if errors.Is(err, sql.ErrNoRows) {
		return a, nil
	}
	if err != nil {
		return a, err
	}
	a.Found, a.Token = true, ntf.TokenID(token)
	received := n.ReceivedAt.UnixMilli()
	_, err = tx.ExecContext(ctx, `INSERT INTO notifications
		(server, notifier_id, token_id, seq, received_at, nonce, enc_meta, pending, attempts, next_attempt_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, 1, 0, $8)
		ON CONFLICT (server, notifier_id) DO UPDATE SET seq = excluded.seq, received_at = excluded.received_at,
			nonce = excluded.nonce, enc_meta = excluded.enc_meta, pending = 1, attempts = 0,
			next_attempt_at = excluded.next_attempt_at
		WHERE notifications.seq < excluded.seq`,
		n.Server, n.NotifierID, token, n.Seq, received, n.Nonce[:], n.EncMeta, due.UnixMilli())
	if err != nil || rotate == 0 {
		return a, err
	}
	a.Retired, err = retireOlder(ctx, tx, s, pos)
	if err != nil {
		return a, err
	}
	_, err = tx.ExecContext(ctx, `UPDATE subscription_queues SET rotate = 0 WHERE server = $1 AND notifier_id = $2`,
		n.Server, n.NotifierID)
	return a, err
}

// retireOlder removes the queues of subscription sub added before
// position pos.
func retireOlder(ctx context.Context, tx *sql.Tx, sub string, pos int64) ([]ntf.QueueRef, error) {
	rows, err := tx.QueryContext(ctx, `SELECT server, notifier_id FROM subscription_queues
		WHERE subscription_id = $1 AND position < $2`, sub, pos)
	if err != nil {
		return nil, err
	}
	var refs []ntf.QueueRef
	for rows.Next() {
		var r ntf.QueueRef
		if err := rows.Scan(&r.Server, &r.NotifierID); err != nil {
			rows.Close()
			return nil, err
		}
		refs = append(refs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, r := range refs {
		// A pending notification of a retired queue stays until a push
		// carries it: the switch loses nothing.
		if _, err := tx.ExecContext(ctx, `DELETE FROM notifications WHERE server = $1 AND notifier_id = $2 AND pending = 0`,
			r.Server, r.NotifierID); err != nil {
			return nil, err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM subscription_queues WHERE server = $1 AND notifier_id = $2`,
			r.Server, r.NotifierID); err != nil {
			return nil, err
		}
	}
	return refs, nil
}

// RecentNotifications implements ntf.OutboxStore.
func (s *Subscriptions) RecentNotifications(ctx context.Context, token ntf.TokenID) ([]ntf.Notification, error) {
	rows, err := s.d.db.QueryContext(ctx, `SELECT server, notifier_id, seq, received_at, nonce, enc_meta, pending
		FROM notifications WHERE token_id = $1`, string(token))
	if err != nil {
		return nil, fmt.Errorf("recent notifications of %s: %w", token, err)
	}
	defer rows.Close()
	var ns []ntf.Notification
	for rows.Next() {
		var (
			n        ntf.Notification
			received int64
			nonce    []byte
			pending  int
		)
		if err := rows.Scan(&n.Server, &n.NotifierID, &n.Seq, &received, &nonce, &n.EncMeta, &pending); err != nil {
			return nil, err
		}
		if err := copyExact(n.Nonce[:], nonce, "nonce"); err != nil {
			return nil, fmt.Errorf("notification of %s: corrupt row: %w", n.Server, err)
		}
		n.ReceivedAt, n.Pending = time.UnixMilli(received).UTC(), pending != 0
		ns = append(ns, n)
	}
	return ns, rows.Err()
}

// ClearNotifications implements ntf.OutboxStore.
func (s *Subscriptions) ClearNotifications(ctx context.Context, token ntf.TokenID, delivered []ntf.Notification) error {
	err := s.d.inTx(ctx, func(tx *sql.Tx) error {
		for _, i := range lockOrder(delivered) {
			n := delivered[i]
			if !n.Pending {
				continue // delivered before: nothing to clear
			}
			if _, err := tx.ExecContext(ctx, `UPDATE notifications SET pending = 0, attempts = 0, next_attempt_at = NULL
				WHERE server = $1 AND notifier_id = $2 AND seq = $3`, n.Server, n.NotifierID, n.Seq); err != nil {
				return err
			}
		}
		return deleteRetired(ctx, tx, token)
	})
	if err != nil {
		return fmt.Errorf("clear notifications: %w", err)
	}
	return nil
}

// deleteRetired deletes the delivered notifications of queues a rotation
// retired (kept only until delivered).
func deleteRetired(ctx context.Context, tx *sql.Tx, token ntf.TokenID) error {
	_, err := tx.ExecContext(ctx, `DELETE FROM notifications WHERE token_id = $1 AND pending = 0
		AND NOT EXISTS (SELECT 1 FROM subscription_queues q
			WHERE q.server = notifications.server AND q.notifier_id = notifications.notifier_id)`, string(token))
	return err
}

// DeferNotifications implements ntf.OutboxStore.
func (s *Subscriptions) DeferNotifications(ctx context.Context, token ntf.TokenID, at time.Time) error {
	_, err := s.d.db.ExecContext(ctx, `UPDATE notifications SET attempts = attempts + 1, next_attempt_at = $2
		WHERE token_id = $1 AND pending = 1`, string(token), at.UnixMilli())
	if err != nil {
		return fmt.Errorf("defer notifications of %s: %w", token, err)
	}
	return nil
}

// DropNotifications implements ntf.OutboxStore.
func (s *Subscriptions) DropNotifications(ctx context.Context, token ntf.TokenID) error {
	_, err := s.d.db.ExecContext(ctx, `UPDATE notifications SET pending = 0, next_attempt_at = NULL
		WHERE token_id = $1 AND pending = 1`, string(token))
	if err != nil {
		return fmt.Errorf("drop notifications of %s: %w", token, err)
	}
	return nil
}

// ClaimOutbox implements ntf.OutboxStore in one statement: it picks due
// rows through the partial index on next_attempt_at (skipping rows
// another instance holds, on PostgreSQL) and moves them to until.
func (s *Subscriptions) ClaimOutbox(ctx context.Context, due, until time.Time, limit int) ([]ntf.TokenID, error) {
	rows, err := s.d.db.QueryContext(ctx, `UPDATE notifications SET next_attempt_at = $1
		WHERE (server, notifier_id) IN (SELECT server, notifier_id FROM notifications
			WHERE next_attempt_at IS NOT NULL AND next_attempt_at <= $2
			ORDER BY next_attempt_at LIMIT $3`+s.d.dialect.skipLocked+`)
		RETURNING token_id`, until.UnixMilli(), due.UnixMilli(), limit)
	if err != nil {
		return nil, fmt.Errorf("claim outbox: %w", err)
	}
	defer rows.Close()
	var tokens []ntf.TokenID
	seen := map[ntf.TokenID]bool{}
	for rows.Next() {
		var token string
		if err := rows.Scan(&token); err != nil {
			return nil, fmt.Errorf("claim outbox: %w", err)
		}
		if id := ntf.TokenID(token); !seen[id] {
			seen[id] = true
			tokens = append(tokens, id)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim outbox: %w", err)
	}
	return tokens, nil
}

// OutboxStats implements ntf.OutboxStore.
func (s *Subscriptions) OutboxStats(ctx context.Context) (int, time.Time, error) {
	var (
		depth  int
		oldest sql.NullInt64
	)
	err := s.d.db.QueryRowContext(ctx, `SELECT COUNT(*), MIN(received_at) FROM notifications WHERE next_attempt_at IS NOT NULL`).Scan(&depth, &oldest)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("outbox stats: %w", err)
	}
	if !oldest.Valid {
		return depth, time.Time{}, nil
	}
	return depth, time.UnixMilli(oldest.Int64).UTC(), nil
}
