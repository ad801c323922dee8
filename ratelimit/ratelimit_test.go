package ratelimit_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/trystgw/tryst/ratelimit"
)

func TestMemoryBucket(t *testing.T) {
	now := time.Unix(1000, 0)
	m := ratelimit.NewMemory(func() time.Time { return now }, 10)
	rule := ratelimit.Rule{Rate: 1, Burst: 3}
	for i := range 3 {
		if ok, _, _ := m.Allow(t.Context(), "a", rule); !ok {
			t.Fatalf("request %d within burst refused", i)
		}
	}
	ok, retry, _ := m.Allow(t.Context(), "a", rule)
	if ok || retry <= 0 || retry > time.Second {
		t.Errorf("Allow past burst = %v, %v, want refused with 0 < retry <= 1s", ok, retry)
	}
	if ok, _, _ := m.Allow(t.Context(), "b", rule); !ok {
		t.Errorf("another key refused")
	}
	now = now.Add(time.Second)
	if ok, _, _ := m.Allow(t.Context(), "a", rule); !ok {
		t.Errorf("Allow after refill refused")
	}
	// A refused request does not consume a token.
	now = now.Add(time.Second)
	if ok, _, _ := m.Allow(t.Context(), "a", rule); !ok {
		t.Errorf("Allow a second after refill refused")
	}
}

func TestMemoryBounded(t *testing.T) {
	now := time.Unix(1000, 0)
	m := ratelimit.NewMemory(func() time.Time { return now }, 100)
	rule := ratelimit.Rule{Rate: 1, Burst: 1}
	for i := range 1000 {
		m.Allow(t.Context(), string(rune('a'+i%26))+string(rune(i)), rule)
	}
	if m.Len() != 100 {
		t.Errorf("Len() after 1000 keys = %d, want the bound 100", m.Len())
	}
}

func TestZeroRateDisables(t *testing.T) {
	m := ratelimit.NewMemory(time.Now, 10)
	for range 100 {
		if ok, _, _ := m.Allow(t.Context(), "a", ratelimit.Rule{}); !ok {
			t.Fatal("zero rule refused a request")
		}
	}
	if m.Len() != 0 {
		t.Errorf("zero rule created %d buckets", m.Len())
	}
}

func TestConcurrencyCaps(t *testing.T) {
	c := ratelimit.NewConcurrency(2, 3)
	for i := range 2 {
		if !c.Acquire("a") {
			t.Fatalf("acquire %d for a refused", i+1)
		}
	}
	if c.Acquire("a") {
		t.Error("third for a accepted over the per-key cap of 2")
	}
	if !c.Acquire("b") {
		t.Fatal("first for b refused")
	}
	if c.Acquire("c") || c.Acquire("") {
		t.Error("accepted over the total cap of 3")
	}
	c.Release("a")
	if !c.Acquire("") {
		t.Error("the empty key refused with a slot free")
	}
	c.Release("")
	c.Release("a")
	c.Release("b")
	if slots, keys := c.Held(); slots != 0 || keys != 0 {
		t.Errorf("after releasing all: %d slots, %d keys held, want 0 0", slots, keys)
	}
	unlimited := ratelimit.NewConcurrency(0, 0)
	for range 1000 {
		if !unlimited.Acquire("a") {
			t.Fatal("refused without caps")
		}
	}
}

func TestClientKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7":                 "192.0.2.7",
		"::ffff:192.0.2.7":          "192.0.2.7",
		"2001:db8:1:2:aaaa::1":      "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff:ffff::9": "2001:db8:1:2::/64",
		"2001:db8:1:3::1":           "2001:db8:1:3::/64",
		"fe80::1%eth0":              "fe80::/64",
	} {
		if got := ratelimit.ClientKey(netip.MustParseAddr(in)); got != want {
			t.Errorf("ClientKey(%s) = %s, want %s", in, got, want)
		}
	}
}
