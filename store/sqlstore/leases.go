package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/trystgw/tryst/ntf"
)

// Leases is the PostgreSQL side of ntf.Ownership: instances, SMP-server
// leases and the change notices between instances. Every time is the
// database's clock (dbNow), so instances need not agree on the time.
type Leases struct {
	d *DB
	// channel is the NOTIFY channel, named after the schema so that
	// instances of different deployments (or tests) on one database do
	// not hear each other.
	channel string
}

var _ ntf.LeaseStore = (*Leases)(nil)

// dbNow is the database's current time in milliseconds: clock_timestamp,
// not now(), which is frozen at the transaction's start.
const dbNow = `(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT`

// Leases returns the lease store. It needs PostgreSQL: with SQLite one
// instance owns everything and there is nothing to coordinate.
func (d *DB) Leases(ctx context.Context) (*Leases, error) {
	if d.dialect != postgres {
		return nil, errors.New("sqlstore: SMP-server leases need PostgreSQL")
	}
	var schema string
	if err := d.db.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return nil, fmt.Errorf("sqlstore: leases: %w", err)
	}
	return &Leases{d: d, channel: "tryst_queues_" + schema}, nil
}

// Heartbeat implements ntf.LeaseStore.
func (l *Leases) Heartbeat(ctx context.Context, instance string, ttl time.Duration) (ntf.Membership, error) {
	var m ntf.Membership
	err := l.d.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO instances (id, started_at, heartbeat_at, expires_at)
			VALUES ($1, `+dbNow+`, `+dbNow+`, `+dbNow+` + $2)
			ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, expires_at = excluded.expires_at`,
			instance, ttl.Milliseconds()); err != nil {
			return err
		}
		// Rows of instances gone for good (a day past expiry) are dropped.
		if _, err := tx.ExecContext(ctx, `DELETE FROM instances WHERE expires_at < `+dbNow+` - 86400000`); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT id FROM instances WHERE expires_at > `+dbNow+` ORDER BY id`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			m.Live = append(m.Live, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM server_leases`).Scan(&m.Servers)
	})
	if err != nil {
		return ntf.Membership{}, fmt.Errorf("heartbeat: %w", err)
	}
	return m, nil
}

// Renew implements ntf.LeaseStore: only leases still held with the same
// generation are extended.
func (l *Leases) Renew(ctx context.Context, instance string, held []ntf.Lease, ttl time.Duration) ([]ntf.Lease, error) {
	if len(held) == 0 {
		return nil, nil
	}
	servers, gens := splitLeases(held)
	rows, err := l.d.db.QueryContext(ctx, `UPDATE server_leases l SET expires_at = `+dbNow+` + $2
		FROM unnest($3::TEXT[], $4::BIGINT[]) AS h(server, generation)
		WHERE l.server = h.server AND l.generation = h.generation AND l.owner = $1
		RETURNING l.server, l.generation`, instance, ttl.Milliseconds(), servers, gens)
	if err != nil {
		return nil, fmt.Errorf("renew leases: %w", err)
	}
	out, err := scanLeases(rows, false)
	if err != nil {
		return nil, fmt.Errorf("renew leases: %w", err)
	}
	return out, nil
}

func splitLeases(ls []ntf.Lease) ([]string, []int64) {
	servers, gens := make([]string, len(ls)), make([]int64, len(ls))
	for i, l := range ls {
		servers[i], gens[i] = l.Server, l.Generation
	}
	return servers, gens
}

// scanLeases reads (server, generation[, previous owner]) rows.
func scanLeases(rows *sql.Rows, withPrev bool) ([]ntf.Lease, error) {
	defer rows.Close()
	var out []ntf.Lease
	for rows.Next() {
		var l ntf.Lease
		var prev string
		dest := []any{&l.Server, &l.Generation}
		if withPrev {
			dest = append(dest, &prev)
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		l.Previous = prev
		out = append(out, l)
	}
	return out, rows.Err()
}

// Acquire implements ntf.LeaseStore. Free and expired leases are taken
// with SKIP LOCKED, so instances acquiring at once take different ones;
// the generation grows, which fences the previous holder's tenure.
func (l *Leases) Acquire(ctx context.Context, instance string, n int, ttl time.Duration) ([]ntf.Lease, error) {
	if n <= 0 {
		return nil, nil
	}
	rows, err := l.d.db.QueryContext(ctx, `WITH c AS (
			SELECT server, owner FROM server_leases WHERE owner = '' OR expires_at < `+dbNow+`
			ORDER BY server LIMIT $3 FOR UPDATE SKIP LOCKED)
		UPDATE server_leases l SET owner = $1, generation = l.generation + 1, expires_at = `+dbNow+` + $2
		FROM c WHERE l.server = c.server
		RETURNING l.server, l.generation, c.owner`, instance, ttl.Milliseconds(), n)
	if err != nil {
		return nil, fmt.Errorf("acquire leases: %w", err)
	}
	out, err := scanLeases(rows, true)
	if err != nil {
		return nil, fmt.Errorf("acquire leases: %w", err)
	}
	return out, nil
}

// Release implements ntf.LeaseStore.
func (l *Leases) Release(ctx context.Context, instance string, held []ntf.Lease) error {
	if len(held) == 0 {
		return nil
	}
	servers, gens := splitLeases(held)
	_, err := l.d.db.ExecContext(ctx, `UPDATE server_leases l SET owner = '', expires_at = 0
		FROM unnest($2::TEXT[], $3::BIGINT[]) AS h(server, generation)
		WHERE l.server = h.server AND l.generation = h.generation AND l.owner = $1`, instance, servers, gens)
	if err != nil {
		return fmt.Errorf("release leases: %w", err)
	}
	return nil
}

// Leave implements ntf.LeaseStore.
func (l *Leases) Leave(ctx context.Context, instance string) error {
	if _, err := l.d.db.ExecContext(ctx, `DELETE FROM instances WHERE id = $1`, instance); err != nil {
		return fmt.Errorf("leave: %w", err)
	}
	return nil
}

// EnsureServers implements ntf.LeaseStore.
func (l *Leases) EnsureServers(ctx context.Context, servers []string) (int, error) {
	res, err := l.d.db.ExecContext(ctx, `INSERT INTO server_leases (server) SELECT unnest($1::TEXT[])
		ON CONFLICT (server) DO NOTHING`, servers)
	if err != nil {
		return 0, fmt.Errorf("ensure server leases: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// ServerQueues implements ntf.LeaseStore, paging by notifier id.
func (l *Leases) ServerQueues(ctx context.Context, server string, after []byte, limit int) ([]ntf.Queue, error) {
	qs, err := scanSubQueues(l.d.db.QueryContext(ctx, `SELECT `+subQueueColumns+` FROM subscription_queues
		WHERE server = $1 AND notifier_id > $2 AND status NOT IN `+finalStatuses+`
		ORDER BY notifier_id LIMIT $3`, server, nonNil(after), limit))
	if err != nil {
		return nil, fmt.Errorf("queues of %s: %w", server, err)
	}
	return qs, nil
}

// QueuesByID implements ntf.LeaseStore.
func (l *Leases) QueuesByID(ctx context.Context, server string, ids [][]byte) ([]ntf.Queue, error) {
	qs, err := scanSubQueues(l.d.db.QueryContext(ctx, `SELECT `+subQueueColumns+` FROM subscription_queues
		WHERE server = $1 AND notifier_id = ANY($2::BYTEA[]) AND status NOT IN `+finalStatuses, server, ids))
	if err != nil {
		return nil, fmt.Errorf("queues of %s: %w", server, err)
	}
	return qs, nil
}

// Publish implements ntf.LeaseStore with NOTIFY.
func (l *Leases) Publish(ctx context.Context, payload string) error {
	if _, err := l.d.db.ExecContext(ctx, `SELECT pg_notify($1, $2)`, l.channel, payload); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	return nil
}

// Listen implements ntf.LeaseStore with LISTEN on a connection of its
// own, taken out of the pool for as long as it listens.
func (l *Leases) Listen(ctx context.Context, ready func(), fn func(payload string)) error {
	conn, err := l.d.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer conn.Close()
	return conn.Raw(func(driverConn any) error {
		pc := driverConn.(*stdlib.Conn).Conn()
		if _, err := pc.Exec(ctx, "LISTEN "+pgx.Identifier{l.channel}.Sanitize()); err != nil {
			return fmt.Errorf("listen: %w", err)
		}
		// Unlisten before the connection goes back to the pool; if the
		// connection is broken this fails and the pool drops it.
		defer func() {
			uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			defer cancel()
			pc.Exec(uctx, "UNLISTEN *")
		}()
		ready()
		for {
			n, err := pc.WaitForNotification(ctx)
			if err != nil {
				return fmt.Errorf("listen: %w", err)
			}
			fn(n.Payload)
		}
	})
}
