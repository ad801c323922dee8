package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/trystgw/tryst/ntf"
	"github.com/trystgw/tryst/qs"
)

// Queues is the qs.Store over the qs_* tables.
type Queues struct {
	d *DB
}

var _ qs.Store = (*Queues)(nil)

// Queues returns the queue store.
func (d *DB) Queues() *Queues { return &Queues{d: d} }

// execer runs statements on a *sql.DB or inside a *sql.Tx.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// inList returns "($first, ..., $first+n-1)".
func inList(first, n int) string {
	var b strings.Builder
	b.WriteByte('(')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("$" + strconv.Itoa(first+i))
	}
	b.WriteByte(')')
	return b.String()
}

// Create implements qs.Store.
func (s *Queues) Create(ctx context.Context, q qs.Queue) error {
	res, err := s.d.db.ExecContext(ctx, `INSERT INTO qs_queues (id, secret_hash, token_id, push_pending, created_at)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING`,
		string(q.ID), q.SecretHash[:], string(q.Token), boolInt(q.PushPending), q.CreatedAt.UnixMilli())
	if err != nil {
		return fmt.Errorf("create queue: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return fmt.Errorf("create queue %s: %w", q.ID, errors.Join(qs.ErrExists, err))
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

const queueColumns = `id, secret_hash, token_id, push_pending, created_at`

func scanQueue(row scanner) (qs.Queue, error) {
	var (
		q           qs.Queue
		id, token   string
		hash        []byte
		pending     int
		createdAtMs int64
	)
	err := row.Scan(&id, &hash, &token, &pending, &createdAtMs)
	if errors.Is(err, sql.ErrNoRows) {
		return q, qs.ErrNotFound
	}
	if err != nil {
		return q, err
	}
	if err := copyExact(q.SecretHash[:], hash, "secret_hash"); err != nil {
		return q, fmt.Errorf("queue %s: corrupt row: %w", id, err)
	}
	q.ID, q.Token, q.PushPending = qs.ID(id), ntf.TokenID(token), pending != 0
	q.CreatedAt = time.UnixMilli(createdAtMs).UTC()
	return q, nil
}

// Get implements qs.Store.
func (s *Queues) Get(ctx context.Context, id qs.ID) (qs.Queue, error) {
	q, err := scanQueue(s.d.db.QueryRowContext(ctx, `SELECT `+queueColumns+` FROM qs_queues WHERE id = $1`, string(id)))
	if err != nil {
		return qs.Queue{}, fmt.Errorf("get queue %s: %w", id, err)
	}
	return q, nil
}

// Enqueue implements qs.Store.
func (s *Queues) Enqueue(ctx context.Context, ids []qs.ID, data []byte, at time.Time) ([]qs.ID, error) {
	var got []qs.ID
	err := s.d.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		got, err = enqueueTx(ctx, tx, ids, data, at)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("enqueue: %w", err)
	}
	return got, nil
}

// enqueueTx appends data to the existing queues among ids inside tx. The
// counter row is taken last, so on PostgreSQL its lock is held only
// until the caller commits.
func enqueueTx(ctx context.Context, tx execer, ids []qs.ID, data []byte, at time.Time) ([]qs.ID, error) {
	ids = dedupe(ids)
	if len(ids) == 0 {
		return nil, nil
	}
	var seq int64
	if err := tx.QueryRowContext(ctx, `UPDATE qs_counter SET seq = seq + 1 WHERE id = 1 RETURNING seq`).Scan(&seq); err != nil {
		return nil, err
	}
	var present []string
	for batch := range slices.Chunk(ids, maxInList) {
		args := make([]any, 0, len(batch)+1)
		args = append(args, seq)
		for _, id := range batch {
			args = append(args, string(id))
		}
		rows, err := tx.QueryContext(ctx, `INSERT INTO qs_messages (queue_id, seq) SELECT id, $1 FROM qs_queues
			WHERE id IN `+inList(2, len(batch))+` RETURNING queue_id`, args...)
		if err != nil {
			return nil, err
		}
		got, err := scanStrings(rows)
		if err != nil {
			return nil, err
		}
		present = append(present, got...)
	}
	if len(present) == 0 {
		return nil, nil
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO qs_payloads (seq, data, received_at) VALUES ($1, $2, $3)`,
		seq, data, at.UnixMilli()); err != nil {
		return nil, err
	}
	return keepPresent(ids, present), nil
}

// maxInList bounds the parameters of one IN list, well below SQLite's
// and PostgreSQL's limits.
const maxInList = 1000

func dedupe(ids []qs.ID) []qs.ID {
	seen := make(map[qs.ID]bool, len(ids))
	out := make([]qs.ID, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// keepPresent returns the ids found in present, in the order of ids.
func keepPresent(ids []qs.ID, present []string) []qs.ID {
	set := make(map[string]bool, len(present))
	for _, p := range present {
		set[p] = true
	}
	return slices.DeleteFunc(slices.Clone(ids), func(id qs.ID) bool { return !set[string(id)] })
}

func scanStrings(rows *sql.Rows) ([]string, error) {
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// Fetch implements qs.Store.
func (s *Queues) Fetch(ctx context.Context, id qs.ID, after uint64, limit int) ([]qs.Message, error) {
	var pending int
	err := s.d.db.QueryRowContext(ctx, `SELECT push_pending FROM qs_queues WHERE id = $1`, string(id)).Scan(&pending)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("fetch queue %s: %w", id, qs.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("fetch queue %s: %w", id, err)
	}
	if pending != 0 { // the client is awake: the next message may push again
		if _, err := s.d.db.ExecContext(ctx, `UPDATE qs_queues SET push_pending = 0 WHERE id = $1`, string(id)); err != nil {
			return nil, fmt.Errorf("fetch queue %s: %w", id, err)
		}
	}
	rows, err := s.d.db.QueryContext(ctx, `SELECT m.seq, p.data, p.received_at FROM qs_messages m
		JOIN qs_payloads p ON p.seq = m.seq WHERE m.queue_id = $1 AND m.seq > $2 ORDER BY m.seq LIMIT $3`,
		string(id), int64(min(after, 1<<63-1)), limit)
	if err != nil {
		return nil, fmt.Errorf("fetch queue %s: %w", id, err)
	}
	defer rows.Close()
	msgs := []qs.Message{}
	for rows.Next() {
		var m qs.Message
		var seq, at int64
		if err := rows.Scan(&seq, &m.Data, &at); err != nil {
			return nil, fmt.Errorf("fetch queue %s: %w", id, err)
		}
		m.Seq, m.ReceivedAt = uint64(seq), time.UnixMilli(at).UTC()
		msgs = append(msgs, m)
	}
	return msgs, rows.Err()
}

// Ack implements qs.Store. The queue's rows go in one transaction; the
// payloads they held are deleted after it commits, each only if no queue
// holds it any more. Of several acks releasing one payload, the last to
// commit sees every other's committed deletion (READ COMMITTED; SQLite
// serialises anyway) and deletes it, and no ack waits on a row another
// holds: a payload shared by 100 queues is no hot spot.
func (s *Queues) Ack(ctx context.Context, id qs.ID, through uint64) error {
	var seqs []int64
	err := s.d.inTx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM qs_queues WHERE id = $1`, string(id)).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return qs.ErrNotFound
		}
		rows, err := tx.QueryContext(ctx, `DELETE FROM qs_messages WHERE queue_id = $1 AND seq <= $2 RETURNING seq`,
			string(id), int64(min(through, 1<<63-1)))
		if err != nil {
			return err
		}
		seqs, err = scanInts(rows)
		return err
	})
	if err == nil {
		err = releasePayloads(ctx, s.d.db, seqs)
	}
	if err != nil {
		return fmt.Errorf("ack queue %s: %w", id, err)
	}
	return nil
}

// releasePayloads deletes those of the payloads seqs that no queue holds.
func releasePayloads(ctx context.Context, db execer, seqs []int64) error {
	for batch := range slices.Chunk(seqs, maxInList) {
		args := make([]any, len(batch))
		for i, v := range batch {
			args[i] = v
		}
		_, err := db.ExecContext(ctx, `DELETE FROM qs_payloads WHERE seq IN `+inList(1, len(batch))+`
			AND NOT EXISTS (SELECT 1 FROM qs_messages m WHERE m.seq = qs_payloads.seq)`, args...)
		if err != nil {
			return err
		}
	}
	return nil
}

func scanInts(rows *sql.Rows) ([]int64, error) {
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// ClaimPushes implements qs.Store.
func (s *Queues) ClaimPushes(ctx context.Context, ids []qs.ID) ([]qs.Queue, error) {
	var out []qs.Queue
	for batch := range slices.Chunk(dedupe(ids), maxInList) {
		args := make([]any, len(batch))
		for i, id := range batch {
			args[i] = string(id)
		}
		rows, err := s.d.db.QueryContext(ctx, `UPDATE qs_queues SET push_pending = 1
			WHERE id IN `+inList(1, len(batch))+` AND token_id <> '' AND push_pending = 0 RETURNING `+queueColumns, args...)
		if err != nil {
			return nil, fmt.Errorf("claim pushes: %w", err)
		}
		got, err := scanQueues(rows)
		if err != nil {
			return nil, fmt.Errorf("claim pushes: %w", err)
		}
		out = append(out, got...)
	}
	return out, nil
}

func scanQueues(rows *sql.Rows) ([]qs.Queue, error) {
	defer rows.Close()
	var out []qs.Queue
	for rows.Next() {
		q, err := scanQueue(rows)
		if err != nil {
			return nil, err
		}
		q.PushPending = false // as stored before the claim
		out = append(out, q)
	}
	return out, rows.Err()
}

// ReleasePush implements qs.Store.
func (s *Queues) ReleasePush(ctx context.Context, id qs.ID) error {
	if _, err := s.d.db.ExecContext(ctx, `UPDATE qs_queues SET push_pending = 0 WHERE id = $1`, string(id)); err != nil {
		return fmt.Errorf("release push of queue %s: %w", id, err)
	}
	return nil
}

// Missing implements qs.Store.
func (s *Queues) Missing(ctx context.Context, ids []qs.ID) ([]qs.ID, error) {
	ids = dedupe(ids)
	var present []string
	for batch := range slices.Chunk(ids, maxInList) {
		args := make([]any, len(batch))
		for i, id := range batch {
			args[i] = string(id)
		}
		rows, err := s.d.db.QueryContext(ctx, `SELECT id FROM qs_queues WHERE id IN `+inList(1, len(batch)), args...)
		if err != nil {
			return nil, fmt.Errorf("missing queues: %w", err)
		}
		got, err := scanStrings(rows)
		if err != nil {
			return nil, fmt.Errorf("missing queues: %w", err)
		}
		present = append(present, got...)
	}
	found := keepPresent(ids, present)
	return slices.DeleteFunc(ids, func(id qs.ID) bool { return slices.Contains(found, id) }), nil
}
