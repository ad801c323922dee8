// Package redisstore keeps rendezvous sessions, long-poll wake-ups and
// rate-limit buckets in Redis (github.com/redis/go-redis/v9), so that
// several gateway instances can serve any request of any session.
//
// What is shared between instances:
//
//   - Sessions: every instance reads and writes the same sessions. Every
//     write (Create with its live-session limit, Update with the rules of
//     rendezvous.Write.Apply, Delete) is one Lua script, run atomically by
//     Redis: the gateway never reads, checks and then writes.
//   - The limit on live sessions (rendezvous.Config.MaxSessions) bounds the
//     sessions of the whole deployment, not of one instance: they are
//     counted in one sorted set ordered by expiry.
//   - Rate limits: a client's bucket is shared, so a ratelimit.Rule is the
//     rate a client may reach across all instances together.
//   - Wake-ups: a write on any instance wakes long-poll waiters on every
//     instance, through one pub/sub channel.
//
// Expiry is decided against the clock the store is given, so instances
// should keep their clocks in step (NTP). Redis reclaims a session's memory
// by itself a grace period after its expiry (a key TTL); Reclaim removes
// expired sessions earlier, at a cost proportional to their number.
//
// Keys (all under Config.Prefix, "tryst:" by default):
//
//	{prefix}s:{id}   hash: p payload, t content type, s salt, n counter,
//	                 c, m, e created, modified and expiry times (unix ns, 20 digits)
//	{prefix}live     sorted set of session IDs scored by expiry (unix µs)
//	{prefix}wake     pub/sub channel carrying the IDs of changed sessions
//	{prefix}rl:{key} rate-limit bucket (GCRA theoretical arrival time)
//
// The scripts touch session keys they derive from the prefix, so the store
// needs a single Redis server (or a primary with replicas, through
// Sentinel), not Redis Cluster.
//
// Reads and writes of sessions from concurrent requests share pipelines
// (autoPipeline): under load one round trip carries many requests'
// commands, so the system calls per request, in the gateway and in Redis,
// fall with the load instead of staying at one round trip each.
//
// Every error caused by the transport (Redis unreachable, timed out,
// refusing writes) wraps rendezvous.ErrUnavailable; the client is set up
// with short timeouts (ParseURL) so that such requests fail quickly.
package redisstore
