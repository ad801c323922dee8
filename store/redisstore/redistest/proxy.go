package redistest

import (
	"testing"

	"github.com/trystgw/tryst/store/proxytest"
)

// Proxy is a cuttable TCP proxy to Redis (see proxytest.Proxy).
type Proxy struct{ *proxytest.Proxy }

// NewProxy starts a proxy to target, stopped when the test ends.
func NewProxy(t testing.TB, target string) *Proxy { return &Proxy{proxytest.NewProxy(t, target)} }

// URL returns redisURL with its host replaced by the proxy's address.
func (p *Proxy) URL(t testing.TB, redisURL string) string { return p.HostURL(t, redisURL) }

// Target returns the host:port of redisURL, for NewProxy.
func Target(t testing.TB, redisURL string) string { return proxytest.Target(t, redisURL, "6379") }
