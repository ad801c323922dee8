package ds

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trystgw/tryst/mls"
	"github.com/trystgw/tryst/qs"
)

// Queues is what the DS needs of the queueing service; *qs.Service is one.
type Queues interface {
	// Missing returns those of ids that name no queue.
	Missing(ctx context.Context, ids []qs.ID) ([]qs.ID, error)
	// Deliver appends data to the queues and wakes them.
	Deliver(ctx context.Context, ids []qs.ID, except qs.ID, data []byte) ([]qs.ID, error)
	// Delivered wakes queues another store appended to.
	Delivered(ctx context.Context, ids []qs.ID)
}

// Defaults of Config.
const (
	// DefaultCacheGroups bounds the groups whose public state stays in
	// memory between requests.
	DefaultCacheGroups = 1024
	// maxAttempts bounds retries after losing a compare-and-swap to
	// another instance; each retry reloads the group, so a stale commit
	// ends as wrong_epoch on the first.
	maxAttempts = 4
	lockStripes = 256
)

// Config tunes a Service; the zero value takes the defaults.
type Config struct {
	CacheGroups int
	Now         func() time.Time
	// MLSOptions are passed to the mls package (e.g. mls.WithClock).
	MLSOptions []mls.Option
	// Sender signs the Remove proposals the DS issues for members whose
	// queue is gone, in groups that list it as external sender; nil: the
	// DS proposes nothing (remove.go).
	Sender *SenderKeys
}

// Service processes DSMessages. It is safe for concurrent use.
type Service struct {
	store  Store
	queues Queues
	log    *slog.Logger
	cfg    Config
	seed   maphash.Seed
	locks  [lockStripes]sync.Mutex

	mu    sync.Mutex
	cache map[string]*groupState // guarded by mu

	stats counters
}

// NewService returns a Service over store, fanning out through queues.
func NewService(store Store, queues Queues, logger *slog.Logger, cfg Config) *Service {
	if cfg.CacheGroups <= 0 {
		cfg.CacheGroups = DefaultCacheGroups
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{store: store, queues: queues, log: logger, cfg: cfg, seed: maphash.MakeSeed(),
		cache: map[string]*groupState{}}
}

// Sender returns the keys the DS signs its proposals with, nil if it
// issues none.
func (s *Service) Sender() *SenderKeys { return s.cfg.Sender }

// groupState is a group's state as the service works on it.
type groupState struct {
	version   uint64
	pg        *mls.PublicGroup
	members   map[uint32]Member
	kpRefs    map[string]uint32
	groupInfo []byte
	// removing are the leaves with a Remove proposal pending this epoch.
	removing map[uint32]bool
}

// outcome is what an operation decided: the response, the change to
// store (nil for none) and how to update the cached state once stored.
type outcome struct {
	resp   Response
	change *Change
	// deliver is fanned out without a stored change (application
	// messages: they do not change the group).
	deliver *Delivery
	apply   func(st *groupState)
	// deleted reports a deleted group.
	deleted bool
}

func refused(code Code, epoch uint64, format string, args ...any) outcome {
	return outcome{resp: Response{Code: code, Epoch: epoch, Body: fmt.Appendf(nil, format, args...)}}
}

// Handle processes one encoded DSMessage. A processed request, accepted
// or refused, gives a Response; an error (ErrMalformed, ErrTooLarge,
// ErrGroupNotFound, ErrUnknownSender, ErrBadSignature, ErrUnknownRequest,
// or a store failure) means nothing was processed and nothing changed.
func (s *Service) Handle(ctx context.Context, b []byte) (*Response, error) {
	m, err := DecodeMessage(b)
	if err != nil {
		s.stats.malformed.Add(1)
		return nil, err
	}
	lock := &s.locks[maphash.Bytes(s.seed, m.Request.GroupID)%lockStripes]
	lock.Lock()
	defer lock.Unlock()
	for range maxAttempts - 1 {
		resp, err := s.attempt(ctx, m)
		if !errors.Is(err, ErrConflict) {
			return resp, err
		}
		s.stats.conflicts.Add(1)
	}
	return s.attempt(ctx, m)
}

// attempt processes m against the stored group once.
func (s *Service) attempt(ctx context.Context, m *Message) (*Response, error) {
	if m.Request.Type == RequestCreateGroup {
		return s.createGroup(ctx, m)
	}
	st, err := s.load(ctx, m.Request.GroupID)
	if err != nil {
		return nil, err
	}
	snd, err := s.authenticate(st, m)
	if err != nil {
		s.stats.rejected.Add(1)
		return nil, err
	}
	o, err := s.operate(ctx, st, snd, m)
	if err != nil {
		s.forget(m.Request.GroupID)
		return nil, err
	}
	rejected, err := s.commit(ctx, st, m.Request.GroupID, o)
	if err != nil {
		return nil, err
	}
	s.count(m.Request.Type, o.resp.Code)
	s.proposeRemovals(ctx, st, rejected)
	return &o.resp, nil
}

// commit stores an outcome's change, then updates the cache and wakes
// the queues delivered to. It returns the queues that rejected a delivery.
func (s *Service) commit(ctx context.Context, st *groupState, gid []byte, o outcome) ([]qs.ID, error) {
	switch {
	case o.deleted:
		s.forget(gid)
		return nil, s.store.Delete(ctx, gid, st.version)
	case o.change != nil:
		delivered, err := s.store.Update(ctx, *o.change, s.cfg.Now())
		if err != nil {
			s.forget(gid) // operations may have touched the cached group
			return nil, err
		}
		st.version++
		if o.apply != nil {
			o.apply(st)
		}
		s.queues.Delivered(ctx, delivered)
		return rejectedQueues(o.change.Deliveries, delivered), nil
	case o.deliver != nil:
		delivered, err := s.queues.Deliver(ctx, o.deliver.Queues, o.deliver.Except, o.deliver.Data)
		if err != nil {
			return nil, err
		}
		return rejectedQueues([]Delivery{*o.deliver}, delivered), nil
	}
	return nil, nil
}

func (s *Service) operate(ctx context.Context, st *groupState, snd sender, m *Message) (outcome, error) {
	switch m.Request.Type {
	case RequestDeleteGroup:
		return s.deleteGroup(st, snd, m)
	case RequestUpdateQueueConfig:
		return s.updateQueue(ctx, st, snd, m)
	case RequestSendProposal:
		return s.sendProposal(st, snd, m)
	case RequestSendCommit:
		return s.sendCommit(ctx, st, snd, m)
	case RequestSendMessage:
		return s.sendMessage(st, snd, m)
	case RequestGroupInfo:
		return s.groupInfo(st, m)
	}
	return outcome{}, fmt.Errorf("%w %d", ErrUnknownRequest, m.Request.Type)
}

// load returns the group's state, from the cache if it is current.
func (s *Service) load(ctx context.Context, gid []byte) (*groupState, error) {
	version, _, err := s.store.Version(ctx, gid)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	st := s.cache[string(gid)]
	s.mu.Unlock()
	if st != nil && st.version == version {
		return st, nil
	}
	g, err := s.store.Get(ctx, gid)
	if err != nil {
		return nil, err
	}
	if st, err = s.restore(g); err != nil {
		return nil, fmt.Errorf("restoring group: %w", err)
	}
	s.remember(gid, st)
	return st, nil
}

// restore rebuilds a group's state from the store; the stored state was
// validated when written, so only the proposals are processed again.
func (s *Service) restore(g Group) (*groupState, error) {
	s.stats.restores.Add(1)
	pg, err := mls.RestorePublicGroup(g.Header, g.Nodes, s.cfg.MLSOptions...)
	if err != nil {
		return nil, err
	}
	st := &groupState{version: g.Version, pg: pg, members: map[uint32]Member{}, kpRefs: map[string]uint32{},
		groupInfo: g.GroupInfo, removing: map[uint32]bool{}}
	for _, p := range g.Proposals {
		msg, err := mls.DecodeMLSMessage(p)
		if err != nil {
			return nil, err
		}
		pp, err := pg.ProcessProposal(msg)
		if err != nil {
			return nil, err
		}
		st.noteProposal(pp.Proposal)
	}
	for _, mb := range g.Members {
		st.setMember(mb)
	}
	return st, nil
}

// noteProposal records a pending Remove, so the DS does not propose
// the same removal again.
func (st *groupState) noteProposal(p *mls.Proposal) {
	if p.Type == mls.ProposalRemove {
		st.removing[p.Removed] = true
	}
}

func (st *groupState) setMember(mb Member) {
	if old, ok := st.members[mb.Leaf]; ok && len(old.KeyPackageRef) > 0 {
		delete(st.kpRefs, string(old.KeyPackageRef))
	}
	st.members[mb.Leaf] = mb
	if len(mb.KeyPackageRef) > 0 {
		st.kpRefs[string(mb.KeyPackageRef)] = mb.Leaf
	}
}

func (st *groupState) deleteMember(l uint32) {
	if old, ok := st.members[l]; ok && len(old.KeyPackageRef) > 0 {
		delete(st.kpRefs, string(old.KeyPackageRef))
	}
	delete(st.members, l)
}

// fanOut is a delivery of data to every member but the one at leaf
// sender (-1: none), by the sender's queue.
func (st *groupState) fanOut(sender int64, data []byte) Delivery {
	d := Delivery{Queues: make([]qs.ID, 0, len(st.members)), Data: data}
	for l, mb := range st.members {
		d.Queues = append(d.Queues, mb.Queue)
		if int64(l) == sender {
			d.Except = mb.Queue
		}
	}
	return d
}

func (s *Service) remember(gid []byte, st *groupState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.cache) >= s.cfg.CacheGroups {
		for k := range s.cache { // evict one arbitrary group
			delete(s.cache, k)
			break
		}
	}
	s.cache[string(gid)] = st
}

func (s *Service) forget(gid []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.cache, string(gid))
}

// Stats is a snapshot of the service's counters.
type Stats struct {
	// Requests counts processed requests by type and response code.
	Requests map[RequestType]map[Code]uint64
	// Malformed and Rejected count requests that were not processed
	// (undecodable; unauthenticated).
	Malformed, Rejected uint64
	// Conflicts counts compare-and-swap losses to another instance;
	// Restores, groups rebuilt from the store.
	Conflicts, Restores uint64
	// Removals counts the Remove proposals the DS issued for members
	// whose queue is gone; Unremovable, such members of groups that do
	// not list the DS as external sender.
	Removals, Unremovable uint64
}

type counters struct {
	mu                                       sync.Mutex
	requests                                 map[RequestType]map[Code]uint64
	malformed, rejected, conflicts, restores atomic.Uint64
	removals, unremovable                    atomic.Uint64
}

func (s *Service) count(t RequestType, c Code) {
	s.stats.mu.Lock()
	defer s.stats.mu.Unlock()
	if s.stats.requests == nil {
		s.stats.requests = map[RequestType]map[Code]uint64{}
	}
	if s.stats.requests[t] == nil {
		s.stats.requests[t] = map[Code]uint64{}
	}
	s.stats.requests[t][c]++
}

// Stats returns a snapshot of the counters.
func (s *Service) Stats() Stats {
	s.stats.mu.Lock()
	req := make(map[RequestType]map[Code]uint64, len(s.stats.requests))
	for t, m := range s.stats.requests {
		req[t] = make(map[Code]uint64, len(m))
		for c, n := range m {
			req[t][c] = n
		}
	}
	s.stats.mu.Unlock()
	return Stats{Requests: req, Malformed: s.stats.malformed.Load(), Rejected: s.stats.rejected.Load(),
		Conflicts: s.stats.conflicts.Load(), Restores: s.stats.restores.Load(),
		Removals: s.stats.removals.Load(), Unremovable: s.stats.unremovable.Load()}
}
