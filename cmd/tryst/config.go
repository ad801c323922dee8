package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"path/filepath"
	"strings"
	"time"

	"github.com/trystgw/tryst/api"
	"github.com/trystgw/tryst/handlers"
	"github.com/trystgw/tryst/netlimit"
	"github.com/trystgw/tryst/ntf"
	"github.com/trystgw/tryst/ratelimit"
	"github.com/trystgw/tryst/rendezvous"
)

// Defaults of `tryst serve`, with the reason beside each.
const (
	defaultAddr = "127.0.0.1:8080" // loopback: exposing the gateway is a deliberate choice
	// Rendezvous creation is rare per client (one per QR login); writes come
	// a few per second during an exchange.
	defaultCreateRate  = 1.0
	defaultCreateBurst = 10
	defaultWriteRate   = 10.0
	defaultWriteBurst  = 50
	// defaultShutdownTimeout lets in-flight requests finish; long-polls are
	// answered at once when shutdown starts.
	defaultShutdownTimeout = 15 * time.Second
	readHeaderTimeout      = 5 * time.Second // slow-loris bound
	// defaultReadTimeout bounds reading a request, body included: bodies
	// are at most a few KiB, and a client trickling one holds a
	// connection for this long.
	defaultReadTimeout = 10 * time.Second
	idleTimeout        = 120 * time.Second // keep-alive connections between requests
	writeTimeoutMargin = 10 * time.Second  // beyond the longest long-poll
	// minWriteTimeout bounds writing the answer to any request that does
	// not wait: bodies are at most a few KiB.
	minWriteTimeout = 30 * time.Second
	maxHeaderBytes  = 16 << 10 // ample for any client we serve
	// defaultDataDir holds the SQLite database and the generated master
	// key when nothing else is configured: zero set-up on one machine.
	defaultDataDir = "data"
	// Token registration is once per app install (plus OS token
	// rotations); verification once per registration. Both are cheap to
	// refuse and worth bounding per client.
	// Queue creations take no credentials: as many as token registrations.
	defaultQueueCreateRate    = 1.0
	defaultQueueCreateBurst   = 10
	defaultTokenRegisterRate  = 1.0
	defaultTokenRegisterBurst = 10
	defaultTokenVerifyRate    = 1.0
	defaultTokenVerifyBurst   = 10
	// Replacing a device token and setting checks are rarer still; each
	// replace pushes to a device the caller names, so a token gets a
	// handful at once and then one a minute.
	defaultTokenUpdateRate    = 1.0
	defaultTokenUpdateBurst   = 10
	defaultTokenPerTokenRate  = 1.0 / 60
	defaultTokenPerTokenBurst = 5
	// A QR login holds one long-poll per device; a few dozen per address
	// leaves room for many users behind one NAT while keeping any one
	// address to a small part of the connections.
	defaultLongPollsPerIP = 64
	defaultMaxConnsPerIP  = 256
)

// serveConfig is the effective configuration of `tryst serve`.
type serveConfig struct {
	// services are the names of the services to run, in start order.
	services        []string
	addr            string
	logLevel        slog.Level
	shutdownTimeout time.Duration
	rendezvousStore string
	rendezvous      rendezvous.Config
	http            handlers.Config
	// dataDir is where the default database and master key live.
	dataDir string
	// databaseURL is sqlite:// or postgres://; empty means SQLite in dataDir.
	databaseURL string
	// masterKeyFile is the master key; empty means dataDir/master.key,
	// generated on first start.
	masterKeyFile string
	// pushConfig is the push configuration file; empty means log only.
	pushConfig string
	// checkTick is how often periodic token checks are looked for.
	checkTick time.Duration
	// tokenExpiry is how long a token may stay not active before it is
	// deleted.
	tokenExpiry time.Duration
	// conns caps the open client connections; Max 0 on the command line
	// means derived from the open-file limit.
	conns       netlimit.Config
	readTimeout time.Duration
	// metricsAddr, when set, serves /metrics there instead of on addr.
	metricsAddr string
	// subscriptions tunes the SMP supervisor and the outbox.
	subscriptions subscriptionConfig
}

// loadServeConfig parses flags, each falling back to the environment
// variable TRYST_<FLAG> (dashes as underscores) when not given.
// With --help it prints every flag and its variable to stdout and returns
// flag.ErrHelp.
func loadServeConfig(args []string, getenv func(string) string, stdout io.Writer) (serveConfig, error) {
	var c serveConfig
	fs := newCommandFlags("tryst serve", "[flags]\n\nRuns the gateway. Every flag falls back to the environment variable named\n"+
		"beside it (TRYST_ and the flag's name in capitals, dashes as underscores).", stdout)
	services := fs.String("services", "all", "comma-separated services to run: all, or some of "+strings.Join(serviceNames(), ", "))
	fs.StringVar(&c.addr, "addr", defaultAddr, "listen address (host:port)")
	fs.TextVar(&c.logLevel, "log-level", slog.LevelInfo, "log level: debug, info, warn, error")
	fs.DurationVar(&c.shutdownTimeout, "shutdown-timeout", defaultShutdownTimeout, "grace period for in-flight requests on shutdown")
	fs.StringVar(&c.http.PublicURL, "public-url", "", "public base URL for absolute session URLs (default: the request's scheme and host)")
	origins := fs.String("cors-origins", "*", "comma-separated CORS origins allowed, or *")
	proxies := fs.String("trusted-proxies", "", "comma-separated CIDRs of proxies whose X-Forwarded-For names the client")
	mounts := fs.String("rendezvous-mounts", api.DefaultMounts, "comma-separated flavour:/path mounts (flavours: simple, msc4108, msc4388)")
	fs.StringVar(&c.rendezvousStore, "rendezvous-store", "memory", "rendezvous store: memory, or a redis:// URL shared by several instances")
	fs.DurationVar(&c.rendezvous.TTL, "rendezvous-ttl", rendezvous.DefaultTTL, "session lifetime (10s..1h)")
	fs.BoolVar(&c.rendezvous.SlidingTTL, "rendezvous-sliding-ttl", false, "extend a session's lifetime on every write")
	fs.IntVar(&c.rendezvous.MaxBytes, "rendezvous-max-bytes", rendezvous.DefaultMaxBytes, "largest payload in bytes")
	fs.IntVar(&c.rendezvous.MaxSessions, "rendezvous-max-sessions", rendezvous.DefaultMaxSessions, "most live sessions")
	whenFull := fs.String("rendezvous-when-full", "refuse", "at max sessions: refuse (429) or evict-oldest")
	fs.DurationVar(&c.rendezvous.MaxWait, "rendezvous-max-wait", rendezvous.DefaultMaxWait, "longest long-poll wait")
	addRateFlags(fs.FlagSet, &c.http)
	fs.StringVar(&c.dataDir, "data-dir", defaultDataDir, "directory of the default SQLite database and generated master key")
	fs.StringVar(&c.databaseURL, "database-url", "", "durable store: sqlite:///path/file.db or postgres://... (default sqlite in --data-dir)")
	fs.StringVar(&c.masterKeyFile, "master-key-file", "", "file of the 64-hex-digit key encrypting secrets at rest (default --data-dir/master.key, generated; required with postgres)")
	fs.StringVar(&c.pushConfig, "push-config", "", "push configuration file (APNs/FCM apps and credentials); none: pushes are only logged")
	fs.DurationVar(&c.checkTick, "check-tick", ntf.DefaultCheckTick, "how often due periodic token checks are sent")
	fs.DurationVar(&c.tokenExpiry, "token-expiry", ntf.DefaultExpireAfter, "delete tokens not active (never verified, or invalid) this long after their last change")
	fs.IntVar(&c.conns.Max, "max-conns", 0, "most open client connections (0: the open-file limit less a reserve)")
	fs.IntVar(&c.conns.PerClient, "max-conns-per-ip", defaultMaxConnsPerIP, "most open connections per client IP, IPv6 by /64 (0: no cap; trusted proxies are exempt)")
	fs.IntVar(&c.http.LongPollsPerClient, "longpolls-per-ip", defaultLongPollsPerIP, "most waiting long-polls per client IP, IPv6 by /64 (0: no cap)")
	fs.IntVar(&c.http.LongPollsTotal, "longpolls-max", 0, "most waiting long-polls in all (0: half of max-conns)")
	fs.StringVar(&c.metricsAddr, "metrics-addr", "", "serve /metrics on this address (host:port) instead of the public listener")
	fs.DurationVar(&c.readTimeout, "read-timeout", defaultReadTimeout, "longest time to read a request, body included")
	addSubscriptionFlags(fs.FlagSet, &c.subscriptions)
	nameEnvironment(fs.FlagSet)
	if done, err := fs.parse(args); done {
		if err == nil {
			err = flag.ErrHelp
		}
		return c, err
	}
	err := applyEnv(fs.FlagSet, getenv)
	if err != nil {
		return c, err
	}
	if c.services, err = parseServices(*services); err != nil {
		return c, err
	}
	return c, c.finish(*origins, *proxies, *mounts, *whenFull)
}

// addRateFlags registers the per-client (and per-token) rate limits.
func addRateFlags(fs *flag.FlagSet, h *handlers.Config) {
	fs.Float64Var(&h.CreateRate.Rate, "create-rate", defaultCreateRate, "session creations per second per client IP (0: unlimited)")
	fs.IntVar(&h.CreateRate.Burst, "create-burst", defaultCreateBurst, "burst of session creations per client IP")
	fs.Float64Var(&h.WriteRate.Rate, "write-rate", defaultWriteRate, "session writes per second per client IP (0: unlimited)")
	fs.IntVar(&h.WriteRate.Burst, "write-burst", defaultWriteBurst, "burst of session writes per client IP")
	fs.Float64Var(&h.QueueCreateRate.Rate, "queue-create-rate", defaultQueueCreateRate, "client queue creations per second per client IP (0: unlimited)")
	fs.IntVar(&h.QueueCreateRate.Burst, "queue-create-burst", defaultQueueCreateBurst, "burst of client queue creations per client IP")
	fs.Float64Var(&h.TokenRegisterRate.Rate, "token-register-rate", defaultTokenRegisterRate, "push token registrations per second per client IP (0: unlimited)")
	fs.IntVar(&h.TokenRegisterRate.Burst, "token-register-burst", defaultTokenRegisterBurst, "burst of push token registrations per client IP")
	fs.Float64Var(&h.TokenVerifyRate.Rate, "token-verify-rate", defaultTokenVerifyRate, "push token verification attempts per second per client IP (0: unlimited)")
	fs.IntVar(&h.TokenVerifyRate.Burst, "token-verify-burst", defaultTokenVerifyBurst, "burst of push token verification attempts per client IP")
	fs.Float64Var(&h.TokenUpdateRate.Rate, "token-update-rate", defaultTokenUpdateRate, "device token replaces and check settings per second per client IP (0: unlimited)")
	fs.IntVar(&h.TokenUpdateRate.Burst, "token-update-burst", defaultTokenUpdateBurst, "burst of device token replaces and check settings per client IP")
	fs.Float64Var(&h.TokenPerTokenRate.Rate, "token-rate-per-token", defaultTokenPerTokenRate, "replaces, check settings and verification attempts per second per token (0: unlimited)")
	fs.IntVar(&h.TokenPerTokenRate.Burst, "token-burst-per-token", defaultTokenPerTokenBurst, "burst of replaces, check settings and verification attempts per token")
}

// applyEnv sets every flag not given on the command line from its
// TRYST_* variable.
func applyEnv(fs *flag.FlagSet, getenv func(string) string) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		name := envName(f.Name)
		if v := getenv(name); v != "" && !given[f.Name] {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", name, err))
			}
		}
	})
	return errors.Join(errs...)
}

// nameEnvironment adds each flag's environment variable to its usage.
func nameEnvironment(fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) { f.Usage += " [$" + envName(f.Name) + "]" })
}

func envName(flagName string) string {
	return "TRYST_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// finish parses the list-valued settings and checks bounds.
func (c *serveConfig) finish(origins, proxies, mounts, whenFull string) error {
	var err error
	if c.http.Mounts, err = api.ParseMounts(mounts); err != nil {
		return err
	}
	if origins != "*" {
		c.http.AllowedOrigins = splitList(origins)
	}
	for _, p := range splitList(proxies) {
		prefix, err := netip.ParsePrefix(p)
		if err != nil {
			return fmt.Errorf("trusted proxy %q: %w", p, err)
		}
		c.http.TrustedProxies = append(c.http.TrustedProxies, prefix)
	}
	switch whenFull {
	case "refuse":
	case "evict-oldest":
		c.rendezvous.EvictOldest = true
	default:
		return fmt.Errorf("rendezvous-when-full %q: want refuse or evict-oldest", whenFull)
	}
	if c.http.CreateRate.Rate < 0 || c.http.WriteRate.Rate < 0 || c.http.TokenRegisterRate.Rate < 0 || c.http.TokenVerifyRate.Rate < 0 ||
		c.http.TokenUpdateRate.Rate < 0 || c.http.TokenPerTokenRate.Rate < 0 || c.http.QueueCreateRate.Rate < 0 {
		return errors.New("rates must not be negative")
	}
	if err := c.finishStorage(); err != nil {
		return err
	}
	if err := c.finishConns(); err != nil {
		return err
	}
	return c.rendezvous.Validate()
}

// finishStorage resolves the database and master key defaults against
// the data directory.
func (c *serveConfig) finishStorage() error {
	if c.checkTick <= 0 {
		return errors.New("check-tick must be positive")
	}
	if c.tokenExpiry < time.Hour {
		return errors.New("token-expiry must be at least 1h")
	}
	if err := c.subscriptions.check(); err != nil {
		return err
	}
	dir, err := filepath.Abs(c.dataDir)
	if err != nil {
		return fmt.Errorf("data-dir: %w", err)
	}
	c.dataDir = dir
	if c.databaseURL == "" {
		c.databaseURL = "sqlite://" + filepath.Join(dir, "tryst.db")
	}
	shared := strings.HasPrefix(c.databaseURL, "postgres://") || strings.HasPrefix(c.databaseURL, "postgresql://")
	if !shared && !strings.HasPrefix(c.databaseURL, "sqlite://") {
		return fmt.Errorf("database-url %s: want sqlite:// or postgres://", redactURL(c.databaseURL))
	}
	if c.masterKeyFile == "" && shared {
		// Instances sharing a database must share the key: generating
		// one per instance would make each unable to read the others'.
		return errors.New("master-key-file is required with a shared database: " + masterKeyHint)
	}
	return nil
}

// finishConns derives the connection caps: the total from the open-file
// limit as it is at start, the long-poll total from that, so long-polls
// can never hold every connection and short requests (/healthz among
// them) always find one.
func (c *serveConfig) finishConns() error {
	if c.conns.Max < 0 || c.conns.PerClient < 0 || c.http.LongPollsPerClient < 0 || c.http.LongPollsTotal < 0 {
		return errors.New("connection and long-poll caps must not be negative")
	}
	if c.readTimeout <= 0 {
		return errors.New("read-timeout must be positive")
	}
	if c.conns.Max == 0 {
		fds, err := netlimit.FDLimit()
		if err != nil {
			return fmt.Errorf("max-conns: %w; set it explicitly", err)
		}
		c.conns.Max = netlimit.MaxFor(fds)
	}
	if c.http.LongPollsTotal == 0 {
		c.http.LongPollsTotal = max(c.conns.Max/2, 1)
	}
	c.http.MetricsElsewhere = c.metricsAddr != ""
	c.conns.Exempt = c.http.TrustedProxies
	c.conns.Refusal = handlers.OverloadResponse()
	return nil
}

func splitList(s string) []string {
	var out []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// logAttrs describes the effective configuration for the start-up log.
// Store URLs may hold passwords, so only their scheme is shown.
func (c serveConfig) logAttrs() []any {
	return []any{
		"services", c.services, "addr", c.addr, "public_url", c.http.PublicURL, "rendezvous_store", redactURL(c.rendezvousStore),
		"ttl", c.rendezvous.TTL.String(), "sliding_ttl", c.rendezvous.SlidingTTL, "max_bytes", c.rendezvous.MaxBytes,
		"max_sessions", c.rendezvous.MaxSessions, "evict_oldest", c.rendezvous.EvictOldest,
		"max_wait", c.rendezvous.MaxWait.String(), "create_rate", rateForLog(c.http.CreateRate), "write_rate", rateForLog(c.http.WriteRate),
		"cors_origins", originsForLog(c.http.AllowedOrigins), "mounts", mountsForLog(c.http.Mounts),
		"database", databaseForLog(c.databaseURL), "data_dir", c.dataDir, "master_key_file", c.masterKeyFile,
		"push_config", c.pushConfig, "check_tick", c.checkTick.String(), "token_expiry", c.tokenExpiry.String(),
		"token_register_rate", rateForLog(c.http.TokenRegisterRate), "token_verify_rate", rateForLog(c.http.TokenVerifyRate),
		"token_update_rate", rateForLog(c.http.TokenUpdateRate), "token_rate_per_token", rateForLog(c.http.TokenPerTokenRate),
		"queue_create_rate", rateForLog(c.http.QueueCreateRate),
		"max_conns", c.conns.Max, "max_conns_per_ip", c.conns.PerClient, "longpolls_per_ip", c.http.LongPollsPerClient,
		"longpolls_max", c.http.LongPollsTotal, "read_timeout", c.readTimeout.String(), "metrics_addr", c.metricsAddr,
	}
}

// rateForLog shows a rate limit as "1/s burst 10", or "unlimited".
func rateForLog(r ratelimit.Rule) string {
	if r.Rate <= 0 {
		return "unlimited"
	}
	return fmt.Sprintf("%g/s burst %d", r.Rate, r.Burst)
}

// originsForLog shows the CORS origins as configured: "*" for any.
func originsForLog(origins []string) string {
	if len(origins) == 0 {
		return "*"
	}
	return strings.Join(origins, ",")
}

// mountsForLog shows the mounts as --rendezvous-mounts takes them.
func mountsForLog(mounts []api.Mount) string {
	parts := make([]string, len(mounts))
	for i, m := range mounts {
		parts[i] = fmt.Sprintf("%s:%s", m.Flavour, m.Path)
	}
	return strings.Join(parts, ",")
}

// redactURL keeps a URL's scheme and drops the rest, which may carry
// credentials.
func redactURL(u string) string {
	if scheme, _, ok := strings.Cut(u, "://"); ok {
		return scheme + "://…"
	}
	return u
}

// databaseForLog shows a SQLite URL whole (a path holds no secret) and
// only the scheme of others.
func databaseForLog(u string) string {
	if strings.HasPrefix(u, "sqlite://") {
		return u
	}
	return redactURL(u)
}
