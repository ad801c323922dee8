package handlers

import (
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func TestClientKeyForwardedFor(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	cases := []struct {
		name, peer string
		xff        []string
		want       string
	}{
		{"untrusted peer ignores the header", "192.0.2.1:5000", []string{"198.51.100.9"}, "192.0.2.1"},
		{"one line", "10.0.0.2:5000", []string{"198.51.100.9, 10.0.0.3"}, "198.51.100.9"},
		// The client writes the first line; the proxy appends its own.
		// Reading only the first line would hand out any address asked for.
		{"proxy appends a second line", "10.0.0.2:5000", []string{"203.0.113.77", "198.51.100.9"}, "198.51.100.9"},
		{"three lines, trusted hops skipped", "10.0.0.2:5000", []string{"203.0.113.77", "198.51.100.9", "10.1.1.1"}, "198.51.100.9"},
		{"spoofed trusted address on the left", "10.0.0.2:5000", []string{"10.9.9.9, 198.51.100.9"}, "198.51.100.9"},
		{"garbage from a proxy stops the walk", "10.0.0.2:5000", []string{"198.51.100.9, junk, 10.0.0.3"}, "10.0.0.3"},
		{"no header: the proxy itself", "10.0.0.2:5000", nil, "10.0.0.2"},
		{"IPv6 client by /64", "10.0.0.2:5000", []string{"2001:db8:7:8:1:2:3:4"}, "2001:db8:7:8::/64"},
		{"IPv6 peer by /64", "[2001:db8:7:8::99]:5000", nil, "2001:db8:7:8::/64"},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.peer
		for _, v := range c.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := clientKey(r, proxies); got != c.want {
			t.Errorf("%s: clientKey = %q, want %q", c.name, got, c.want)
		}
	}
}

// FuzzClientAddr feeds X-Forwarded-For lines from a trusted proxy: the
// client is always the peer or an address the header names.
func FuzzClientAddr(f *testing.F) {
	f.Add("198.51.100.9, 10.0.0.3", "203.0.113.7")
	f.Add("junk", "")
	f.Add("2001:db8::1,,10.0.0.1", "::ffff:10.0.0.2")
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	f.Fuzz(func(t *testing.T, line1, line2 string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = "10.0.0.2:5000"
		r.Header.Add("X-Forwarded-For", line1)
		r.Header.Add("X-Forwarded-For", line2)
		addr, ok := clientAddr(r, proxies)
		if !ok {
			t.Fatal("a parseable peer gave no address")
		}
		if addr == netip.MustParseAddr("10.0.0.2") {
			return
		}
		for hop := range strings.SplitSeq(line1+","+line2, ",") {
			if h, err := netip.ParseAddr(strings.TrimSpace(hop)); err == nil && h.Unmap() == addr {
				return
			}
		}
		t.Fatalf("client %s is neither the peer nor a hop of %q, %q", addr, line1, line2)
	})
}
