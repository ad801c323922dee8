// Package conformance is a black-box checker of the rendezvous contract
// (shared/spec/rendezvous.md). It speaks HTTP to a deployment, through
// whatever proxies stand in front of it, and runs one check per rule of the
// contract: status codes, required headers, entity tags, CORS, lifetimes,
// clock skew, long-poll.
//
// Each check has a stable name. First "reachable" (any HTTP answer from
// the base URL); then, for each mount of the ETag flavours (simple,
// msc4108): create, session-url, headers, etag-format, lifetime,
// expires-header, clock-skew, read, not-modified, if-none-match-forms,
// cors, etag-changes, stale-write, idempotent-retry, content-type,
// if-match-required (msc4108) or if-match-optional (simple), too-large,
// not-found, cors-errors, preflight, delete, long-poll, expiry; and for the
// JSON flavour (msc4388): discovery, create, lifetime, clock-skew, read,
// cors, navigation-refused, token-changes, stale-write, idempotent-retry,
// too-large, not-found, cors-errors, preflight, delete, long-poll, expiry.
// Checks that need a session create their own, so one fault shows in the
// checks it concerns. The expiry checks wait for the lifetime the server
// advertises (Config.Quick skips them); long-poll is skipped, not failed,
// when the server does not offer it, since the contract makes it optional.
//
// The checker sends requests only to the host and port of the base URL it
// is given: it follows no redirects, uses no proxy, never dials the absolute
// URLs a server hands out, and bounds every request with a timeout. It
// imports the HTTP layer only for the names and default paths of the
// flavours.
package conformance

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/trystgw/tryst/api"
)

// Defaults of Config, with the reason beside each.
const (
	// DefaultTimeout bounds one request: a rendezvous server answers in
	// milliseconds, so ten seconds means it is not answering.
	DefaultTimeout = 10 * time.Second
	// DefaultMaxSkew is the clock difference tolerated between the server
	// and the checker: NTP keeps clocks within milliseconds, and a client
	// reading Expires with a clock this far off misjudges a 5-minute
	// lifetime by a few percent.
	DefaultMaxSkew = 10 * time.Second
	// DefaultOrigin is the Origin the checker presents: a reserved name
	// (RFC 2606), as no page will ever be served from it.
	DefaultOrigin = "https://tryst-check.invalid"
)

// ErrInvalidConfig is wrapped by Run's error when Config cannot be used.
var ErrInvalidConfig = errors.New("conformance: invalid configuration")

// Config says what to check and how. BaseURL is required; the zero value of
// every other field means its default.
type Config struct {
	// BaseURL is the server root, e.g. http://127.0.0.1:8080. A path is a
	// prefix for every mount.
	BaseURL string
	// Mounts are the flavours and paths to check; nil means every mount of
	// api.DefaultMounts.
	Mounts []api.Mount
	// Quick skips the checks that wait for a session to expire.
	Quick bool
	// Timeout bounds each request (long-polls get their wait on top).
	Timeout time.Duration
	// MaxSkew is the largest tolerated difference between the server's
	// Date header and Now.
	MaxSkew time.Duration
	// Origin is sent on every request, as a browser on that page would.
	Origin string
	// Now is the checker's clock; nil means time.Now.
	Now func() time.Time
	// Sleep waits for d or until ctx ends; nil means a real timer.
	Sleep func(ctx context.Context, d time.Duration) error
}

// ParseFlavours turns a --flavour value (simple, msc4108, msc4388 or all)
// into the mounts of api.DefaultMounts of that flavour.
func ParseFlavours(s string) ([]api.Mount, error) {
	all, err := api.ParseMounts(api.DefaultMounts)
	if err != nil {
		return nil, fmt.Errorf("default mounts: %w", err)
	}
	if s == "" || s == "all" {
		return all, nil
	}
	var out []api.Mount
	for _, f := range strings.Split(s, ",") {
		n := len(out)
		for _, m := range all {
			if string(m.Flavour) == strings.TrimSpace(f) {
				out = append(out, m)
			}
		}
		if len(out) == n {
			return nil, fmt.Errorf("%w: unknown flavour %q (simple, msc4108, msc4388, all)", ErrInvalidConfig, f)
		}
	}
	return out, nil
}

// Run checks the deployment at cfg.BaseURL and reports every check. It
// returns an error wrapping ErrInvalidConfig when cfg is unusable, and
// ctx's error when ctx ends first; a failed check is not an error of Run
// but a Result in the Report (see Report.Err). Run is safe for concurrent
// use; it checks the mounts concurrently.
func Run(ctx context.Context, cfg Config) (Report, error) {
	cfg, base, err := cfg.withDefaults()
	if err != nil {
		return Report{}, err
	}
	c := newClient(base, cfg)
	defer c.close()
	rep := Report{BaseURL: base.String()}
	reach := checkReachable(ctx, c)
	rep.Results = append(rep.Results, reach)
	if reach.Status == StatusFail {
		return rep.tally(), ctx.Err()
	}
	perMount := make([][]Result, len(cfg.Mounts))
	var wg sync.WaitGroup
	for i, m := range cfg.Mounts {
		wg.Go(func() {
			perMount[i] = newTarget(c, cfg, m).run(ctx)
		})
	}
	wg.Wait()
	for _, rs := range perMount {
		rep.Results = append(rep.Results, rs...)
	}
	rep.RateLimited = c.limited.snapshot()
	return rep.tally(), ctx.Err()
}

// withDefaults fills in the defaults and parses the base URL.
func (cfg Config) withDefaults() (Config, *url.URL, error) {
	base, err := url.Parse(cfg.BaseURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return cfg, nil, fmt.Errorf("%w: base URL %q: want http(s)://host[:port][/prefix]", ErrInvalidConfig, cfg.BaseURL)
	}
	if base.RawQuery != "" || base.Fragment != "" || base.User != nil {
		return cfg, nil, fmt.Errorf("%w: base URL %q: no query, fragment or credentials", ErrInvalidConfig, cfg.BaseURL)
	}
	base.Path = strings.TrimSuffix(base.Path, "/")
	if cfg.Mounts == nil {
		if cfg.Mounts, err = ParseFlavours("all"); err != nil {
			return cfg, nil, err
		}
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxSkew <= 0 {
		cfg.MaxSkew = DefaultMaxSkew
	}
	if cfg.Origin == "" {
		cfg.Origin = DefaultOrigin
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleep
	}
	return cfg, base, nil
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// checkReachable makes one request to the base URL. Any HTTP answer will
// do; a server that cannot be reached fails here, once, instead of in
// every check.
func checkReachable(ctx context.Context, c *client) Result {
	r := Result{Check: "reachable"}
	start := c.now()
	resp, err := c.do(ctx, request{method: "GET", path: "/"})
	r.Duration = c.now().Sub(start)
	if err != nil {
		r.Status, r.Reason = StatusFail, err.Error()
		return r
	}
	r.Status, r.Reason = StatusPass, fmt.Sprintf("%s answers HTTP (status %d)", c.base.Redacted(), resp.status)
	return r
}
