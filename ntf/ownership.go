package ntf

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Ownership defaults. A dead instance's servers are taken over at most
// DefaultLease after its last renewal plus one heartbeat; a live one
// renews every heartbeat, so it misses several before it must let go.
const (
	DefaultLease     = 10 * time.Second
	DefaultHeartbeat = 2 * time.Second
	// noticeTimeout bounds the database work of one change notice.
	noticeTimeout = 5 * time.Second
	// noticeIDs is how many notifier ids one notice carries, well under
	// NOTIFY's 8,000-byte payload limit.
	noticeIDs = 100
)

// Lease is an instance's hold on one SMP server's subscriptions.
// Generation grows at every acquisition: it names one holder's tenure.
type Lease struct {
	Server     string
	Generation int64
	// Previous is who held the lease before an acquisition: "" when it
	// was free (released or new), else an instance whose lease expired.
	Previous string
}

// Membership is what a heartbeat sees: the live instances, in a stable
// order, and how many SMP servers there are to share.
type Membership struct {
	Live    []string
	Servers int
}

// LeaseStore coordinates instances through a shared database. Times are
// the store's own clock. Implementations are safe for concurrent use.
type LeaseStore interface {
	// Heartbeat records the instance as live for ttl and returns the
	// membership.
	Heartbeat(ctx context.Context, instance string, ttl time.Duration) (Membership, error)
	// Renew extends by ttl those of held that the instance still holds
	// with the same generation, and returns them.
	Renew(ctx context.Context, instance string, held []Lease, ttl time.Duration) ([]Lease, error)
	// Acquire takes up to n leases that are free or expired, for ttl,
	// each with a new generation; concurrent callers take different ones.
	Acquire(ctx context.Context, instance string, n int, ttl time.Duration) ([]Lease, error)
	// Release frees those of held the instance still holds.
	Release(ctx context.Context, instance string, held []Lease) error
	// Leave forgets the instance.
	Leave(ctx context.Context, instance string) error
	// EnsureServers creates a free lease for each server that has none
	// and returns how many it created.
	EnsureServers(ctx context.Context, servers []string) (int, error)
	// ServerQueues pages through the server's queues whose status is
	// not final, by notifier id after after.
	ServerQueues(ctx context.Context, server string, after []byte, limit int) ([]Queue, error)
	// QueuesByID returns those of the named queues whose status is not
	// final.
	QueuesByID(ctx context.Context, server string, ids [][]byte) ([]Queue, error)
	// Publish sends a change notice to every listening instance.
	Publish(ctx context.Context, payload string) error
	// Listen calls ready once it listens, then fn with every notice,
	// until ctx ends or the connection fails (it returns the error).
	// Notices sent while no one listens are lost.
	Listen(ctx context.Context, ready func(), fn func(payload string)) error
}

// OwnershipConfig tunes an Ownership. Zero durations take the defaults.
type OwnershipConfig struct {
	// Instance names this instance; unique among those sharing the store.
	Instance string
	// Lease is how long a lease lasts unrenewed; Heartbeat how often
	// leases are renewed. Lease must be at least three heartbeats.
	Lease, Heartbeat time.Duration
}

func (c OwnershipConfig) withDefaults() (OwnershipConfig, error) {
	if c.Lease <= 0 {
		c.Lease = DefaultLease
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = DefaultHeartbeat
	}
	if c.Instance == "" {
		return c, errors.New("ntf: ownership needs an instance id")
	}
	if c.Lease < 3*c.Heartbeat {
		return c, fmt.Errorf("ntf: lease %v must be at least three heartbeats (%v)", c.Lease, c.Heartbeat)
	}
	return c, nil
}

// Ownership shares the SMP servers among the instances of one database:
// each server's subscriptions are held by the one instance holding its
// lease. Servers are spread evenly (each live instance, in the order of
// their ids, gets servers/instances, the first ones one more) and move
// when an instance joins or leaves; a dead instance's leases expire and
// are taken over.
//
// Fencing: a lease is known to last until the time its last renewal was
// sent plus the lease duration (the store stamps it later, by its own
// clock). An instance that could not renew drops the server's connection
// one heartbeat before that, so by the time another instance can acquire
// the lease, the old holder is off the server and no queue is ever
// subscribed from two instances at once (a second NSUB would END the
// first). A dropped server writes no statuses; the acquisition's new
// generation fences the old tenure in the store.
//
// Changes made through the API on any instance reach the holder through
// the store's notices (PostgreSQL LISTEN/NOTIFY: milliseconds, no
// polling load; a holder whose listening connection broke reloads its
// servers' queues once it listens again, so a lost notice is caught up).
//
// Ownership implements Watcher in front of the supervisor and runs it.
type Ownership struct {
	store  LeaseStore
	sup    *Supervisor
	sealer Sealer
	log    *slog.Logger
	cfg    OwnershipConfig
	kick   chan struct{}

	mu    sync.Mutex
	owned map[string]*tenure // guarded by mu; by server
	live  int                // guarded by mu; live instances at the last heartbeat
	stats ownershipCounters
}

// tenure is a held lease with the end this instance can be sure of, by
// its own clock.
type tenure struct {
	gen        int64
	validUntil time.Time
}

type ownershipCounters struct {
	renewals, acquired, takeovers, released, lost atomic.Int64
}

// NewOwnership returns the ownership of the servers whose queues sup
// holds. sup must have been made with Owns set to the result's Owns.
func NewOwnership(store LeaseStore, sup *Supervisor, sealer Sealer, logger *slog.Logger, cfg OwnershipConfig) (*Ownership, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Ownership{store: store, sup: sup, sealer: sealer, log: logger.With("instance", cfg.Instance), cfg: cfg,
		kick: make(chan struct{}, 1), owned: map[string]*tenure{}}, nil
}

// Owns reports whether this instance holds the server's lease: the
// supervisor's SupervisorConfig.Owns.
func (o *Ownership) Owns(server string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.owned[server] != nil
}

// Run runs the supervisor and keeps the leases until ctx ends; then it
// stops the supervisor (closing every SMP connection) and only then
// releases the leases, so the next holders start on free servers.
func (o *Ownership) Run(ctx context.Context) error {
	loops, stop := context.WithCancel(ctx)
	defer stop()
	supDone := make(chan error, 1)
	supCtx, stopSup := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSup()
	go func() {
		supDone <- o.sup.Run(supCtx)
		stop() // the supervisor failed: stop holding leases
	}()
	var wg sync.WaitGroup
	wg.Go(func() { o.listen(loops) })
	wg.Go(func() { o.fence(loops) })
	o.renewLoop(loops)
	wg.Wait()
	stopSup()
	err := <-supDone
	o.leave()
	if err == nil && ctx.Err() == nil {
		err = errors.New("smp supervisor stopped")
	}
	return err
}

// renewLoop heartbeats, renews and rebalances every heartbeat, and at
// once when kicked.
func (o *Ownership) renewLoop(ctx context.Context) {
	t := time.NewTicker(o.cfg.Heartbeat)
	defer t.Stop()
	for {
		o.tick(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-o.kick:
		}
	}
}

// kickNow makes renewLoop run a tick without waiting for the heartbeat.
func (o *Ownership) kickNow() {
	select {
	case o.kick <- struct{}{}:
	default:
	}
}

// tick is one heartbeat: renew what is held, drop what was lost, then
// release or acquire toward this instance's share.
func (o *Ownership) tick(ctx context.Context) {
	sent := time.Now()
	ctx, cancel := context.WithTimeout(ctx, o.cfg.Heartbeat)
	defer cancel()
	m, err := o.store.Heartbeat(ctx, o.cfg.Instance, o.cfg.Lease)
	if err != nil {
		o.logFailure("heartbeat", err)
		return
	}
	held := o.held()
	renewed, err := o.store.Renew(ctx, o.cfg.Instance, held, o.cfg.Lease)
	if err != nil {
		o.logFailure("renewing leases", err)
		return
	}
	o.confirm(held, renewed, sent)
	o.mu.Lock()
	o.live = len(m.Live)
	o.mu.Unlock()
	o.rebalance(ctx, share(o.cfg.Instance, m), sent)
}

func (o *Ownership) logFailure(what string, err error) {
	if !errors.Is(err, context.Canceled) {
		o.log.Warn(what+" failed", "err", err)
	}
}

// share is the number of servers the instance should hold: the servers
// split evenly over the live instances, the first ones by id taking one
// more, so the shares add up to the servers exactly.
func share(instance string, m Membership) int {
	rank := slices.Index(m.Live, instance)
	if rank < 0 || len(m.Live) == 0 {
		return 0
	}
	n := m.Servers / len(m.Live)
	if rank < m.Servers%len(m.Live) {
		n++
	}
	return n
}

// held returns the leases this instance holds.
func (o *Ownership) held() []Lease {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]Lease, 0, len(o.owned))
	for server, t := range o.owned {
		out = append(out, Lease{Server: server, Generation: t.gen})
	}
	return out
}

// confirm extends the tenures renewed and drops the held leases that
// were not: another instance has them now.
func (o *Ownership) confirm(held, renewed []Lease, sent time.Time) {
	ok := make(map[Lease]bool, len(renewed))
	for _, l := range renewed {
		ok[l] = true
	}
	for _, l := range held {
		if !ok[l] {
			o.log.Warn("lease lost: giving the server up", "server", l.Server)
			o.stats.lost.Add(1)
			o.drop(l.Server, l.Generation)
			continue
		}
		o.mu.Lock()
		if t := o.owned[l.Server]; t != nil && t.gen == l.Generation {
			t.validUntil = sent.Add(o.cfg.Lease)
		}
		o.mu.Unlock()
		o.stats.renewals.Add(1)
	}
}

// drop stops holding the server's queues (if tenure gen is still the
// held one), closing its connection before it returns.
func (o *Ownership) drop(server string, gen int64) {
	o.mu.Lock()
	t := o.owned[server]
	if t == nil || t.gen != gen {
		o.mu.Unlock()
		return
	}
	delete(o.owned, server)
	o.mu.Unlock()
	o.sup.Drop(server, o.cfg.Heartbeat)
}

// Watch implements Watcher: queues of servers this instance holds are
// subscribed here, the others' holders are told. A server new to the
// store gets a free lease and the instances look for it at once.
func (o *Ownership) Watch(qs []WatchedQueue) {
	o.sup.Watch(qs)
	byServer := map[string][][]byte{}
	for _, q := range qs {
		byServer[q.Ref.Server] = append(byServer[q.Ref.Server], q.Ref.NotifierID)
	}
	ctx, cancel := context.WithTimeout(context.Background(), noticeTimeout)
	defer cancel()
	added, err := o.store.EnsureServers(ctx, slices.Collect(maps.Keys(byServer)))
	if err != nil {
		o.logFailure("recording new servers", err)
	}
	o.tell(ctx, noticeWatch, byServer)
	if added > 0 {
		o.publish(ctx, notice{Kind: noticeRebalance})
		o.kickNow()
	}
}

// Forget implements Watcher: held queues are forgotten here, the
// others' holders are told.
func (o *Ownership) Forget(refs []QueueRef) {
	o.sup.Forget(refs)
	byServer := map[string][][]byte{}
	for _, r := range refs {
		byServer[r.Server] = append(byServer[r.Server], r.NotifierID)
	}
	ctx, cancel := context.WithTimeout(context.Background(), noticeTimeout)
	defer cancel()
	o.tell(ctx, noticeForget, byServer)
}

// tell publishes a notice of kind for the queues of each server this
// instance does not hold.
func (o *Ownership) tell(ctx context.Context, kind string, byServer map[string][][]byte) {
	for server, ids := range byServer {
		if o.Owns(server) {
			continue
		}
		for chunk := range slices.Chunk(ids, noticeIDs) {
			n := notice{Kind: kind, Server: server}
			for _, id := range chunk {
				n.IDs = append(n.IDs, base64.RawURLEncoding.EncodeToString(id))
			}
			o.publish(ctx, n)
		}
	}
}

// OwnershipStats is a snapshot of an instance's ownership.
type OwnershipStats struct {
	Instance string
	// ServersOwned is how many SMP servers' leases the instance holds;
	// LiveInstances how many instances the last heartbeat saw.
	ServersOwned, LiveInstances int
	// Renewals counts lease renewals; Acquired leases taken, Takeovers
	// those of them that had expired in another instance's hands;
	// Released leases given up; Lost leases dropped unrenewed.
	Renewals, Acquired, Takeovers, Released, Lost int64
}

// Stats returns a snapshot of the ownership's state and counters.
func (o *Ownership) Stats() OwnershipStats {
	o.mu.Lock()
	owned, live := len(o.owned), o.live
	o.mu.Unlock()
	return OwnershipStats{Instance: o.cfg.Instance, ServersOwned: owned, LiveInstances: live,
		Renewals: o.stats.renewals.Load(), Acquired: o.stats.acquired.Load(), Takeovers: o.stats.takeovers.Load(),
		Released: o.stats.released.Load(), Lost: o.stats.lost.Load()}
}
