package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/trystgw/tryst/ds"
)

// SenderSecrets is the ds.SecretStore over the ds_sender table.
type SenderSecrets struct {
	d *DB
}

var _ ds.SecretStore = (*SenderSecrets)(nil)

// SenderSecrets returns the store of the DS's sealed signing secret.
func (d *DB) SenderSecrets() *SenderSecrets { return &SenderSecrets{d: d} }

// SenderSecret implements ds.SecretStore: the insert does nothing when
// the row exists (another instance won the race), and the read that
// follows returns the row either way.
func (s *SenderSecrets) SenderSecret(ctx context.Context, sealed []byte) ([]byte, error) {
	if _, err := s.d.db.ExecContext(ctx, `INSERT INTO ds_sender (id, sealed, created_at) VALUES (1, $1, $2)
		ON CONFLICT (id) DO NOTHING`, sealed, time.Now().UnixMilli()); err != nil {
		return nil, fmt.Errorf("storing the DS sender secret: %w", err)
	}
	var stored []byte
	if err := s.d.db.QueryRowContext(ctx, `SELECT sealed FROM ds_sender WHERE id = 1`).Scan(&stored); err != nil {
		return nil, fmt.Errorf("reading the DS sender secret: %w", err)
	}
	return stored, nil
}
