package conformance

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Bounds of the HTTP client.
const (
	// maxResponseBytes bounds what the checker reads of a response: a
	// rendezvous payload is a few KiB.
	maxResponseBytes = 1 << 20
	// maxRateLimited and maxRetryWait bound how long the checker honours
	// 429s before it reports one: a deployment with the default limits
	// (one creation a second) still gets checked, slowly, and a stuck one
	// does not hold the run up.
	maxRateLimited = time.Minute
	maxRetryWait   = 5 * time.Second
)

// errOtherHost is returned when anything tries to dial another address
// than the base URL's.
var errOtherHost = errors.New("refusing to connect to another host than the base URL's")

// client is the checker's HTTP client: it talks only to base, follows no
// redirects, uses no proxy, and bounds every request. It is safe for
// concurrent use.
type client struct {
	http    *http.Client
	base    *url.URL
	origin  string
	timeout time.Duration
	now     func() time.Time
	sleep   func(ctx context.Context, d time.Duration) error
	// limited counts the 429s honoured and the time spent waiting them out,
	// so the report can say why a run was slow.
	limited rateLimitTally
}

// rateLimitTally adds up the waits for 429s of concurrent checks.
type rateLimitTally struct {
	mu      sync.Mutex
	answers int
	waited  time.Duration
}

func (r *rateLimitTally) add(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.answers++
	r.waited += d
}

func (r *rateLimitTally) snapshot() RateLimited {
	r.mu.Lock()
	defer r.mu.Unlock()
	return RateLimited{Answers: r.answers, Waited: r.waited}
}

func newClient(base *url.URL, cfg Config) *client {
	hostPort := canonicalHostPort(base)
	dialer := &net.Dialer{Timeout: cfg.Timeout}
	tr := &http.Transport{
		Proxy: nil, // the checker must reach the server itself, not an intermediary of the environment
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if addr != hostPort {
				return nil, fmt.Errorf("%w: %s", errOtherHost, addr)
			}
			return dialer.DialContext(ctx, network, addr)
		},
		TLSHandshakeTimeout: cfg.Timeout,
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 16,
		DisableCompression:  true, // see the bytes and ETags as the server sent them
	}
	return &client{
		http: &http.Client{
			Transport: tr,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
		base: base, origin: cfg.Origin, timeout: cfg.Timeout, now: cfg.Now, sleep: cfg.Sleep,
	}
}

// close releases idle connections.
func (c *client) close() { c.http.CloseIdleConnections() }

// canonicalHostPort is base's host:port with the scheme's default port.
func canonicalHostPort(base *url.URL) string {
	port := base.Port()
	if port == "" {
		port = "80"
		if base.Scheme == "https" {
			port = "443"
		}
	}
	return net.JoinHostPort(base.Hostname(), port)
}

// request is one request of a check; path is below the base URL.
type request struct {
	method string
	path   string
	body   []byte
	header http.Header
	// wait is how long the server may hold the request (long-poll), on top
	// of the timeout.
	wait time.Duration
	// noOrigin sends the request without an Origin header.
	noOrigin bool
}

// response is what came back, with the checker's clock at both ends.
type response struct {
	status         int
	header         http.Header
	body           []byte
	sent, received time.Time
}

// do sends req and reads the whole answer. A 429 is retried after the
// server's Retry-After, a few times. Errors say, in words an operator can
// act on, what went wrong: refused, TLS, timeout, oversized body.
func (c *client) do(ctx context.Context, req request) (response, error) {
	var waited time.Duration
	for {
		resp, err := c.once(ctx, req)
		if err != nil || resp.status != http.StatusTooManyRequests || waited >= maxRateLimited {
			return resp, err
		}
		d := retryWait(resp.header)
		c.limited.add(d)
		if err := c.sleep(ctx, d); err != nil {
			return resp, fmt.Errorf("%s %s: rate limited (429) and %w", req.method, req.path, err)
		}
		waited += d
	}
}

// retryWait is the server's Retry-After, bounded.
func retryWait(h http.Header) time.Duration {
	secs, err := strconv.Atoi(h.Get("Retry-After"))
	if err != nil || secs < 1 {
		return time.Second
	}
	return min(time.Duration(secs)*time.Second, maxRetryWait)
}

func (c *client) once(ctx context.Context, req request) (response, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout+req.wait)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, req.method, c.url(req.path), bytes.NewReader(req.body))
	if err != nil {
		return response{}, fmt.Errorf("%s %s: %w", req.method, req.path, err)
	}
	if req.body == nil {
		hr.Body, hr.ContentLength = http.NoBody, 0
	}
	for k, vs := range req.header {
		hr.Header[k] = vs
	}
	if !req.noOrigin {
		hr.Header.Set("Origin", c.origin)
	}
	resp := response{sent: c.now()}
	hresp, err := c.http.Do(hr)
	if err != nil {
		return resp, fmt.Errorf("%s %s: %s", req.method, req.path, describe(err, c.timeout+req.wait))
	}
	defer hresp.Body.Close()
	resp.status, resp.header = hresp.StatusCode, hresp.Header
	resp.body, err = io.ReadAll(io.LimitReader(hresp.Body, maxResponseBytes+1))
	resp.received = c.now()
	if err != nil {
		return resp, fmt.Errorf("%s %s: reading the body: %s", req.method, req.path, describe(err, c.timeout+req.wait))
	}
	if len(resp.body) > maxResponseBytes {
		return resp, fmt.Errorf("%s %s: response body larger than %d bytes", req.method, req.path, maxResponseBytes)
	}
	return resp, nil
}

// url joins path, which may carry a query, to the base URL.
func (c *client) url(path string) string {
	u := *c.base
	path, u.RawQuery, _ = strings.Cut(path, "?")
	u.Path = c.base.Path + path
	u.RawPath = ""
	return u.String()
}

// describe turns a transport error into a reason an operator can act on.
func describe(err error, limit time.Duration) string {
	var (
		certErr  *tls.CertificateVerificationError
		unknown  x509.UnknownAuthorityError
		hostErr  x509.HostnameError
		recErr   tls.RecordHeaderError
		dnsErr   *net.DNSError
		netErr   net.Error
		urlErr   *url.Error
		innerErr = err
	)
	if errors.As(err, &urlErr) {
		innerErr = urlErr.Err
	}
	switch {
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return fmt.Sprintf("timeout: no complete answer within %v", limit)
	case errors.As(err, &unknown), errors.As(err, &hostErr), errors.As(err, &certErr):
		return "TLS certificate not accepted: " + innerErr.Error()
	case errors.As(err, &recErr), strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return "TLS handshake failed: the server speaks plain HTTP here (use http://?): " + innerErr.Error()
	case strings.Contains(err.Error(), "tls:"):
		return "TLS failed: " + innerErr.Error()
	case errors.As(err, &dnsErr):
		return "host not found: " + innerErr.Error()
	case errors.Is(err, errOtherHost):
		return innerErr.Error()
	}
	return "unreachable: " + innerErr.Error()
}
