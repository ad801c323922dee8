package sqlstore

import (
	"context"
	"crypto/sha256"
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
func (s *Queues) Enqueue(ctx context.Context, ids []qs.ID, except qs.ID, data []byte, at time.Time) ([]qs.ID, error) {
	var got []qs.ID
	err := s.d.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		got, err = enqueueTx(ctx, tx, ids, except, data, at)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("enqueue: %w", err)
	}
	return got, nil
}

// setTouchAge is how stale a set's last_used may get before a fan-out
// refreshes it; far below the sweep's retention, so a set in use is never
// swept (see Sweep).
const setTouchAge = time.Hour

// enqueueTx stores data once for the recipient set of ids inside tx. The
// counter row is taken last, so on PostgreSQL its lock is held only
// until the caller commits.
func enqueueTx(ctx context.Context, tx execer, ids []qs.ID, except qs.ID, data []byte, at time.Time) ([]qs.ID, error) {
	ids = dedupe(ids)
	if len(ids) == 0 {
		return nil, nil
	}
	setID := recipientSet(ids)
	members, err := setMembers(ctx, tx, setID, ids, at)
	if err != nil {
		return nil, err
	}
	delivered := slices.DeleteFunc(keepPresent(ids, members), func(id qs.ID) bool { return id == except })
	if len(delivered) == 0 {
		return nil, nil
	}
	var seq int64
	if err := tx.QueryRowContext(ctx, `UPDATE qs_counter SET seq = seq + 1 WHERE id = 1 RETURNING seq`).Scan(&seq); err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO qs_payloads (seq, set_id, except_queue, data, received_at) VALUES ($1, $2, $3, $4, $5)`,
		seq, setID, string(except), data, at.UnixMilli()); err != nil {
		return nil, err
	}
	return delivered, nil
}

// recipientSet names a set of queues: SHA-256 of the sorted ids.
func recipientSet(ids []qs.ID) []byte {
	sorted := slices.Clone(ids)
	slices.Sort(sorted)
	h := sha256.New()
	for _, id := range sorted {
		h.Write([]byte(id))
		h.Write([]byte{'\n'})
	}
	return h.Sum(nil)
}

// setMembers returns the existing queues of set setID, storing the set
// first if it is new. Its last_used is refreshed first when stale, which
// a concurrent Sweep either sees (and spares the set) or precedes (and
// then the set is stored again here).
func setMembers(ctx context.Context, tx execer, setID []byte, ids []qs.ID, at time.Time) ([]string, error) {
	if _, err := tx.ExecContext(ctx, `UPDATE qs_set_info SET last_used = $2 WHERE set_id = $1 AND last_used < $3`,
		setID, at.UnixMilli(), at.Add(-setTouchAge).UnixMilli()); err != nil {
		return nil, err
	}
	members, err := selectSet(ctx, tx, setID)
	if err != nil || len(members) > 0 {
		return members, err
	}
	for batch := range slices.Chunk(ids, maxInList) {
		args := []any{setID}
		for _, id := range batch {
			args = append(args, string(id))
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO qs_sets (set_id, queue_id) SELECT $1, id FROM qs_queues
			WHERE id IN `+inList(2, len(batch))+` ON CONFLICT (set_id, queue_id) DO NOTHING`, args...); err != nil {
			return nil, err
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO qs_set_info (set_id, last_used) VALUES ($1, $2)
		ON CONFLICT (set_id) DO UPDATE SET last_used = excluded.last_used`, setID, at.UnixMilli()); err != nil {
		return nil, err
	}
	// Read back: a racing creator's rows count as well.
	return selectSet(ctx, tx, setID)
}

func selectSet(ctx context.Context, tx execer, setID []byte) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT queue_id FROM qs_sets WHERE set_id = $1`, setID)
	if err != nil {
		return nil, err
	}
	return scanStrings(rows)
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

// Fetch implements qs.Store: the messages of every recipient set the
// queue is in, past what it acknowledged, but its own.
func (s *Queues) Fetch(ctx context.Context, id qs.ID, after uint64, limit int) ([]qs.Message, error) {
	var pending int
	var acked int64
	err := s.d.db.QueryRowContext(ctx, `SELECT push_pending, acked FROM qs_queues WHERE id = $1`, string(id)).Scan(&pending, &acked)
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
	from := max(int64(min(after, 1<<63-1)), acked)
	rows, err := s.d.db.QueryContext(ctx, `SELECT p.seq, p.data, p.received_at FROM qs_sets s
		JOIN qs_payloads p ON p.set_id = s.set_id
		WHERE s.queue_id = $1 AND p.seq > $2 AND p.except_queue <> $1 ORDER BY p.seq LIMIT $3`, string(id), from, limit)
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

// Ack implements qs.Store: it moves the queue's acknowledged mark;
// Sweep frees the messages once every recipient has passed them.
func (s *Queues) Ack(ctx context.Context, id qs.ID, through uint64) error {
	res, err := s.d.db.ExecContext(ctx, `UPDATE qs_queues SET acked = CASE WHEN acked < $2 THEN $2 ELSE acked END WHERE id = $1`,
		string(id), int64(min(through, 1<<63-1)))
	if err != nil {
		return fmt.Errorf("ack queue %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return fmt.Errorf("ack queue %s: %w", id, errors.Join(qs.ErrNotFound, err))
	}
	return nil
}

// Sweep implements qs.Store.
func (s *Queues) Sweep(ctx context.Context, unusedBefore time.Time, limit int) (int, error) {
	res, err := s.d.db.ExecContext(ctx, `DELETE FROM qs_payloads WHERE seq IN (
		SELECT p.seq FROM qs_payloads p WHERE NOT EXISTS (
			SELECT 1 FROM qs_sets s JOIN qs_queues q ON q.id = s.queue_id
			WHERE s.set_id = p.set_id AND s.queue_id <> p.except_queue AND q.acked < p.seq)
		ORDER BY p.seq LIMIT $1)`, limit)
	if err != nil {
		return 0, fmt.Errorf("sweep queues: %w", err)
	}
	freed, _ := res.RowsAffected()
	err = s.d.inTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `DELETE FROM qs_set_info WHERE last_used < $1 AND NOT EXISTS (
			SELECT 1 FROM qs_payloads p WHERE p.set_id = qs_set_info.set_id) RETURNING set_id`, unusedBefore.UnixMilli())
		if err != nil {
			return err
		}
		sets, err := scanBlobs(rows)
		if err != nil {
			return err
		}
		for _, id := range sets {
			if _, err := tx.ExecContext(ctx, `DELETE FROM qs_sets WHERE set_id = $1`, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return int(freed), fmt.Errorf("sweep queue sets: %w", err)
	}
	return int(freed), nil
}

func scanBlobs(rows *sql.Rows) ([][]byte, error) {
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, err
		}
		out = append(out, b)
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

// Delete implements qs.Store. Removing the queue's qs_sets rows is what
// stops fan-outs (Enqueue delivers to a set's stored members) and lets
// Sweep free payloads the queue never acknowledged.
func (s *Queues) Delete(ctx context.Context, id qs.ID) error {
	err := s.d.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM qs_queues WHERE id = $1`, string(id))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return errors.Join(qs.ErrNotFound, err)
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM qs_sets WHERE queue_id = $1`, string(id))
		return err
	})
	if err != nil {
		return fmt.Errorf("delete queue %s: %w", id, err)
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
