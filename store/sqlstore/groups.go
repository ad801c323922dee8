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

	"github.com/trystgw/tryst/ds"
	"github.com/trystgw/tryst/mls"
	"github.com/trystgw/tryst/qs"
)

// Groups is the ds.Store over the ds_* tables. Its updates are a
// compare-and-swap on ds_groups.version: the conditional UPDATE of the
// group row comes first in the transaction, so on PostgreSQL a racing
// update of the same version waits for the row lock and then matches no
// row, and SQLite's write transactions are exclusive anyway.
type Groups struct {
	d *DB
}

var _ ds.Store = (*Groups)(nil)

// Groups returns the group store.
func (d *DB) Groups() *Groups { return &Groups{d: d} }

// Create implements ds.Store.
func (s *Groups) Create(ctx context.Context, g ds.Group, at time.Time) error {
	err := s.d.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO ds_groups (group_id, version, epoch, header, group_info, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (group_id) DO NOTHING`,
			g.ID, int64(g.Version), int64(g.Epoch), g.Header, g.GroupInfo, at.UnixMilli())
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return errors.Join(ds.ErrGroupExists, err)
		}
		if err := putNodes(ctx, tx, g.ID, g.Nodes); err != nil {
			return err
		}
		return putMembers(ctx, tx, g.ID, g.Members)
	})
	if err != nil {
		return fmt.Errorf("create group: %w", err)
	}
	return nil
}

// Version implements ds.Store.
func (s *Groups) Version(ctx context.Context, id []byte) (uint64, uint64, error) {
	var version, epoch int64
	err := s.d.db.QueryRowContext(ctx, `SELECT version, epoch FROM ds_groups WHERE group_id = $1`, id).Scan(&version, &epoch)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, ds.ErrGroupNotFound
	}
	if err != nil {
		return 0, 0, fmt.Errorf("group version: %w", err)
	}
	return uint64(version), uint64(epoch), nil
}

// Get implements ds.Store. It reads in one transaction, so the parts
// belong to one version.
func (s *Groups) Get(ctx context.Context, id []byte) (ds.Group, error) {
	g := ds.Group{ID: id}
	err := s.d.inTx(ctx, func(tx *sql.Tx) error {
		var version, epoch int64
		err := tx.QueryRowContext(ctx, `SELECT version, epoch, header, group_info FROM ds_groups WHERE group_id = $1`, id).
			Scan(&version, &epoch, &g.Header, &g.GroupInfo)
		if errors.Is(err, sql.ErrNoRows) {
			return ds.ErrGroupNotFound
		}
		if err != nil {
			return err
		}
		g.Version, g.Epoch = uint64(version), uint64(epoch)
		if g.Nodes, err = getNodes(ctx, tx, id); err != nil {
			return err
		}
		if g.Members, err = getMembers(ctx, tx, id); err != nil {
			return err
		}
		g.Proposals, err = getProposals(ctx, tx, id)
		return err
	})
	if err != nil {
		return ds.Group{}, fmt.Errorf("get group: %w", err)
	}
	return g, nil
}

func getNodes(ctx context.Context, tx *sql.Tx, id []byte) ([]mls.NodeRecord, error) {
	rows, err := tx.QueryContext(ctx, `SELECT node, data FROM ds_nodes WHERE group_id = $1 ORDER BY node`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []mls.NodeRecord
	for rows.Next() {
		var r mls.NodeRecord
		var node int64
		if err := rows.Scan(&node, &r.Data); err != nil {
			return nil, err
		}
		r.Index = mls.NodeIndex(node)
		out = append(out, r)
	}
	return out, rows.Err()
}

func getMembers(ctx context.Context, tx *sql.Tx, id []byte) ([]ds.Member, error) {
	rows, err := tx.QueryContext(ctx, `SELECT leaf, queue_id, key_package_ref FROM ds_members WHERE group_id = $1 ORDER BY leaf`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ds.Member
	for rows.Next() {
		var m ds.Member
		var leaf int64
		var queue string
		if err := rows.Scan(&leaf, &queue, &m.KeyPackageRef); err != nil {
			return nil, err
		}
		m.Leaf, m.Queue = uint32(leaf), qs.ID(queue)
		out = append(out, m)
	}
	return out, rows.Err()
}

func getProposals(ctx context.Context, tx *sql.Tx, id []byte) ([][]byte, error) {
	rows, err := tx.QueryContext(ctx, `SELECT message FROM ds_proposals WHERE group_id = $1 ORDER BY seq`, id)
	if err != nil {
		return nil, err
	}
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

// Update implements ds.Store.
func (s *Groups) Update(ctx context.Context, c ds.Change, at time.Time) ([]qs.ID, error) {
	var delivered []qs.ID
	err := s.d.inTx(ctx, func(tx *sql.Tx) error {
		delivered = nil
		if err := swapGroupRow(ctx, tx, c, at); err != nil {
			return err
		}
		if err := applyTree(ctx, tx, c.GroupID, c.Tree); err != nil {
			return err
		}
		if err := deleteMembers(ctx, tx, c.GroupID, c.DeleteMembers); err != nil {
			return err
		}
		if err := putMembers(ctx, tx, c.GroupID, c.PutMembers); err != nil {
			return err
		}
		if err := changeProposals(ctx, tx, c); err != nil {
			return err
		}
		for _, d := range c.Deliveries {
			got, err := enqueueTx(ctx, tx, d.Queues, d.Except, d.Data, at)
			if err != nil {
				return err
			}
			delivered = append(delivered, got...)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("update group: %w", err)
	}
	return dedupe(delivered), nil
}

// swapGroupRow moves the group row from c.Version to c.Version+1.
func swapGroupRow(ctx context.Context, tx *sql.Tx, c ds.Change, at time.Time) error {
	q := `UPDATE ds_groups SET version = version + 1, epoch = $3, updated_at = $4`
	args := []any{c.GroupID, int64(c.Version), int64(c.Epoch), at.UnixMilli()}
	if c.Header != nil {
		args = append(args, c.Header)
		q += `, header = $` + strconv.Itoa(len(args))
	}
	if c.GroupInfo != nil {
		args = append(args, c.GroupInfo)
		q += `, group_info = $` + strconv.Itoa(len(args))
	}
	res, err := tx.ExecContext(ctx, q+` WHERE group_id = $1 AND version = $2`, args...)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return errors.Join(ds.ErrConflict, err)
	}
	return nil
}

func applyTree(ctx context.Context, tx *sql.Tx, id []byte, t *mls.TreeChanges) error {
	if t == nil {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM ds_nodes WHERE group_id = $1 AND node >= $2`, id, int64(t.Width)); err != nil {
		return err
	}
	for batch := range slices.Chunk(t.Delete, maxInList) {
		args := []any{id}
		for _, x := range batch {
			args = append(args, int64(x))
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM ds_nodes WHERE group_id = $1 AND node IN `+inList(2, len(batch)), args...); err != nil {
			return err
		}
	}
	return putNodes(ctx, tx, id, t.Put)
}

// insertRows runs "prefix VALUES (...), (...) suffix" with width
// parameters per row, in batches.
func insertRows(ctx context.Context, tx *sql.Tx, prefix, suffix string, width int, rows [][]any) error {
	perBatch := maxInList / width
	for batch := range slices.Chunk(rows, perBatch) {
		var b strings.Builder
		b.WriteString(prefix + " VALUES ")
		args := make([]any, 0, len(batch)*width)
		for i, r := range batch {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(inList(len(args)+1, width))
			args = append(args, r...)
		}
		if _, err := tx.ExecContext(ctx, b.String()+" "+suffix, args...); err != nil {
			return err
		}
	}
	return nil
}

func putNodes(ctx context.Context, tx *sql.Tx, id []byte, nodes []mls.NodeRecord) error {
	rows := make([][]any, len(nodes))
	for i, n := range nodes {
		rows[i] = []any{id, int64(n.Index), n.Data}
	}
	return insertRows(ctx, tx, `INSERT INTO ds_nodes (group_id, node, data)`,
		`ON CONFLICT (group_id, node) DO UPDATE SET data = excluded.data`, 3, rows)
}

func putMembers(ctx context.Context, tx *sql.Tx, id []byte, ms []ds.Member) error {
	rows := make([][]any, len(ms))
	for i, m := range ms {
		ref := m.KeyPackageRef
		if ref == nil {
			ref = []byte{}
		}
		rows[i] = []any{id, int64(m.Leaf), string(m.Queue), ref}
	}
	return insertRows(ctx, tx, `INSERT INTO ds_members (group_id, leaf, queue_id, key_package_ref)`,
		`ON CONFLICT (group_id, leaf) DO UPDATE SET queue_id = excluded.queue_id, key_package_ref = excluded.key_package_ref`, 4, rows)
}

func deleteMembers(ctx context.Context, tx *sql.Tx, id []byte, leaves []uint32) error {
	for batch := range slices.Chunk(leaves, maxInList) {
		args := []any{id}
		for _, l := range batch {
			args = append(args, int64(l))
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM ds_members WHERE group_id = $1 AND leaf IN `+inList(2, len(batch)), args...); err != nil {
			return err
		}
	}
	return nil
}

func changeProposals(ctx context.Context, tx *sql.Tx, c ds.Change) error {
	if c.ClearProposals {
		if _, err := tx.ExecContext(ctx, `DELETE FROM ds_proposals WHERE group_id = $1`, c.GroupID); err != nil {
			return err
		}
	}
	if c.AddProposal == nil {
		return nil
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO ds_proposals (group_id, seq, message)
		SELECT $1, COALESCE(MAX(seq), 0) + 1, $2 FROM ds_proposals WHERE group_id = $1`, c.GroupID, c.AddProposal)
	return err
}

// Delete implements ds.Store.
func (s *Groups) Delete(ctx context.Context, id []byte, version uint64) error {
	err := s.d.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM ds_groups WHERE group_id = $1 AND version = $2`, id, int64(version))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return errors.Join(ds.ErrConflict, err)
		}
		for _, table := range []string{"ds_nodes", "ds_members", "ds_proposals"} {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE group_id = $1`, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete group: %w", err)
	}
	return nil
}
