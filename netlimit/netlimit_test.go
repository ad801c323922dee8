package netlimit_test

import (
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/trystgw/tryst/netlimit"
)

// dialFrom connects to addr from the loopback address local.
func dialFrom(t *testing.T, local, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 2 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", local, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// refused reports whether the server answered c with the refusal and
// closed it; false when the connection stays open (nothing to read within
// the deadline).
func refused(t *testing.T, c net.Conn) bool {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	b, err := io.ReadAll(c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return false
	}
	if string(b) != "busy\n" {
		t.Errorf("refused connection read %q (err %v), want the refusal", b, err)
	}
	return true
}

func TestListenerCaps(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := netlimit.NewListener(inner, netlimit.Config{Max: 4, PerClient: 2, Refusal: []byte("busy\n"),
		Exempt: []netip.Prefix{netip.MustParsePrefix("127.0.0.9/32")}})
	defer ln.Close()
	accepted := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	addr := inner.Addr().String()
	steps := []struct {
		from    string
		refused bool
	}{
		{"127.0.0.2", false}, {"127.0.0.2", false},
		{"127.0.0.2", true}, // over the per-client cap
		{"127.0.0.9", false}, {"127.0.0.9", false}, // exempt from it
		{"127.0.0.3", true}, // over the total
	}
	for i, s := range steps {
		if got := refused(t, dialFrom(t, s.from, addr)); got != s.refused {
			t.Fatalf("step %d from %s: refused = %v, want %v", i, s.from, got, s.refused)
		}
	}
	if ln.Open() != 4 || ln.Shed() != 2 {
		t.Errorf("open %d, shed %d; want 4 and 2", ln.Open(), ln.Shed())
	}
	(<-accepted).Close() // the server ends the first client's connection
	if refused(t, dialFrom(t, "127.0.0.2", addr)) {
		t.Error("refused after a slot was given back")
	}
}

func TestMaxForKeepsHeadroom(t *testing.T) {
	for _, c := range []struct{ limit, want int }{{20000, 18000}, {1024, 922}, {256, 192}, {10, 1}} {
		if got := netlimit.MaxFor(c.limit); got != c.want {
			t.Errorf("MaxFor(%d) = %d, want %d", c.limit, got, c.want)
		}
	}
	n, err := netlimit.FDLimit()
	if err != nil || n <= 0 {
		t.Fatalf("FDLimit() = %d, %v", n, err)
	}
}
