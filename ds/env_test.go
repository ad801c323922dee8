package ds_test

import (
	"crypto/rand"
	"io"
	"log/slog"
	"testing"

	"github.com/trystgw/tryst/ds"
	"github.com/trystgw/tryst/ds/dstest"
	"github.com/trystgw/tryst/mls"
	"github.com/trystgw/tryst/qs"
	"github.com/trystgw/tryst/store/memstore"
	"github.com/trystgw/tryst/store/sqlstore"
	"github.com/trystgw/tryst/store/sqlstore/sqlstoretest"
)

// instance is one gateway's DS and QS over a database.
type instance struct {
	db     *sqlstore.DB
	ds     *ds.Service
	queues *qs.Service
}

func newInstance(t testing.TB, url string) *instance {
	return newInstanceWith(t, url, memstore.NewNotifier[qs.ID]())
}

// newInstanceWith is newInstance with the queue notifier given.
func newInstanceWith(t testing.TB, url string, n qs.Notifier) *instance {
	t.Helper()
	return newInstanceConfig(t, url, n, ds.Config{})
}

// newInstanceConfig is newInstanceWith with the DS's configuration.
func newInstanceConfig(t testing.TB, url string, n qs.Notifier, cfg ds.Config) *instance {
	t.Helper()
	db, err := sqlstore.Open(t.Context(), url)
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	t.Cleanup(func() { db.Close() })
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	q := qs.NewService(db.Queues(), n, nil, nil, logger, qs.Config{})
	return &instance{db: db, queues: q, ds: ds.NewService(db.Groups(), q, logger, cfg)}
}

func newSQLite(t testing.TB) *instance { return newInstance(t, sqlstoretest.SQLiteURL(t)) }

func newSQLiteURL(t testing.TB) string { return sqlstoretest.SQLiteURL(t) }

const suite = mls.CipherSuite(1)

// client makes a queue and a client receiving on it.
func (in *instance) client(t testing.TB) *dstest.Client {
	t.Helper()
	q, secret, err := in.queues.Create(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return dstest.NewClient(t, suite, q.ID, secret)
}

// send processes b and fails the test unless it was processed.
func (in *instance) send(t testing.TB, b []byte) *ds.Response {
	t.Helper()
	r, err := in.ds.Handle(t.Context(), b)
	if err != nil {
		t.Fatalf("Handle = %v", err)
	}
	return r
}

func (in *instance) mustOK(t testing.TB, b []byte) *ds.Response {
	t.Helper()
	r := in.send(t, b)
	if r.Code != ds.CodeOK {
		t.Fatalf("response %s (epoch %d): %s", r.Code, r.Epoch, r.Body)
	}
	return r
}

// fetch returns what is queued for c after c.After, without waiting.
func (in *instance) fetch(t testing.TB, c *dstest.Client) []qs.Message {
	t.Helper()
	msgs, err := in.queues.Fetch(t.Context(), qs.Credentials{ID: string(c.Queue), Secret: string(c.QueueSecret)}, c.After, 0)
	if err != nil {
		t.Fatalf("Fetch = %v", err)
	}
	return msgs
}

// drain processes and acknowledges everything queued for c.
func (in *instance) drain(t testing.TB, c *dstest.Client) {
	t.Helper()
	for {
		msgs := in.fetch(t, c)
		if len(msgs) == 0 {
			return
		}
		for _, m := range msgs {
			if err := c.Process(m.Data); err != nil {
				t.Fatalf("processing a queued message: %v", err)
			}
			c.After = m.Seq
		}
		err := in.queues.Ack(t.Context(), qs.Credentials{ID: string(c.Queue), Secret: string(c.QueueSecret)}, c.After)
		if err != nil {
			t.Fatal(err)
		}
	}
}

// join lets a welcomed client fetch the group and build its state.
func (in *instance) join(t testing.TB, c *dstest.Client, gid []byte) {
	t.Helper()
	in.drain(t, c)
	if !c.Welcomed {
		t.Fatal("no Welcome arrived")
	}
	r := in.mustOK(t, c.GroupInfoRequest(t, gid, c.AsKeyPackage()))
	if err := c.Join(t, r.Body); err != nil {
		t.Fatalf("Join = %v", err)
	}
	in.drain(t, c)
}

func groupID() []byte {
	b := make([]byte, 16)
	rand.Read(b)
	return b
}

// newGroup creates a group of alice and the others, each joined.
func (in *instance) newGroup(t testing.TB, alice *dstest.Client, others ...*dstest.Client) []byte {
	t.Helper()
	return in.newGroupWith(t, nil, alice, others...)
}

// newGroupWith is newGroup for a group created with GroupContext
// extensions exts.
func (in *instance) newGroupWith(t testing.TB, exts []mls.Extension, alice *dstest.Client, others ...*dstest.Client) []byte {
	t.Helper()
	gid := groupID()
	in.mustOK(t, alice.CreateGroupWith(t, gid, exts))
	if len(others) == 0 {
		return gid
	}
	p := alice.AddCommit(t, others...)
	in.mustOK(t, p.Request)
	alice.Accepted(t, p)
	for _, o := range others {
		in.join(t, o, gid)
	}
	return gid
}
