package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/trystgw/tryst/rendezvous"
)

var _ rendezvous.Store = (*Rendezvous)(nil)

// sessionFields are the hash fields of a session, in the order the scripts
// return them.
var sessionFields = []string{"p", "t", "s", "n", "c", "m", "e"}

// Rendezvous is a rendezvous.Store in Redis, shared by every instance that
// uses the same Redis database and prefix. It is safe for concurrent use.
// Errors caused by the transport wrap rendezvous.ErrUnavailable; when a
// method's ctx ends first, its error wraps ctx's error instead.
type Rendezvous struct {
	client *redis.Client
	pipe   *autoPipeline
	now    func() time.Time
	cfg    Config
	live   string // key of the live set
	sp     string // prefix of session keys

	// lastReclaim is when Reclaim last ran its script, in unix ns of now.
	lastReclaim atomic.Int64
}

// NewRendezvous returns a store over client reading time from now. It
// neither closes client nor contacts Redis.
func NewRendezvous(client *redis.Client, now func() time.Time, cfg Config) *Rendezvous {
	cfg = cfg.withDefaults()
	return &Rendezvous{client: client, pipe: &autoPipeline{client: client}, now: now, cfg: cfg, live: cfg.Prefix + "live", sp: cfg.Prefix + "s:"}
}

// Create implements rendezvous.Store. A session whose ID is taken fails
// with an error that wraps none of the rendezvous errors.
func (r *Rendezvous) Create(ctx context.Context, s rendezvous.Session, limit rendezvous.Limit) ([]rendezvous.ID, error) {
	now := r.now()
	evict := "0"
	if limit.EvictOldest {
		evict = "1"
	}
	res, err := r.pipe.evalSha(ctx, createScript, []string{r.sp + string(s.ID), r.live},
		r.sp, now.UnixMicro(), unixNano(now), max(limit.Max, 0), evict, string(s.ID),
		s.Expires.UnixMicro(), r.keyTTL(now, s.Expires),
		s.Payload, s.ContentType, s.Salt, s.Counter, unixNano(s.Created), unixNano(s.Modified), unixNano(s.Expires),
	).Slice()
	if err != nil {
		return nil, transportError(ctx, "create", err)
	}
	switch res[0] {
	case "dup":
		return nil, fmt.Errorf("redisstore: create %s: duplicate id", s.ID)
	case "full":
		return nil, rendezvous.ErrFull
	}
	ids, _ := res[1].([]any)
	var evicted []rendezvous.ID
	for _, id := range ids {
		evicted = append(evicted, rendezvous.ID(id.(string)))
	}
	return evicted, nil
}

// Get implements rendezvous.Store. It is one read, and writes nothing.
func (r *Rendezvous) Get(ctx context.Context, id rendezvous.ID) (rendezvous.Session, error) {
	args := make([]any, 0, 2+len(sessionFields))
	args = append(args, "hmget", r.sp+string(id))
	for _, f := range sessionFields {
		args = append(args, f)
	}
	cmd := redis.NewSliceCmd(ctx, args...)
	err := r.pipe.do(ctx, cmd)
	vals := cmd.Val()
	if err != nil {
		return rendezvous.Session{}, transportError(ctx, "get", err)
	}
	if vals[len(vals)-1] == nil {
		return rendezvous.Session{}, rendezvous.ErrNotFound
	}
	s, err := decodeSession(id, vals)
	if err != nil {
		return rendezvous.Session{}, err
	}
	if !r.now().Before(s.Expires) {
		return rendezvous.Session{}, rendezvous.ErrNotFound
	}
	return s, nil
}

// Update implements rendezvous.Store.
func (r *Rendezvous) Update(ctx context.Context, w rendezvous.Write) (rendezvous.Session, error) {
	now := r.now()
	expires, score, ttl := "", int64(0), int64(0)
	if !w.Expires.IsZero() {
		expires, score, ttl = unixNano(w.Expires), w.Expires.UnixMicro(), r.keyTTL(now, w.Expires)
	}
	res, err := r.pipe.evalSha(ctx, updateScript, []string{r.sp + string(w.ID), r.live},
		unixNano(now), w.IfMatch, w.Payload, w.ContentType, unixNano(w.Now), expires, score, ttl, string(w.ID),
	).Slice()
	if err != nil {
		return rendezvous.Session{}, transportError(ctx, "update", err)
	}
	if res[0] == "notfound" {
		return rendezvous.Session{}, rendezvous.ErrNotFound
	}
	s, err := decodeSession(w.ID, res[1:])
	if err != nil {
		return rendezvous.Session{}, err
	}
	if res[0] == "conflict" {
		return s, rendezvous.ErrConflict
	}
	return s, nil
}

// Delete implements rendezvous.Store.
func (r *Rendezvous) Delete(ctx context.Context, id rendezvous.ID) error {
	n, err := r.pipe.evalSha(ctx, deleteScript, []string{r.sp + string(id), r.live}, unixNano(r.now()), string(id)).Int()
	if err != nil {
		return transportError(ctx, "delete", err)
	}
	if n == 0 {
		return rendezvous.ErrNotFound
	}
	return nil
}

// Reclaim implements rendezvous.Store. It removes at most a batch of
// expired sessions per call, and runs at most once per reclaimEvery on
// each instance unless the last call filled its batch; calls in between
// return 0 at once. The count is of the sessions this call removed, so the
// counts of all instances add up to the sessions expired.
func (r *Rendezvous) Reclaim(ctx context.Context) (int, error) {
	now := r.now()
	last := r.lastReclaim.Load()
	if now.UnixNano()-last < int64(reclaimEvery) || !r.lastReclaim.CompareAndSwap(last, now.UnixNano()) {
		return 0, nil
	}
	n, err := reclaimScript.Run(ctx, r.client, []string{r.live}, r.sp, now.UnixMicro(), unixNano(now), reclaimBatch).Int()
	if err != nil {
		return 0, transportError(ctx, "reclaim", err)
	}
	if n == reclaimBatch {
		r.lastReclaim.Store(0) // more may be waiting: do not pause
	}
	return n, nil
}

// Len implements rendezvous.Store: the live sessions of all instances.
func (r *Rendezvous) Len(ctx context.Context) (int, error) {
	now := r.now()
	n, err := lenScript.Run(ctx, r.client, []string{r.live}, r.sp, now.UnixMicro(), unixNano(now)).Int()
	if err != nil {
		return 0, transportError(ctx, "len", err)
	}
	return n, nil
}

// Ping implements rendezvous.Store.
func (r *Rendezvous) Ping(ctx context.Context) error {
	if err := r.client.Ping(ctx).Err(); err != nil {
		return transportError(ctx, "ping", err)
	}
	return nil
}

// keyTTL returns how long, in milliseconds, Redis keeps a session expiring
// at expires: until then by the store's clock, plus the grace that covers
// the skew between that clock and Redis's.
func (r *Rendezvous) keyTTL(now, expires time.Time) int64 {
	return max(expires.Sub(now), 0).Milliseconds() + r.cfg.Grace.Milliseconds() + 1
}

// unixNano formats t as fixed-width unix nanoseconds, so that the scripts
// can compare times as strings, exactly.
func unixNano(t time.Time) string {
	return fmt.Sprintf("%020d", t.UnixNano())
}

// decodeSession builds session id from the values of sessionFields.
func decodeSession(id rendezvous.ID, vals []any) (rendezvous.Session, error) {
	var str [7]string
	for i := range str {
		s, ok := vals[i].(string)
		if !ok {
			return rendezvous.Session{}, fmt.Errorf("redisstore: session %s: field %s missing", id, sessionFields[i])
		}
		str[i] = s
	}
	counter, err := strconv.ParseUint(str[3], 10, 64)
	if err != nil {
		return rendezvous.Session{}, fmt.Errorf("redisstore: session %s: counter: %w", id, err)
	}
	var times [3]time.Time
	for i := range times {
		ns, err := strconv.ParseInt(str[4+i], 10, 64)
		if err != nil {
			return rendezvous.Session{}, fmt.Errorf("redisstore: session %s: field %s: %w", id, sessionFields[4+i], err)
		}
		times[i] = time.Unix(0, ns).UTC()
	}
	return rendezvous.Session{
		ID: id, Payload: []byte(str[0]), ContentType: str[1], Salt: str[2], Counter: counter,
		Created: times[0], Modified: times[1], Expires: times[2],
	}, nil
}
