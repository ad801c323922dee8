package ds_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/trystgw/tryst/ds"
	"github.com/trystgw/tryst/ds/dstest"
	"github.com/trystgw/tryst/qs"
	"github.com/trystgw/tryst/store/sqlstore/sqlstoretest"
)

// benchBackends are the durable stores the benchmarks run on (a memory
// store would measure nothing the DS does in production).
var benchBackends = []struct {
	name string
	url  func(testing.TB) string
}{
	{"SQLite", sqlstoretest.SQLiteURL},
	{"Postgres", sqlstoretest.PostgresURL},
}

// countingStore measures what the DS writes of group state: header,
// GroupInfo, node records and member rows (fan-out is counted apart).
type countingStore struct {
	ds.Store
	mu                   sync.Mutex
	stateBytes, nodeRecs int
	fanout               int
}

func (s *countingStore) Update(ctx context.Context, c ds.Change, at time.Time) ([]qs.ID, error) {
	s.mu.Lock()
	n := len(c.Header) + len(c.GroupInfo) + len(c.AddProposal)
	if c.Tree != nil {
		for _, r := range c.Tree.Put {
			n += len(r.Data) + 8
		}
		s.nodeRecs += len(c.Tree.Put) + len(c.Tree.Delete)
	}
	for _, m := range c.PutMembers {
		n += len(m.Queue) + len(m.KeyPackageRef) + 8
	}
	for _, d := range c.Deliveries {
		s.fanout += len(d.Queues)
	}
	s.stateBytes += n
	s.mu.Unlock()
	return s.Store.Update(ctx, c, at)
}

func (s *countingStore) reset() {
	s.mu.Lock()
	s.stateBytes, s.nodeRecs, s.fanout = 0, 0, 0
	s.mu.Unlock()
}

// benchGroup builds a group of n members on in, each with its own queue
// (so a commit fans out to n queues), added in batches. It returns alice
// (leaf 0) and a queue for joiners.
func benchGroup(b *testing.B, in *instance, n int) (*dstest.Client, *dstest.Client) {
	alice := in.client(b)
	joinQueue := in.client(b)
	gid := groupID()
	in.mustOK(b, alice.CreateGroup(b, gid))
	for added := 1; added < n; {
		batch := make([]*dstest.Client, 0, 500)
		for ; added < n && len(batch) < cap(batch); added++ {
			batch = append(batch, in.client(b))
		}
		p := alice.AddCommit(b, batch...)
		in.mustOK(b, p.Request)
		alice.Accepted(b, p)
	}
	return alice, joinQueue
}

// BenchmarkCommit: accepted add commits per second and the group state
// written per commit, by group size. Each commit adds one member (by
// value, all sharing one queue) and fans out to every member's queue.
func BenchmarkCommit(b *testing.B) {
	for _, be := range benchBackends {
		for _, n := range []int{10, 100, 1000, 10000} {
			b.Run(fmt.Sprintf("%s/members=%d", be.name, n), func(b *testing.B) {
				in := newInstance(b, be.url(b))
				cs := &countingStore{Store: in.db.Groups()}
				in.ds = ds.NewService(cs, in.queues, slog.New(slog.DiscardHandler), ds.Config{})
				alice, shared := benchGroup(b, in, n)
				joiners := make([]*dstest.Client, b.N)
				for i := range joiners {
					joiners[i] = dstest.NewClient(b, suite, shared.Queue, shared.QueueSecret)
				}
				cs.reset()
				b.ResetTimer()
				for i := range b.N {
					p := alice.AddCommit(b, joiners[i])
					in.mustOK(b, p.Request)
					alice.Accepted(b, p)
				}
				elapsed := b.Elapsed()
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "commits/s")
				b.ReportMetric(float64(cs.stateBytes)/float64(b.N), "state_B/commit")
				b.ReportMetric(float64(cs.nodeRecs)/float64(b.N), "node_records/commit")
				b.ReportMetric(float64(cs.fanout)/float64(b.N), "recipients/commit")
			})
		}
	}
}

// BenchmarkAppMessage: application messages per second fanned out to a
// 100-member group, one sender.
func BenchmarkAppMessage(b *testing.B) {
	for _, be := range benchBackends {
		b.Run(be.name+"/members=100", func(b *testing.B) {
			in := newInstance(b, be.url(b))
			alice, _ := benchGroup(b, in, 100)
			msgs := make([][]byte, b.N)
			for i := range msgs {
				msgs[i] = alice.AppMessage(b, 100)
			}
			b.ResetTimer()
			for _, m := range msgs {
				in.mustOK(b, m)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			b.ReportMetric(float64(b.N*99)/b.Elapsed().Seconds(), "deliveries/s")
		})
	}
}

// BenchmarkFanOutLatency: time from submitting an application message to
// its arrival at the last of 99 members' long-polls (p50, p99).
func BenchmarkFanOutLatency(b *testing.B) {
	for _, be := range benchBackends {
		b.Run(be.name+"/members=100", func(b *testing.B) {
			in := newInstance(b, be.url(b))
			alice := in.client(b)
			members := make([]*dstest.Client, 99)
			for i := range members {
				members[i] = in.client(b)
			}
			gid := groupID()
			in.mustOK(b, alice.CreateGroup(b, gid))
			p := alice.AddCommit(b, members...)
			in.mustOK(b, p.Request)
			alice.Accepted(b, p)
			arrived := make(chan time.Time, len(members))
			ctx, cancel := context.WithCancel(b.Context())
			var wg sync.WaitGroup
			for _, m := range members {
				wg.Go(func() { pollLoop(ctx, in, m, arrived) })
			}
			msgs := make([][]byte, b.N)
			for i := range msgs {
				msgs[i] = alice.AppMessage(b, 100)
			}
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for _, msg := range msgs {
				start := time.Now()
				in.mustOK(b, msg)
				var last time.Time
				for range members {
					last = <-arrived
				}
				lat = append(lat, last.Sub(start))
			}
			b.StopTimer()
			cancel()
			wg.Wait()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50_µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99_µs")
		})
	}
}

// pollLoop long-polls m's queue, reporting each application message's
// arrival and acknowledging it, until ctx ends.
func pollLoop(ctx context.Context, in *instance, m *dstest.Client, arrived chan<- time.Time) {
	cred := qs.Credentials{ID: string(m.Queue), Secret: string(m.QueueSecret)}
	after := uint64(0)
	for ctx.Err() == nil {
		msgs, err := in.queues.Fetch(ctx, cred, after, 5*time.Second)
		if err != nil {
			return
		}
		for _, msg := range msgs {
			after = msg.Seq
			if len(msg.Data) > 4 && msg.Data[3] == 2 { // wire format private_message
				arrived <- time.Now()
			}
		}
		if len(msgs) > 0 {
			in.queues.Ack(ctx, cred, after)
		}
	}
}

// BenchmarkQueueFetchAck: a client fetching its backlog in batches (up
// to qs.DefaultFetchLimit) and acknowledging each batch.
func BenchmarkQueueFetchAck(b *testing.B) {
	for _, be := range benchBackends {
		b.Run(be.name, func(b *testing.B) {
			in := newInstance(b, be.url(b))
			q, secret, err := in.queues.Create(b.Context(), nil)
			if err != nil {
				b.Fatal(err)
			}
			for range b.N {
				if _, err := in.db.Queues().Enqueue(b.Context(), []qs.ID{q.ID}, "", make([]byte, 200), time.Now()); err != nil {
					b.Fatal(err)
				}
			}
			cred := qs.Credentials{ID: string(q.ID), Secret: string(secret)}
			after, done, rounds := uint64(0), 0, 0
			b.ResetTimer()
			for done < b.N {
				msgs, err := in.queues.Fetch(b.Context(), cred, after, 0)
				if err != nil || len(msgs) == 0 {
					b.Fatalf("Fetch = %d, %v", len(msgs), err)
				}
				after = msgs[len(msgs)-1].Seq
				if err := in.queues.Ack(b.Context(), cred, after); err != nil {
					b.Fatal(err)
				}
				done += len(msgs)
				rounds++
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			b.ReportMetric(float64(rounds)/b.Elapsed().Seconds(), "fetch+ack/s")
		})
	}
}
