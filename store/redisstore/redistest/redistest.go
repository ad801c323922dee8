// Package redistest gives tests a Redis to run against: the server named by
// TRYST_TEST_REDIS_URL, a key prefix of their own that is removed when they
// end, and a TCP proxy that can cut the way to Redis and restore it.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	neturl "net/url"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"
)

// URL returns the Redis URL of TRYST_TEST_REDIS_URL. When it is unset the
// test is skipped, or fails when TRYST_TEST_REQUIRE_SERVICES=1.
func URL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("TRYST_TEST_REDIS_URL")
	if u != "" {
		return u
	}
	if os.Getenv("TRYST_TEST_REQUIRE_SERVICES") == "1" {
		t.Fatal("TRYST_TEST_REDIS_URL is not set and TRYST_TEST_REQUIRE_SERVICES=1")
	}
	t.Skip("set TRYST_TEST_REDIS_URL to run")
	return ""
}

// Prefix returns a key prefix no other test uses. When the test ends, the
// keys under it are deleted from the Redis at url.
func Prefix(t testing.TB, url string) string {
	t.Helper()
	var b [6]byte
	rand.Read(b[:])
	prefix := "tryst-test:" + hex.EncodeToString(b[:]) + ":"
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	t.Cleanup(func() {
		c := redis.NewClient(opts)
		defer c.Close()
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Errorf("remove test keys under %s: %v", prefix, err)
		}
	})
	return prefix
}

// StoreURL returns url with a key_prefix of the test's own (see Prefix),
// for a gateway started with --rendezvous-store.
func StoreURL(t testing.TB, url string) string {
	t.Helper()
	u, err := neturl.Parse(url)
	if err != nil {
		t.Fatalf("parse redis url: %v", err)
	}
	q := u.Query()
	q.Set("key_prefix", Prefix(t, url))
	u.RawQuery = q.Encode()
	return u.String()
}
