package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"log/slog"
	"os"

	"github.com/trystgw/tryst/ntf"
	"github.com/trystgw/tryst/store/sqlstore"
)

// ownershipConfig tunes how instances sharing PostgreSQL divide the SMP
// servers (unused with SQLite, where one instance holds them all).
type ownershipConfig struct {
	instanceID string
	lease      ntf.OwnershipConfig
}

// addOwnershipFlags registers the flags of ownership on fs.
func addOwnershipFlags(fs *flag.FlagSet, c *ownershipConfig) {
	fs.StringVar(&c.instanceID, "instance-id", "", "this instance's name among those sharing a PostgreSQL database (default: host name and a random suffix, new at every start)")
	fs.DurationVar(&c.lease.Lease, "lease-duration", ntf.DefaultLease, "how long an SMP-server lease lasts unrenewed: a dead instance's servers are taken over after at most this (at least 3 heartbeats)")
	fs.DurationVar(&c.lease.Heartbeat, "heartbeat", ntf.DefaultHeartbeat, "how often an instance renews its leases and rebalances the SMP servers")
}

// check refuses a lease the heartbeat cannot renew in time.
func (c ownershipConfig) check() error {
	if c.lease.Heartbeat <= 0 || c.lease.Lease < 3*c.lease.Heartbeat {
		return fmt.Errorf("--lease-duration %v must be at least three --heartbeat %v", c.lease.Lease, c.lease.Heartbeat)
	}
	return nil
}

// defaultInstanceID is the host name with a random suffix: a restarted
// instance is a new one, so it never mistakes its predecessor's leases
// for its own.
func defaultInstanceID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "tryst"
	}
	b := make([]byte, 4)
	rand.Read(b)
	return host + "-" + hex.EncodeToString(b)
}

// newOwnership puts the supervisor under lease-based ownership when the
// database is shared; with SQLite it returns nil and the supervisor
// holds every server.
func newOwnership(ctx context.Context, cfg ownershipConfig, logger *slog.Logger, db *sqlstore.DB, sealer ntf.Sealer,
	newSupervisor func(owns func(string) bool, loadOnAcquire bool) *ntf.Supervisor) (*ntf.Supervisor, *ntf.Ownership, error) {
	if db.Kind() != "postgres" {
		return newSupervisor(nil, false), nil, nil
	}
	leases, err := db.Leases(ctx)
	if err != nil {
		return nil, nil, err
	}
	var own *ntf.Ownership
	sup := newSupervisor(func(server string) bool { return own.Owns(server) }, true)
	cfg.lease.Instance = cfg.instanceID
	if cfg.lease.Instance == "" {
		cfg.lease.Instance = defaultInstanceID()
	}
	if own, err = ntf.NewOwnership(leases, sup, sealer, logger, cfg.lease); err != nil {
		return nil, nil, err
	}
	logger.Info("smp servers shared with other instances", "instance", cfg.lease.Instance,
		"lease", cfg.lease.Lease.String(), "heartbeat", cfg.lease.Heartbeat.String())
	return sup, own, nil
}
