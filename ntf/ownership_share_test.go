package ntf

import "testing"

// TestShare: the shares of the live instances add up to the servers and
// differ by at most one; an instance missing from the membership gets
// none.
func TestShare(t *testing.T) {
	live := []string{"a", "b", "c"}
	for servers := range 10 {
		total, lo, hi := 0, servers, 0
		for _, id := range live {
			n := share(id, Membership{Live: live, Servers: servers})
			total, lo, hi = total+n, min(lo, n), max(hi, n)
		}
		if total != servers || hi-lo > 1 {
			t.Errorf("%d servers over 3 instances: total %d, shares from %d to %d", servers, total, lo, hi)
		}
	}
	if n := share("z", Membership{Live: live, Servers: 4}); n != 0 {
		t.Errorf("share of an instance not live = %d", n)
	}
	if _, err := (OwnershipConfig{Instance: "a", Lease: 5, Heartbeat: 2}).withDefaults(); err == nil {
		t.Error("a lease of 2.5 heartbeats was accepted")
	}
	if _, err := (OwnershipConfig{}).withDefaults(); err == nil {
		t.Error("an ownership without an instance id was accepted")
	}
}
