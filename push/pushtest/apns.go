package pushtest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/trystgw/tryst/push"
)

// APNsAnswer scripts the fake APNs' answer to one request. The zero value
// is success (200).
type APNsAnswer struct {
	Status int    // 0 means 200
	Reason string // APNs reason, e.g. "BadDeviceToken"
	// Timestamp is sent with 410 answers (milliseconds since the epoch).
	Timestamp time.Time
	// RetryAfter, if set, is sent as the Retry-After header.
	RetryAfter string
	// Delay holds the answer back (the request's cancellation ends it).
	Delay time.Duration
	// Hang holds the answer until the client gives up or the fake closes.
	Hang bool
	// Drop closes the TCP connection instead of answering.
	Drop bool
}

// APNsOK is a success answer.
func APNsOK() APNsAnswer { return APNsAnswer{} }

// APNsFail is an error answer with Apple's status and reason.
func APNsFail(status int, reason string) APNsAnswer {
	return APNsAnswer{Status: status, Reason: reason}
}

// APNsGone is a 410 answer (reason "Unregistered" or "ExpiredToken") with
// the time Apple last saw the token valid.
func APNsGone(reason string, ts time.Time) APNsAnswer {
	return APNsAnswer{Status: http.StatusGone, Reason: reason, Timestamp: ts}
}

// APNsDrop closes the connection.
func APNsDrop() APNsAnswer { return APNsAnswer{Drop: true} }

// APNsRequest is one request the fake APNs received.
type APNsRequest struct {
	At          time.Time
	Environment push.Environment
	Token       string
	Topic       string
	PushType    string
	Priority    string
	CollapseID  string
	Expiration  string
	ApnsID      string
	Payload     []byte
	// Auth is "token" (with KeyID and TeamID) or "certificate".
	Auth   string
	KeyID  string
	TeamID string
	// Status and Reason are the answer given (0 for a dropped request).
	Status int
	Reason string
}

// Decoded returns the request's JSON payload decoded.
func (r APNsRequest) Decoded() map[string]any {
	var m map[string]any
	_ = json.Unmarshal(r.Payload, &m)
	return m
}

type apnsKey struct {
	team    string
	pub     *ecdsa.PublicKey
	topics  map[string]bool
	revoked bool
}

type apnsCert struct {
	topics map[string]bool
	env    map[push.Environment]bool
}

type verifiedJWT struct {
	keyID, team string
	iat         int64
}

// APNs is a fake Apple Push Notification service: two HTTP/2-over-TLS
// servers (production and development) that check provider JWTs (ES256
// signature against registered keys, kid, iss, age) or client
// certificates, the required headers and the device token, answer as
// scripted per device token, and record every request.
//
// Requests are checked in Apple's order of concerns; the first failure
// is answered with Apple's status and reason:
// 405 MethodNotAllowed, 404 BadPath, 400 MissingDeviceToken,
// 400 DuplicateHeaders, 403 MissingProviderToken/InvalidProviderToken/
// ExpiredProviderToken/BadCertificate/BadCertificateEnvironment,
// 400 MissingTopic/TopicDisallowed, 400 InvalidPushType, 400 BadPriority,
// 400 BadExpirationDate, 400 BadCollapseId, 400 BadMessageId,
// 400 BadDeviceToken (malformed, or registered for the other
// environment), 400 PayloadEmpty, 413 PayloadTooLarge; then the token's
// script; then success.
type APNs struct {
	prod, dev *httptest.Server
	pool      *x509.CertPool
	done      chan struct{}
	closeOnce sync.Once

	mu       sync.Mutex
	keys     map[string]*apnsKey
	certs    map[[32]byte]*apnsCert
	verified map[string]verifiedJWT
	scripts  map[string][]APNsAnswer
	topics   map[string]APNsAnswer
	envs     map[string]push.Environment
	received []APNsRequest
	noRecord bool
	count    int
	inflight int
	changed  changeSignal
	now      func() time.Time
}

type connKey struct{}

// NewAPNs starts a fake APNs on loopback. Close it when done.
func NewAPNs() *APNs {
	f := &APNs{
		done:     make(chan struct{}),
		keys:     map[string]*apnsKey{},
		certs:    map[[32]byte]*apnsCert{},
		verified: map[string]verifiedJWT{},
		scripts:  map[string][]APNsAnswer{},
		topics:   map[string]APNsAnswer{},
		envs:     map[string]push.Environment{},
		now:      time.Now,
	}
	f.prod = f.start(push.Production)
	f.dev = f.start(push.Development)
	f.pool = x509.NewCertPool()
	f.pool.AddCert(f.prod.Certificate())
	f.pool.AddCert(f.dev.Certificate())
	return f
}

func (f *APNs) start(env push.Environment) *httptest.Server {
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.serve(env, w, r)
	}))
	s.EnableHTTP2 = true
	s.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.Config.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		return context.WithValue(ctx, connKey{}, c)
	}
	s.StartTLS()
	return s
}

// ProductionURL is the fake's api.push.apple.com.
func (f *APNs) ProductionURL() string { return f.prod.URL }

// DevelopmentURL is the fake's api.sandbox.push.apple.com.
func (f *APNs) DevelopmentURL() string { return f.dev.URL }

// RootCAs trusts the fake's TLS certificates.
func (f *APNs) RootCAs() *x509.CertPool { return f.pool }

// CAPEM returns the fake's TLS certificate in PEM, for a ca_file.
func (f *APNs) CAPEM() []byte { return certPEM(f.prod.Certificate()) }

// Close stops the fake, releasing hanging requests.
func (f *APNs) Close() {
	f.closeOnce.Do(func() {
		close(f.done)
		f.prod.CloseClientConnections()
		f.dev.CloseClientConnections()
		f.prod.Close()
		f.dev.Close()
	})
}

// AddKey registers a token-auth signing key. topics limits the topics it
// may push to (none: any).
func (f *APNs) AddKey(keyID, teamID string, pub *ecdsa.PublicKey, topics ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keys[keyID] = &apnsKey{team: teamID, pub: pub, topics: set(topics)}
}

// NewKey generates and registers a signing key.
func (f *APNs) NewKey(keyID, teamID string, topics ...string) *ecdsa.PrivateKey {
	k := NewAPNsKey()
	f.AddKey(keyID, teamID, &k.PublicKey, topics...)
	return k
}

// RevokeKey makes the key's tokens fail with 403 InvalidProviderToken,
// like a key revoked in the developer account.
func (f *APNs) RevokeKey(keyID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if k := f.keys[keyID]; k != nil {
		k.revoked = true
	}
	for b, v := range f.verified {
		if v.keyID == keyID {
			delete(f.verified, b)
		}
	}
}

// AddCertificate registers a client certificate for topics, valid in the
// given environments (none: both).
func (f *APNs) AddCertificate(cert *x509.Certificate, topics []string, envs ...push.Environment) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e := map[push.Environment]bool{}
	for _, v := range envs {
		e[v] = true
	}
	f.certs[sha256.Sum256(cert.Raw)] = &apnsCert{topics: set(topics), env: e}
}

// SetTokenEnvironment registers a device token as issued for env; sending
// it to the other environment's host gives 400 BadDeviceToken, as Apple
// does. Unregistered tokens are valid in both.
func (f *APNs) SetTokenEnvironment(token string, env push.Environment) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.envs[strings.ToLower(token)] = env
}

// Script queues answers for a device token; each valid request to it
// takes the next one, then it gets success again.
func (f *APNs) Script(token string, answers ...APNsAnswer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := strings.ToLower(token)
	f.scripts[t] = append(f.scripts[t], answers...)
}

// SetTopicAnswer answers every valid request for topic with a (until
// cleared with ClearTopicAnswer); token scripts take precedence.
func (f *APNs) SetTopicAnswer(topic string, a APNsAnswer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.topics[topic] = a
}

// ClearTopicAnswer removes a topic answer.
func (f *APNs) ClearTopicAnswer(topic string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.topics, topic)
}

// SetRecording turns request recording on (the default) or off (for
// benchmarks); Count still counts.
func (f *APNs) SetRecording(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.noRecord = !on
}

// Count returns the number of requests answered (or dropped).
func (f *APNs) Count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.count
}

// Received returns the recorded requests.
func (f *APNs) Received() []APNsRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]APNsRequest(nil), f.received...)
}

// ReceivedFor returns the recorded requests for a device token.
func (f *APNs) ReceivedFor(token string) []APNsRequest {
	t := strings.ToLower(token)
	f.mu.Lock()
	defer f.mu.Unlock()
	return matching(f.received, func(r APNsRequest) bool { return r.Token == t })
}

// WaitDelivered waits until a request to token was answered 200 and
// returns it: how a test reads a verification push.
func (f *APNs) WaitDelivered(ctx context.Context, token string) (APNsRequest, error) {
	t := strings.ToLower(token)
	var got APNsRequest
	err := f.Wait(ctx, func(rs []APNsRequest) bool {
		for _, r := range rs {
			if r.Token == t && r.Status == http.StatusOK {
				got = r
				return true
			}
		}
		return false
	})
	return got, err
}

// Wait waits until cond holds for the recorded requests.
func (f *APNs) Wait(ctx context.Context, cond func([]APNsRequest) bool) error {
	return waitUntil(ctx, &f.mu, &f.changed, func() bool { return cond(f.received) })
}

// WaitCount waits until n requests were answered.
func (f *APNs) WaitCount(ctx context.Context, n int) error {
	return waitUntil(ctx, &f.mu, &f.changed, func() bool { return f.count >= n })
}

// InFlight returns the number of requests being handled (hanging or
// delayed ones included).
func (f *APNs) InFlight() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.inflight
}

func (f *APNs) serve(env push.Environment, w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.inflight++
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inflight--
		f.mu.Unlock()
	}()
	req := APNsRequest{At: f.now(), Environment: env}
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	if _, err := buf.ReadFrom(io.LimitReader(r.Body, 64<<10)); err != nil {
		return
	}
	req.Payload = buf.Bytes() // copied by record if kept
	status, reason := f.check(env, r, &req)
	var a APNsAnswer
	if status == 0 {
		a = f.nextAnswer(req.Token, req.Topic)
		status, reason = a.Status, a.Reason
		if status == 0 {
			status = http.StatusOK
		}
	}
	if why := holdBack(r, a.Delay, a.Hang, f.done); why != "" {
		f.record(req, 0, why)
		return
	}
	if a.Drop {
		f.record(req, 0, reasonDropped)
		dropConnection(r)
	}
	id := req.ApnsID
	if id == "" {
		id = newUUID()
	}
	w.Header().Set("apns-id", id)
	if a.RetryAfter != "" {
		w.Header().Set("Retry-After", a.RetryAfter)
	}
	f.record(req, status, reason)
	if status == http.StatusOK {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if status == http.StatusGone && !a.Timestamp.IsZero() {
		fmt.Fprintf(w, `{"reason":%q,"timestamp":%d}`, reason, a.Timestamp.UnixMilli())
		return
	}
	fmt.Fprintf(w, `{"reason":%q}`, reason)
}

// check validates the request like APNs and returns the error answer, or
// status 0 if the request is acceptable.
func (f *APNs) check(env push.Environment, r *http.Request, req *APNsRequest) (int, string) {
	h := r.Header
	req.Topic = h.Get("apns-topic")
	req.PushType = h.Get("apns-push-type")
	req.Priority = h.Get("apns-priority")
	req.CollapseID = h.Get("apns-collapse-id")
	req.Expiration = h.Get("apns-expiration")
	req.ApnsID = h.Get("apns-id")
	if r.Method != http.MethodPost {
		return http.StatusMethodNotAllowed, "MethodNotAllowed"
	}
	tok, ok := strings.CutPrefix(r.URL.Path, "/3/device/")
	if !ok {
		return http.StatusNotFound, "BadPath"
	}
	req.Token = strings.ToLower(tok)
	if tok == "" {
		return http.StatusBadRequest, "MissingDeviceToken"
	}
	for _, k := range []string{"apns-topic", "apns-push-type", "apns-priority", "apns-collapse-id", "apns-expiration", "apns-id", "authorization"} {
		if len(h.Values(k)) > 1 {
			return http.StatusBadRequest, "DuplicateHeaders"
		}
	}

	// Authentication.
	var topics map[string]bool
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		req.Auth = "certificate"
		f.mu.Lock()
		c := f.certs[sha256.Sum256(r.TLS.PeerCertificates[0].Raw)]
		f.mu.Unlock()
		if c == nil {
			return http.StatusForbidden, "BadCertificate"
		}
		if len(c.env) > 0 && !c.env[env] {
			return http.StatusForbidden, "BadCertificateEnvironment"
		}
		if f.now().After(r.TLS.PeerCertificates[0].NotAfter) {
			return http.StatusForbidden, "BadCertificate"
		}
		topics = c.topics
		if req.Topic == "" && len(topics) == 1 {
			for t := range topics {
				req.Topic = t
			}
		}
	} else {
		req.Auth = "token"
		auth := h.Get("authorization")
		bearer, ok := strings.CutPrefix(auth, "bearer ")
		if !ok {
			bearer, ok = strings.CutPrefix(auth, "Bearer ")
		}
		if !ok || bearer == "" {
			return http.StatusForbidden, "MissingProviderToken"
		}
		v, reason := f.verifyJWT(bearer)
		if reason != "" {
			return http.StatusForbidden, reason
		}
		req.KeyID, req.TeamID = v.keyID, v.team
		f.mu.Lock()
		topics = f.keys[v.keyID].topics
		f.mu.Unlock()
	}
	if req.Topic == "" {
		return http.StatusBadRequest, "MissingTopic"
	}
	if len(topics) > 0 && !topics[req.Topic] {
		return http.StatusBadRequest, "TopicDisallowed"
	}

	// Headers.
	switch req.PushType {
	case "", "alert", "background", "location", "voip", "complication", "fileprovider", "mdm", "liveactivity", "pushtotalk", "controls", "widgets":
	default:
		return http.StatusBadRequest, "InvalidPushType"
	}
	switch req.Priority {
	case "", "1", "5":
	case "10":
		if req.PushType == "background" {
			return http.StatusBadRequest, "BadPriority"
		}
	default:
		return http.StatusBadRequest, "BadPriority"
	}
	if req.Expiration != "" {
		if _, err := strconv.ParseInt(req.Expiration, 10, 64); err != nil {
			return http.StatusBadRequest, "BadExpirationDate"
		}
	}
	if len(req.CollapseID) > 64 {
		return http.StatusBadRequest, "BadCollapseId"
	}
	if req.ApnsID != "" && !isUUID(req.ApnsID) {
		return http.StatusBadRequest, "BadMessageId"
	}

	// Device token.
	if len(tok) < 64 || len(tok) > 200 || len(tok)%2 != 0 {
		return http.StatusBadRequest, "BadDeviceToken"
	}
	if !isHex(tok) {
		return http.StatusBadRequest, "BadDeviceToken"
	}
	f.mu.Lock()
	tokEnv, registered := f.envs[req.Token]
	f.mu.Unlock()
	if registered && tokEnv != env {
		return http.StatusBadRequest, "BadDeviceToken"
	}

	// Payload.
	if len(req.Payload) == 0 {
		return http.StatusBadRequest, "PayloadEmpty"
	}
	limit := 4096
	if req.PushType == "voip" {
		limit = 5120
	}
	if len(req.Payload) > limit {
		return http.StatusRequestEntityTooLarge, "PayloadTooLarge"
	}
	return 0, ""
}

// verifyJWT checks an ES256 provider token: header alg/kid, claims
// iss/iat, signature against the registered key, age under an hour.
// Verified tokens are cached, as APNs does.
func (f *APNs) verifyJWT(bearer string) (verifiedJWT, string) {
	f.mu.Lock()
	v, ok := f.verified[bearer]
	f.mu.Unlock()
	if !ok {
		var reason string
		v, reason = f.verifySignature(bearer)
		if reason != "" {
			return v, reason
		}
	}
	now := f.now().Unix()
	if now-v.iat >= 3600 {
		return v, "ExpiredProviderToken"
	}
	if v.iat > now+300 {
		return v, "InvalidProviderToken"
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	k := f.keys[v.keyID]
	if k == nil || k.revoked {
		return v, "InvalidProviderToken"
	}
	if !ok {
		if len(f.verified) > 10000 {
			clear(f.verified)
		}
		f.verified[bearer] = v
	}
	return v, ""
}

func (f *APNs) verifySignature(bearer string) (verifiedJWT, string) {
	var v verifiedJWT
	parts := strings.Split(bearer, ".")
	if len(parts) != 3 {
		return v, "InvalidProviderToken"
	}
	enc := base64.RawURLEncoding
	var hdr struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	var claims struct {
		Iss string          `json:"iss"`
		Iat json.RawMessage `json:"iat"`
	}
	hb, err1 := enc.DecodeString(parts[0])
	cb, err2 := enc.DecodeString(parts[1])
	sig, err3 := enc.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil || json.Unmarshal(hb, &hdr) != nil || json.Unmarshal(cb, &claims) != nil {
		return v, "InvalidProviderToken"
	}
	if hdr.Alg != "ES256" || hdr.Kid == "" || claims.Iss == "" || len(sig) != 64 {
		return v, "InvalidProviderToken"
	}
	iat, err := strconv.ParseInt(string(claims.Iat), 10, 64)
	if err != nil {
		return v, "InvalidProviderToken"
	}
	f.mu.Lock()
	k := f.keys[hdr.Kid]
	f.mu.Unlock()
	if k == nil || k.revoked || k.team != claims.Iss {
		return v, "InvalidProviderToken"
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(k.pub, digest[:], r, s) {
		return v, "InvalidProviderToken"
	}
	return verifiedJWT{keyID: hdr.Kid, team: claims.Iss, iat: iat}, ""
}

func (f *APNs) nextAnswer(token, topic string) APNsAnswer {
	f.mu.Lock()
	defer f.mu.Unlock()
	if a, ok := popScript(f.scripts, token); ok {
		return a
	}
	return f.topics[topic]
}

func (f *APNs) record(req APNsRequest, status int, reason string) {
	req.Status, req.Reason = status, reason
	f.mu.Lock()
	f.count++
	if !f.noRecord {
		req.Payload = append([]byte(nil), req.Payload...)
		f.received = append(f.received, req)
	}
	f.changed.notify()
	f.mu.Unlock()
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func set(xs []string) map[string]bool {
	if len(xs) == 0 {
		return nil
	}
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	const digits = "0123456789ABCDEF"
	var out [36]byte
	j := 0
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out[j] = '-'
			j++
		}
		out[j], out[j+1] = digits[c>>4], digits[c&0xf]
		j += 2
	}
	return string(out[:])
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}
