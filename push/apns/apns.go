// Package apns is the Apple Push Notification service adapter of package
// push, over github.com/sideshow/apns2 (HTTP/2).
//
// One Sender serves one app (one APNs topic) with token authentication (a
// .p8 signing key, its key id and the team id; the JWT is refreshed every
// 40 minutes, well inside Apple's one hour and outside its 20-minute
// minimum) or certificate authentication (.p12 or PEM). Each notification
// goes to the production or development (sandbox) host according to its
// Environment. Send makes one request (plus one immediate retry with a
// fresh JWT on 403 ExpiredProviderToken) and classifies every documented
// APNs answer with Classify; the dispatcher does the retrying.
package apns

//lint:file-ignore SA1019 one x/net/http2 Transport per connection gives a fixed pool of HTTP/2 connections per host (apns2 builds on the same package); net/http's Transport keeps one connection per host.

import (
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sideshow/apns2"
	"github.com/sideshow/apns2/certificate"
	"github.com/sideshow/apns2/token"
	"golang.org/x/net/http2"

	"github.com/trystgw/tryst/push"
)

// Provider is the provider name used in errors and metrics.
const Provider = "apns"

// Apple's hosts.
const (
	ProductionURL  = apns2.HostProduction
	DevelopmentURL = apns2.HostDevelopment
)

// Payload size limits (bytes).
const MaxPayload = 4096

// DefaultTokenRefresh is how old a provider JWT may get before it is
// replaced. Apple rejects tokens older than an hour and refreshes more
// often than every 20 minutes.
const DefaultTokenRefresh = 40 * time.Minute

// Config configures a Sender. Set Key, KeyID and TeamID for token auth,
// or Certificate for certificate auth.
type Config struct {
	// App is the tryst app id (for errors and logs).
	App string
	// Topic is the app's bundle id, sent as apns-topic.
	Topic string

	Key    *ecdsa.PrivateKey
	KeyID  string
	TeamID string

	Certificate *tls.Certificate

	// ProductionURL and DevelopmentURL default to Apple's hosts.
	ProductionURL  string
	DevelopmentURL string
	// RootCAs overrides the system roots (tests, proxies).
	RootCAs *x509.CertPool
	// TokenRefresh defaults to DefaultTokenRefresh.
	TokenRefresh time.Duration
	// Connections is the number of HTTP/2 connections kept per host
	// (Apple recommends several for throughput); sends are spread over
	// them round-robin. Default DefaultConnections.
	Connections int
}

// DefaultTimeout bounds a Send whose context has no deadline.
const DefaultTimeout = 30 * time.Second

// DefaultConnections is the default number of connections per APNs host.
const DefaultConnections = 2

// Sender sends notifications of one app to APNs. It is safe for
// concurrent use.
type Sender struct {
	app, topic string
	prod, dev  []*apns2.Client // one per connection
	transports []*http2.Transport
	next       atomic.Uint32
	tok        *token.Token
	refresh    int64        // seconds
	issued     atomic.Int64 // unix seconds of the current JWT
	now        func() time.Time
}

// New returns a Sender for cfg. It validates the credentials (signing a
// first JWT, or checking the certificate's validity period) but does not
// connect; the connection is made by the first Send.
func New(cfg Config) (*Sender, error) {
	where := "apns"
	if cfg.App != "" {
		where = fmt.Sprintf("apns app %q", cfg.App)
	}
	if cfg.Topic == "" {
		return nil, fmt.Errorf("%s: topic (bundle id) is required", where)
	}
	tlsConf := &tls.Config{RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12}
	s := &Sender{app: cfg.App, topic: cfg.Topic, now: time.Now}
	if err := s.authenticate(cfg, tlsConf); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	refresh := cfg.TokenRefresh
	if refresh <= 0 {
		refresh = DefaultTokenRefresh
	}
	s.refresh = int64(refresh / time.Second)
	prodURL, devURL := cmp.Or(cfg.ProductionURL, ProductionURL), cmp.Or(cfg.DevelopmentURL, DevelopmentURL)
	for _, u := range []string{prodURL, devURL} {
		if !strings.HasPrefix(u, "https://") {
			return nil, fmt.Errorf("%s: host %q must be an https:// URL", where, u)
		}
	}
	s.connect(cfg, tlsConf, prodURL, devURL)
	return s, nil
}

// authenticate sets up token auth (checking the key by signing a first
// JWT) or certificate auth (checking the certificate's validity period).
func (s *Sender) authenticate(cfg Config, tlsConf *tls.Config) error {
	switch {
	case cfg.Key != nil && cfg.Certificate != nil:
		return errors.New("set a signing key or a certificate, not both")
	case cfg.Key != nil:
		if cfg.KeyID == "" || cfg.TeamID == "" {
			return errors.New("token auth needs the key id and the team id")
		}
		if cfg.Key.Curve != elliptic.P256() {
			return fmt.Errorf("signing key %s is not a P-256 (ES256) key", cfg.KeyID)
		}
		s.tok = &token.Token{AuthKey: cfg.Key, KeyID: cfg.KeyID, TeamID: cfg.TeamID}
		if _, err := s.tok.Generate(); err != nil {
			return fmt.Errorf("signing a provider token with key %s: %w", cfg.KeyID, err)
		}
		s.issued.Store(s.tok.IssuedAt)
	case cfg.Certificate != nil:
		if err := checkCertificate(cfg.Certificate, time.Now()); err != nil {
			return err
		}
		tlsConf.Certificates = []tls.Certificate{*cfg.Certificate}
	default:
		return errors.New("no credentials (signing key or certificate)")
	}
	return nil
}

// connect builds cfg.Connections HTTP/2 transports, each with an apns2
// client per host; connections are dialled on first use.
func (s *Sender) connect(cfg Config, tlsConf *tls.Config, prodURL, devURL string) {
	conns := cfg.Connections
	if conns <= 0 {
		conns = DefaultConnections
	}
	dialer := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 20 * time.Second, KeepAlive: 15 * time.Second}}
	for range conns {
		// Each transport holds its own connection per host.
		tr := &http2.Transport{
			TLSClientConfig: tlsConf,
			DialTLSContext: func(ctx context.Context, network, addr string, c *tls.Config) (net.Conn, error) {
				d := *dialer
				d.Config = c
				return d.DialContext(ctx, network, addr)
			},
			ReadIdleTimeout: 15 * time.Second,
			PingTimeout:     15 * time.Second,
		}
		s.transports = append(s.transports, tr)
		// No http.Client.Timeout (it costs a timer per request): Send
		// bounds every request with its context.
		hc := &http.Client{Transport: retryAfterCapture{tr}}
		mk := func(host string) *apns2.Client {
			c := &apns2.Client{Host: strings.TrimSuffix(host, "/"), HTTPClient: hc, Token: s.tok}
			if cfg.Certificate != nil {
				c.Certificate = *cfg.Certificate
			}
			return c
		}
		s.prod = append(s.prod, mk(prodURL))
		s.dev = append(s.dev, mk(devURL))
	}
}

// Provider returns "apns".
func (s *Sender) Provider() string { return Provider }

// Topic returns the apns-topic this sender uses.
func (s *Sender) Topic() string { return s.topic }

// Close closes idle connections.
func (s *Sender) Close() error {
	for _, t := range s.transports {
		t.CloseIdleConnections()
	}
	return nil
}

// Send delivers n and returns the apns-id. Errors are *push.Error.
func (s *Sender) Send(ctx context.Context, n *push.Notification) (string, error) {
	if n.Token.Platform() != push.APNs {
		return "", push.PayloadError(Provider, "", 0, fmt.Errorf("token for %s sent to apns", n.Token.Platform()))
	}
	if !n.Expiration.IsZero() && !s.now().Before(n.Expiration) {
		return "", &push.Error{Class: push.ClassExpired, Reason: push.ReasonNotificationExpired, Provider: Provider, Err: push.ErrExpired}
	}
	payload := buildPayload(n)
	if len(payload) > MaxPayload {
		return "", &push.Error{Class: push.ClassPayload, Reason: push.ReasonPayloadTooLarge, Provider: Provider,
			Message: fmt.Sprintf("payload is %d bytes, limit %d", len(payload), MaxPayload)}
	}
	clients := s.prod
	if n.Environment == push.Development {
		clients = s.dev
	}
	c := clients[int(s.next.Add(1))%len(clients)]
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	return s.push(ctx, c, s.toAPNs(n, payload))
}

// toAPNs is n as apns2 sends it.
func (s *Sender) toAPNs(n *push.Notification, payload []byte) *apns2.Notification {
	an := &apns2.Notification{
		DeviceToken: n.Token.String(),
		Topic:       s.topic,
		CollapseID:  n.CollapseID,
		Expiration:  n.Expiration,
		Payload:     payload,
		PushType:    apns2.PushTypeAlert,
		Priority:    apns2.PriorityHigh,
	}
	if n.Kind == push.Background {
		// Apple requires priority 5 for background pushes.
		an.PushType, an.Priority = apns2.PushTypeBackground, apns2.PriorityLow
	} else if n.Priority.Effective(n.Kind) == push.PriorityNormal {
		an.Priority = apns2.PriorityLow
	}
	return an
}

// push sends an through c, once more with a new JWT if APNs says the one
// used expired, and classifies the outcome.
func (s *Sender) push(ctx context.Context, c *apns2.Client, an *apns2.Notification) (string, error) {
	used := s.freshToken()
	for try := 0; ; try++ {
		var ra retryAfter
		res, err := c.PushWithContext(context.WithValue(ctx, retryAfterKey{}, &ra), an)
		if err != nil {
			if ctx.Err() != nil {
				return "", push.ContextError(Provider, ctx.Err())
			}
			return "", push.RetryableError(push.ReasonNetwork, Provider, 0, err)
		}
		if res.Sent() {
			return res.ApnsID, nil
		}
		if res.Reason == apns2.ReasonExpiredProviderToken && s.tok != nil && try == 0 {
			used = s.renewToken(used)
			continue
		}
		e := Classify(res.StatusCode, res.Reason)
		if res.StatusCode == http.StatusGone && !res.Timestamp.IsZero() {
			e.Timestamp = res.Timestamp.Time
		}
		if ra.value != "" {
			e.RetryAfter = push.ParseRetryAfter(ra.value, s.now())
		}
		return "", e
	}
}

// freshToken replaces the JWT when it is older than the refresh period
// and returns the issue time of the one in use.
func (s *Sender) freshToken() int64 {
	if s.tok == nil {
		return 0
	}
	iss := s.issued.Load()
	if s.now().Unix()-iss < s.refresh {
		return iss
	}
	s.tok.Lock()
	defer s.tok.Unlock()
	if s.now().Unix()-s.tok.IssuedAt >= s.refresh {
		if _, err := s.tok.Generate(); err != nil {
			// Keep the old token; APNs will say what it thinks of it.
			return s.tok.IssuedAt
		}
	}
	s.issued.Store(s.tok.IssuedAt)
	return s.tok.IssuedAt
}

// renewToken replaces the JWT after APNs called it expired, unless another
// goroutine already did since the one issued at used.
func (s *Sender) renewToken(used int64) int64 {
	s.tok.Lock()
	defer s.tok.Unlock()
	if s.tok.IssuedAt == used {
		s.tok.Generate()
	}
	s.issued.Store(s.tok.IssuedAt)
	return s.tok.IssuedAt
}

// Classify maps an APNs answer (HTTP status and reason) to a *push.Error.
// Every reason Apple documents is mapped; unknown reasons fall back on
// the status code.
func Classify(status int, reason string) *push.Error {
	e := &push.Error{Provider: Provider, ProviderReason: reason, Status: status}
	if m, ok := reasons[reason]; ok {
		e.Class, e.Reason = m.class, m.reason
		return e
	}
	switch {
	case status == http.StatusGone:
		e.Class, e.Reason = push.ClassToken, push.ReasonUnregistered
	case status == http.StatusRequestEntityTooLarge:
		e.Class, e.Reason = push.ClassPayload, push.ReasonPayloadTooLarge
	case status == http.StatusTooManyRequests:
		e.Class, e.Reason = push.ClassRetryable, push.ReasonRateLimited
	case status == http.StatusForbidden || status == http.StatusUnauthorized:
		e.Class, e.Reason = push.ClassCredential, push.ReasonCredential
	case status >= 500:
		e.Class, e.Reason = push.ClassRetryable, push.ReasonUnavailable
	case status >= 400:
		e.Class, e.Reason = push.ClassPayload, push.ReasonPayload
	default:
		e.Class, e.Reason = push.ClassRetryable, push.ReasonUnavailable
	}
	return e
}

type mapping struct {
	class  push.Class
	reason push.Reason
}

// reasons maps Apple's documented reasons ("Handling notification
// responses from APNs").
var reasons = map[string]mapping{
	// 400
	apns2.ReasonBadCollapseID:          {push.ClassPayload, push.ReasonPayload},
	apns2.ReasonBadDeviceToken:         {push.ClassToken, push.ReasonBadToken},
	apns2.ReasonBadExpirationDate:      {push.ClassPayload, push.ReasonPayload},
	apns2.ReasonBadMessageID:           {push.ClassPayload, push.ReasonPayload},
	apns2.ReasonBadPriority:            {push.ClassPayload, push.ReasonPayload},
	apns2.ReasonBadTopic:               {push.ClassCredential, push.ReasonCredential},
	apns2.ReasonDeviceTokenNotForTopic: {push.ClassToken, push.ReasonWrongTopic},
	apns2.ReasonDuplicateHeaders:       {push.ClassPayload, push.ReasonPayload},
	apns2.ReasonIdleTimeout:            {push.ClassRetryable, push.ReasonNetwork},
	apns2.ReasonInvalidPushType:        {push.ClassPayload, push.ReasonPayload},
	apns2.ReasonMissingDeviceToken:     {push.ClassPayload, push.ReasonPayload},
	apns2.ReasonMissingTopic:           {push.ClassCredential, push.ReasonCredential},
	apns2.ReasonPayloadEmpty:           {push.ClassPayload, push.ReasonPayload},
	apns2.ReasonTopicDisallowed:        {push.ClassCredential, push.ReasonCredential},
	"BadRequest":                       {push.ClassPayload, push.ReasonPayload},
	// 403
	apns2.ReasonBadCertificate:            {push.ClassCredential, push.ReasonCredential},
	apns2.ReasonBadCertificateEnvironment: {push.ClassCredential, push.ReasonCredential},
	apns2.ReasonExpiredProviderToken:      {push.ClassCredential, push.ReasonCredential},
	apns2.ReasonForbidden:                 {push.ClassCredential, push.ReasonCredential},
	apns2.ReasonInvalidProviderToken:      {push.ClassCredential, push.ReasonCredential},
	apns2.ReasonMissingProviderToken:      {push.ClassCredential, push.ReasonCredential},
	"UnrelatedKeyIdInToken":               {push.ClassCredential, push.ReasonCredential},
	// 404, 405
	apns2.ReasonBadPath:          {push.ClassPayload, push.ReasonPayload},
	apns2.ReasonMethodNotAllowed: {push.ClassPayload, push.ReasonPayload},
	// 410
	apns2.ReasonExpiredToken: {push.ClassToken, push.ReasonTokenExpired},
	apns2.ReasonUnregistered: {push.ClassToken, push.ReasonUnregistered},
	// 413
	apns2.ReasonPayloadTooLarge: {push.ClassPayload, push.ReasonPayloadTooLarge},
	// 429
	apns2.ReasonTooManyProviderTokenUpdates: {push.ClassRetryable, push.ReasonRateLimited},
	apns2.ReasonTooManyRequests:             {push.ClassRetryable, push.ReasonRateLimited},
	// 500, 503
	apns2.ReasonInternalServerError: {push.ClassRetryable, push.ReasonUnavailable},
	apns2.ReasonServiceUnavailable:  {push.ClassRetryable, push.ReasonUnavailable},
	apns2.ReasonShutdown:            {push.ClassRetryable, push.ReasonUnavailable},
}

// Reasons returns every APNs reason string Classify knows, for tests and
// documentation.
func Reasons() []string {
	out := make([]string, 0, len(reasons))
	for r := range reasons {
		out = append(out, r)
	}
	return out
}

// retryAfterCapture records the Retry-After header of 429 and 503 answers
// for Send (apns2 does not expose response headers).
type retryAfterCapture struct{ base *http2.Transport }

type retryAfterKey struct{}

type retryAfter struct{ value string }

func (c retryAfterCapture) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.base.RoundTrip(r)
	if err == nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		if slot, ok := r.Context().Value(retryAfterKey{}).(*retryAfter); ok {
			slot.value = resp.Header.Get("Retry-After")
		}
	}
	return resp, err
}

func (c retryAfterCapture) CloseIdleConnections() { c.base.CloseIdleConnections() }

// LoadKey reads an APNs .p8 signing key (PKCS#8 PEM, P-256).
func LoadKey(path string) (*ecdsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("apns signing key: %w", err)
	}
	k, err := token.AuthKeyFromBytes(b)
	if err != nil {
		return nil, fmt.Errorf("apns signing key %s: not a .p8 PKCS#8 EC private key: %w", path, err)
	}
	if k.Curve != elliptic.P256() {
		return nil, fmt.Errorf("apns signing key %s: not a P-256 key", path)
	}
	return k, nil
}

// LoadCertificate reads an APNs client certificate with its private key,
// from a .p12/.pfx file or a PEM file (password may be empty).
func LoadCertificate(path, password string) (tls.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("apns certificate: %w", err)
	}
	ext := strings.ToLower(filepath.Ext(path))
	var cert tls.Certificate
	if ext == ".p12" || ext == ".pfx" || !strings.Contains(string(b), "-----BEGIN") {
		cert, err = certificate.FromP12Bytes(b, password)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("apns certificate %s: reading PKCS#12 (wrong password?): %w", path, err)
		}
	} else {
		cert, err = certificate.FromPemBytes(b, password)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("apns certificate %s: reading PEM (needs CERTIFICATE and PRIVATE KEY blocks): %w", path, err)
		}
	}
	if err := checkCertificate(&cert, time.Now()); err != nil {
		return tls.Certificate{}, fmt.Errorf("apns certificate %s: %w", path, err)
	}
	return cert, nil
}

func checkCertificate(c *tls.Certificate, now time.Time) error {
	if len(c.Certificate) == 0 || c.PrivateKey == nil {
		return errors.New("certificate or private key missing")
	}
	leaf := c.Leaf
	if leaf == nil {
		var err error
		if leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return fmt.Errorf("parsing certificate: %w", err)
		}
		c.Leaf = leaf
	}
	if now.After(leaf.NotAfter) {
		return fmt.Errorf("certificate %q expired on %s", leaf.Subject.CommonName, leaf.NotAfter.Format(time.DateOnly))
	}
	if now.Before(leaf.NotBefore) {
		return fmt.Errorf("certificate %q is not valid before %s", leaf.Subject.CommonName, leaf.NotBefore.Format(time.DateOnly))
	}
	return nil
}
