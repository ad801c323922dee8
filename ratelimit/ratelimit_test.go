package ratelimit_test

import (
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
