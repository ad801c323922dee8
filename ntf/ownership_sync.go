package ntf

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"time"
)

// rebalance releases servers beyond the instance's share, or acquires
// free and expired ones up to it.
func (o *Ownership) rebalance(ctx context.Context, quota int, sent time.Time) {
	held := o.held()
	switch {
	case len(held) > quota:
		// Release the last ones by name, so instances agree on little
		// and converge anyway: the share is what counts.
		slices.SortFunc(held, func(a, b Lease) int { return cmp.Compare(a.Server, b.Server) })
		o.release(ctx, held[quota:])
	case len(held) < quota:
		got, err := o.store.Acquire(ctx, o.cfg.Instance, quota-len(held), o.cfg.Lease)
		if err != nil {
			o.logFailure("acquiring leases", err)
			return
		}
		for _, l := range got {
			o.own(ctx, l, sent)
		}
	}
}

// release gives the leases up: first the connections close, then the
// store frees the leases, and the other instances are told to look.
func (o *Ownership) release(ctx context.Context, ls []Lease) {
	for _, l := range ls {
		o.drop(l.Server, l.Generation)
	}
	if err := o.store.Release(ctx, o.cfg.Instance, ls); err != nil {
		o.logFailure("releasing leases", err) // they expire instead
		return
	}
	o.stats.released.Add(int64(len(ls)))
	o.log.Info("servers released", "count", len(ls))
	o.publish(ctx, notice{Kind: noticeRebalance})
}

// own starts holding an acquired lease: the server's queues are loaded
// and subscribed.
func (o *Ownership) own(ctx context.Context, l Lease, sent time.Time) {
	o.mu.Lock()
	o.owned[l.Server] = &tenure{gen: l.Generation, validUntil: sent.Add(o.cfg.Lease)}
	o.mu.Unlock()
	o.stats.acquired.Add(1)
	if l.Previous != "" && l.Previous != o.cfg.Instance {
		o.stats.takeovers.Add(1)
		o.log.Info("server taken over from an instance whose lease expired", "server", l.Server, "previous", l.Previous)
	} else {
		o.log.Info("server acquired", "server", l.Server)
	}
	go o.load(context.WithoutCancel(ctx), l)
}

// holds reports whether tenure gen of the server is still held.
func (o *Ownership) holds(server string, gen int64) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	t := o.owned[server]
	return t != nil && t.gen == gen
}

// load pages through the server's stored queues and hands them to the
// supervisor while tenure l lasts, retrying a failed page.
func (o *Ownership) load(ctx context.Context, l Lease) {
	var after []byte
	for attempt := 1; o.holds(l.Server, l.Generation); {
		page, err := o.store.ServerQueues(ctx, l.Server, after, loadPage)
		if err != nil {
			o.logFailure("loading the queues of an acquired server", err)
			time.Sleep(o.sup.backoff(attempt))
			attempt++
			continue
		}
		attempt = 1
		o.sup.Adopt(o.sup.openKeys(page))
		if len(page) < loadPage {
			return
		}
		after = page[len(page)-1].NotifierID
	}
}

// fence drops every server whose lease may end within a heartbeat
// without a renewal, checking four times a heartbeat.
func (o *Ownership) fence(ctx context.Context) {
	t := time.NewTicker(o.cfg.Heartbeat / 4)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, l := range o.expiring(time.Now().Add(o.cfg.Heartbeat)) {
			o.log.Warn("lease not renewed in time: giving the server up", "server", l.Server)
			o.stats.lost.Add(1)
			o.drop(l.Server, l.Generation)
		}
	}
}

// expiring returns the leases whose known end is before by.
func (o *Ownership) expiring(by time.Time) []Lease {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []Lease
	for server, t := range o.owned {
		if t.validUntil.Before(by) {
			out = append(out, Lease{Server: server, Generation: t.gen})
		}
	}
	return out
}

// leave, at shutdown with the supervisor stopped, releases every lease
// and the instance's row, and tells the others.
func (o *Ownership) leave() {
	ctx, cancel := context.WithTimeout(context.Background(), o.cfg.Heartbeat)
	defer cancel()
	held := o.held()
	o.mu.Lock()
	clear(o.owned)
	o.mu.Unlock()
	if err := o.store.Release(ctx, o.cfg.Instance, held); err != nil {
		o.log.Warn("releasing leases at shutdown failed: they expire instead", "err", err)
		return
	}
	o.stats.released.Add(int64(len(held)))
	if err := o.store.Leave(ctx, o.cfg.Instance); err != nil {
		o.log.Warn("leaving failed", "err", err)
	}
	o.publish(ctx, notice{Kind: noticeRebalance})
}

// Notice kinds.
const (
	noticeWatch     = "w" // queues added: their holder subscribes them
	noticeForget    = "f" // queues removed: their holder forgets them
	noticeRebalance = "r" // leases freed or servers added: look now
)

// notice is a change published to the other instances.
type notice struct {
	Kind   string   `json:"k"`
	From   string   `json:"i"`
	Server string   `json:"s,omitempty"`
	IDs    []string `json:"n,omitempty"` // notifier ids, base64url
}

// publish sends n to the other instances, logging a failure.
func (o *Ownership) publish(ctx context.Context, n notice) {
	n.From = o.cfg.Instance
	b, _ := json.Marshal(n)
	if err := o.store.Publish(ctx, string(b)); err != nil {
		o.logFailure("publishing a change notice", err)
	}
}

// listen takes change notices, listening again after a failure; each
// time it listens it reloads the held servers, to catch up on notices
// lost meanwhile.
func (o *Ownership) listen(ctx context.Context) {
	for attempt := 1; ctx.Err() == nil; attempt++ {
		err := o.store.Listen(ctx, func() {
			attempt = 0
			for _, l := range o.held() {
				go o.load(ctx, l)
			}
		}, func(payload string) { o.onNotice(ctx, payload) })
		if ctx.Err() != nil {
			return
		}
		o.logFailure("listening for change notices", err)
		select {
		case <-ctx.Done():
		case <-time.After(o.sup.backoff(max(attempt, 1))):
		}
	}
}

// onNotice applies another instance's change notice.
func (o *Ownership) onNotice(ctx context.Context, payload string) {
	var n notice
	if err := json.Unmarshal([]byte(payload), &n); err != nil || n.From == o.cfg.Instance {
		return
	}
	if n.Kind == noticeRebalance {
		o.kickNow()
		return
	}
	if !o.Owns(n.Server) {
		return
	}
	ids := make([][]byte, 0, len(n.IDs))
	for _, s := range n.IDs {
		if id, err := base64.RawURLEncoding.DecodeString(s); err == nil {
			ids = append(ids, id)
		}
	}
	switch n.Kind {
	case noticeForget:
		refs := make([]QueueRef, len(ids))
		for i, id := range ids {
			refs[i] = QueueRef{Server: n.Server, NotifierID: id}
		}
		o.sup.Forget(refs)
	case noticeWatch:
		ctx, cancel := context.WithTimeout(ctx, noticeTimeout)
		defer cancel()
		qs, err := o.store.QueuesByID(ctx, n.Server, ids)
		if err != nil {
			o.logFailure("reading queues of a change notice", err)
			return
		}
		o.sup.Adopt(o.sup.openKeys(qs))
	}
}
