package sqlstore_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/trystgw/tryst/ntf"
	"github.com/trystgw/tryst/push"
	"github.com/trystgw/tryst/store/sqlstore"
)

// Shape of the scheduler benchmark: a million active tokens with daily
// checks spread evenly over the day, so each one-minute tick finds about
// 694 due.
const (
	benchTokens   = 1_000_000
	benchInterval = 24 * time.Hour
	benchTick     = time.Minute
)

var benchStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// fillSQL loads benchTokens active tokens in one statement per database:
// a recursive CTE on SQLite, generate_series on PostgreSQL.
var fillSQL = map[string]string{
	"sqlite": `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < $1 - 1)
		INSERT INTO tokens (id, platform, app, environment, device_token, dh_key, server_public_key, server_key_sealed,
			secret_hash, code_hash, status, check_interval_ms, next_check_at, created_at, updated_at)
		SELECT printf('%022d', i), 'apns', 'com.example.app', 'production', hex(randomblob(32)),
			randomblob(32), randomblob(32), randomblob(72), randomblob(32), randomblob(32), 'active',
			$2, $3 + i * $2 / $1, $3, $3 FROM n`,
	"postgres": `INSERT INTO tokens (id, platform, app, environment, device_token, dh_key, server_public_key, server_key_sealed,
			secret_hash, code_hash, status, check_interval_ms, next_check_at, created_at, updated_at)
		SELECT lpad(i::text, 22, '0'), 'apns', 'com.example.app', 'production', md5(i::text) || md5((-i)::text),
			decode(md5(i::text) || md5((-i)::text), 'hex'), decode(md5(i::text) || md5((-i)::text), 'hex'),
			decode(md5(i::text) || md5((-i)::text) || md5(i::text) || md5((-i)::text) || md5(i::text), 'hex'),
			decode(md5(i::text) || md5((-i)::text), 'hex'), decode(md5(i::text) || md5((-i)::text), 'hex'), 'active',
			$2::bigint, $3::bigint + i * $2::bigint / $1::bigint, $3::bigint, $3::bigint FROM generate_series(0, $1::bigint - 1) AS i`,
}

// nopPusher accepts every push and drops it.
type nopPusher struct{}

func (nopPusher) Enqueue(context.Context, *push.Notification) error { return nil }

// BenchmarkCheckTick measures one scheduler tick over a million tokens
// (loaded once per database): "due" claims the ~694 due tokens through
// the index and queues a push for each; "idle" finds none due, the cost
// of looking.
func BenchmarkCheckTick(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			db, err := sqlstore.Open(b.Context(), be.url(b))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			fill(b, db)
			b.Run("idle", func(b *testing.B) { benchTicks(b, db, benchStart.Add(-time.Hour), 0) })
			b.Run("due", func(b *testing.B) { benchTicks(b, db, benchStart, benchTick) })
		})
	}
}

// benchTicks runs scheduler ticks from start, moving the clock by step
// before each, and reports the pushes queued per tick.
func benchTicks(b *testing.B, db *sqlstore.DB, start time.Time, step time.Duration) {
	now := start
	sched := ntf.NewScheduler(db.Tokens(), nopPusher{}, slog.New(slog.DiscardHandler),
		ntf.SchedulerConfig{Now: func() time.Time { return now }})
	claimed := 0
	for b.Loop() {
		now = now.Add(step)
		n, err := sched.Tick(b.Context())
		if err != nil {
			b.Fatal(err)
		}
		claimed += n
	}
	b.ReportMetric(float64(claimed)/float64(b.N), "pushes/tick")
	if step > 0 && claimed == 0 {
		b.Fatal("no token was due")
	}
	if step == 0 && claimed != 0 {
		b.Fatalf("%d tokens claimed before any was due", claimed)
	}
}

func fill(b *testing.B, db *sqlstore.DB) {
	b.Helper()
	start := time.Now()
	_, err := db.SQL().ExecContext(b.Context(), fillSQL[db.Kind()], benchTokens, benchInterval.Milliseconds(), benchStart.UnixMilli())
	if err != nil {
		b.Fatalf("loading %d tokens: %v", benchTokens, err)
	}
	if db.Kind() == "postgres" {
		db.SQL().ExecContext(b.Context(), "ANALYZE tokens")
	}
	b.Logf("loaded %d tokens in %v", benchTokens, time.Since(start).Round(time.Millisecond))
}
