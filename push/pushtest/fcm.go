package pushtest

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"time"
)

// FCMAnswer scripts the fake FCM's answer to one send. The zero value is
// success.
type FCMAnswer struct {
	Status     int    // HTTP status; 0 means 200
	GRPCStatus string // canonical status, e.g. "NOT_FOUND"
	Message    string
	// FCMCode is the google.firebase.fcm.v1.FcmError errorCode, if any.
	FCMCode string
	// ErrorInfoReason adds a google.rpc.ErrorInfo detail.
	ErrorInfoReason string
	// FieldViolation adds a google.rpc.BadRequest detail blaming this
	// field (e.g. "message.token").
	FieldViolation string
	RetryAfter     string
	Delay          time.Duration
	Hang           bool
	Drop           bool
}

// The FCM answers of the v1 API's documented error codes.
func FCMOK() FCMAnswer { return FCMAnswer{} }

// FCMUnregistered: the app was uninstalled or the token expired (404).
func FCMUnregistered() FCMAnswer {
	return FCMAnswer{Status: 404, GRPCStatus: "NOT_FOUND", Message: "Requested entity was not found.", FCMCode: "UNREGISTERED"}
}

// FCMInvalidToken: a malformed registration token (400 with a
// BadRequest detail on message.token).
func FCMInvalidToken() FCMAnswer {
	return FCMAnswer{Status: 400, GRPCStatus: "INVALID_ARGUMENT", Message: "The registration token is not a valid FCM registration token",
		FCMCode: "INVALID_ARGUMENT", FieldViolation: "message.token"}
}

// FCMInvalidArgument: a bad payload field (400).
func FCMInvalidArgument(field, message string) FCMAnswer {
	return FCMAnswer{Status: 400, GRPCStatus: "INVALID_ARGUMENT", Message: message, FCMCode: "INVALID_ARGUMENT", FieldViolation: field}
}

// FCMSenderIDMismatch: the token belongs to another sender (403).
func FCMSenderIDMismatch() FCMAnswer {
	return FCMAnswer{Status: 403, GRPCStatus: "PERMISSION_DENIED", Message: "SenderId mismatch", FCMCode: "SENDER_ID_MISMATCH"}
}

// FCMQuotaExceeded: rate limited (429), with Retry-After.
func FCMQuotaExceeded(retryAfter string) FCMAnswer {
	return FCMAnswer{Status: 429, GRPCStatus: "RESOURCE_EXHAUSTED", Message: "Quota exceeded for quota metric 'Send requests'", FCMCode: "QUOTA_EXCEEDED", RetryAfter: retryAfter}
}

// FCMUnavailable: overloaded (503), with optional Retry-After.
func FCMUnavailable(retryAfter string) FCMAnswer {
	return FCMAnswer{Status: 503, GRPCStatus: "UNAVAILABLE", Message: "The service is currently unavailable.", FCMCode: "UNAVAILABLE", RetryAfter: retryAfter}
}

// FCMInternal: an internal error (500).
func FCMInternal() FCMAnswer {
	return FCMAnswer{Status: 500, GRPCStatus: "INTERNAL", Message: "Internal error encountered.", FCMCode: "INTERNAL"}
}

// FCMUnspecified: UNSPECIFIED_ERROR (500).
func FCMUnspecified() FCMAnswer {
	return FCMAnswer{Status: 500, GRPCStatus: "UNKNOWN", Message: "Unknown error.", FCMCode: "UNSPECIFIED_ERROR"}
}

// FCMThirdPartyAuth: the APNs credentials in the Firebase project are
// invalid (401).
func FCMThirdPartyAuth() FCMAnswer {
	return FCMAnswer{Status: 401, GRPCStatus: "UNAUTHENTICATED", Message: "Auth error from APNS or Web Push Service", FCMCode: "THIRD_PARTY_AUTH_ERROR"}
}

// FCMUnauthenticated: the access token was refused (401, ErrorInfo
// ACCESS_TOKEN_EXPIRED).
func FCMUnauthenticated() FCMAnswer {
	return FCMAnswer{Status: 401, GRPCStatus: "UNAUTHENTICATED", Message: "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
		ErrorInfoReason: "ACCESS_TOKEN_EXPIRED"}
}

// FCMPermissionDenied: the service account lacks the FCM permission
// (403, ErrorInfo IAM_PERMISSION_DENIED).
func FCMPermissionDenied() FCMAnswer {
	return FCMAnswer{Status: 403, GRPCStatus: "PERMISSION_DENIED", Message: "Permission 'cloudmessaging.messages.create' denied on resource",
		ErrorInfoReason: "IAM_PERMISSION_DENIED"}
}

// FCMDrop closes the connection.
func FCMDrop() FCMAnswer { return FCMAnswer{Drop: true} }

// FCMRequest is one send the fake FCM received.
type FCMRequest struct {
	At           time.Time
	Project      string
	ValidateOnly bool
	Token        string
	Data         map[string]string
	Title, Body  string
	// Android config as sent.
	AndroidPriority string
	TTL             string
	CollapseKey     string
	APNSHeaders     map[string]string
	// Message is the raw message JSON.
	Message json.RawMessage
	// ServiceAccount is the client_email the access token was issued to.
	ServiceAccount string
	// Client is the X-Firebase-Client header (the Admin SDK's version).
	Client string
	Status int
	Code   string
}

type fcmAccount struct {
	project string
	keyID   string
	pub     *rsa.PublicKey
	revoked bool
}

type fcmToken struct {
	email   string
	project string
	expiry  time.Time
}

// FCM is a fake Firebase Cloud Messaging v1 API with its OAuth2 token
// endpoint, over HTTP/2 and TLS on loopback. Service accounts made with
// ServiceAccount point their token_uri at the fake, which verifies the
// RS256 JWT assertion and issues access tokens; the send endpoint
// (POST /v1/projects/{project}/messages:send) checks the access token,
// the project and the message like FCM, answers with Google's error
// format (google.firebase.fcm.v1.FcmError, google.rpc.ErrorInfo,
// google.rpc.BadRequest details) as scripted per registration token, and
// records every send.
type FCM struct {
	srv       *httptest.Server
	done      chan struct{}
	closeOnce sync.Once

	mu        sync.Mutex
	accounts  map[string]*fcmAccount
	tokens    map[string]fcmToken
	scripts   map[string][]FCMAnswer
	received  []FCMRequest
	count     int
	tokenReqs int
	tokenTTL  time.Duration
	changed   changeSignal
	seq       int
}

// NewFCM starts a fake FCM on loopback. Close it when done.
func NewFCM() *FCM {
	f := &FCM{
		done:     make(chan struct{}),
		accounts: map[string]*fcmAccount{},
		tokens:   map[string]fcmToken{},
		scripts:  map[string][]FCMAnswer{},
		tokenTTL: time.Hour,
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", f.serveToken)
	mux.HandleFunc("POST /v1/projects/{project}/messages:send", f.serveSend)
	s := httptest.NewUnstartedServer(mux)
	s.EnableHTTP2 = true
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.Config.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		return context.WithValue(ctx, connKey{}, c)
	}
	s.StartTLS()
	f.srv = s
	return f
}

// URL is the fake's base URL.
func (f *FCM) URL() string { return f.srv.URL }

// Endpoint is the FCM v1 API root for the adapter's Endpoint option.
func (f *FCM) Endpoint() string { return f.srv.URL + "/v1" }

// TokenURL is the fake's OAuth2 token endpoint.
func (f *FCM) TokenURL() string { return f.srv.URL + "/token" }

// RootCAs trusts the fake's TLS certificate.
func (f *FCM) RootCAs() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(f.srv.Certificate())
	return p
}

// CAPEM returns the fake's TLS certificate in PEM, for a ca_file.
func (f *FCM) CAPEM() []byte { return certPEM(f.srv.Certificate()) }

// Close stops the fake.
func (f *FCM) Close() {
	f.closeOnce.Do(func() {
		close(f.done)
		f.srv.CloseClientConnections()
		f.srv.Close()
	})
}

// ServiceAccount creates a service account of project whose token_uri
// is the fake's, and returns its JSON key file.
func (f *FCM) ServiceAccount(project string) []byte {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	var kid [20]byte
	_, _ = rand.Read(kid[:])
	f.mu.Lock()
	f.seq++
	email := fmt.Sprintf("firebase-adminsdk-%d@%s.iam.gserviceaccount.com", f.seq, project)
	f.accounts[email] = &fcmAccount{project: project, keyID: hex.EncodeToString(kid[:]), pub: &key.PublicKey}
	keyID := f.accounts[email].keyID
	f.mu.Unlock()
	b, _ := json.MarshalIndent(map[string]string{
		"type":                        "service_account",
		"project_id":                  project,
		"private_key_id":              keyID,
		"private_key":                 string(KeyPEM(key)),
		"client_email":                email,
		"client_id":                   "100000000000000000000",
		"auth_uri":                    "https://accounts.google.com/o/oauth2/auth",
		"token_uri":                   f.TokenURL(),
		"auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
	}, "", "  ")
	return b
}

// RevokeServiceAccount deletes the account's key: token requests fail with
// invalid_grant and its access tokens stop working.
func (f *FCM) RevokeServiceAccount(serviceAccountJSON []byte) {
	var sa struct {
		ClientEmail string `json:"client_email"`
	}
	_ = json.Unmarshal(serviceAccountJSON, &sa)
	f.mu.Lock()
	defer f.mu.Unlock()
	if a := f.accounts[sa.ClientEmail]; a != nil {
		a.revoked = true
	}
	for t, v := range f.tokens {
		if v.email == sa.ClientEmail {
			delete(f.tokens, t)
		}
	}
}

// ExpireAccessTokens invalidates every access token issued so far (the
// next send with one gets 401 ACCESS_TOKEN_EXPIRED).
func (f *FCM) ExpireAccessTokens() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.tokens)
}

// TokenRequests returns how many access tokens were requested.
func (f *FCM) TokenRequests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tokenReqs
}

// Script queues answers for a registration token.
func (f *FCM) Script(token string, answers ...FCMAnswer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.scripts[token] = append(f.scripts[token], answers...)
}

// Count returns the number of sends answered.
func (f *FCM) Count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.count
}

// Received returns the recorded sends.
func (f *FCM) Received() []FCMRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]FCMRequest(nil), f.received...)
}

// ReceivedFor returns the recorded sends to a registration token.
func (f *FCM) ReceivedFor(token string) []FCMRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return matching(f.received, func(r FCMRequest) bool { return r.Token == token })
}

// Wait waits until cond holds for the recorded sends.
func (f *FCM) Wait(ctx context.Context, cond func([]FCMRequest) bool) error {
	return waitUntil(ctx, &f.mu, &f.changed, func() bool { return cond(f.received) })
}

// WaitDelivered waits until a send to token was answered 200 and returns
// it: how a test reads a verification push.
func (f *FCM) WaitDelivered(ctx context.Context, token string) (FCMRequest, error) {
	var got FCMRequest
	err := f.Wait(ctx, func(rs []FCMRequest) bool {
		for _, r := range rs {
			if r.Token == token && r.Status == http.StatusOK {
				got = r
				return true
			}
		}
		return false
	})
	return got, err
}

func (f *FCM) serveToken(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.tokenReqs++
	f.mu.Unlock()
	oauthErr := func(status int, code, desc string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
	}
	if err := r.ParseForm(); err != nil {
		oauthErr(400, "invalid_request", "bad form")
		return
	}
	if r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		oauthErr(400, "unsupported_grant_type", "Invalid grant_type: "+r.PostForm.Get("grant_type"))
		return
	}
	parts := strings.Split(r.PostForm.Get("assertion"), ".")
	if len(parts) != 3 {
		oauthErr(400, "invalid_grant", "Invalid JWT: Token must be a short-lived token and in a reasonable timeframe.")
		return
	}
	enc := base64.RawURLEncoding
	var hdr struct {
		Alg, Kid string
	}
	var claims struct {
		Iss   string `json:"iss"`
		Scope string `json:"scope"`
		Aud   string `json:"aud"`
		Exp   int64  `json:"exp"`
		Iat   int64  `json:"iat"`
	}
	hb, e1 := enc.DecodeString(parts[0])
	cb, e2 := enc.DecodeString(parts[1])
	sig, e3 := enc.DecodeString(parts[2])
	if e1 != nil || e2 != nil || e3 != nil || json.Unmarshal(hb, &hdr) != nil || json.Unmarshal(cb, &claims) != nil {
		oauthErr(400, "invalid_grant", "Invalid JWT.")
		return
	}
	f.mu.Lock()
	acct := f.accounts[claims.Iss]
	f.mu.Unlock()
	if acct == nil || acct.revoked {
		oauthErr(400, "invalid_grant", "Invalid JWT Signature.")
		return
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if hdr.Alg != "RS256" || rsa.VerifyPKCS1v15(acct.pub, crypto.SHA256, digest[:], sig) != nil {
		oauthErr(400, "invalid_grant", "Invalid JWT Signature.")
		return
	}
	now := time.Now().Unix()
	if claims.Aud != f.TokenURL() || claims.Exp < now || claims.Iat > now+300 || claims.Exp-claims.Iat > 3600 {
		oauthErr(400, "invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.")
		return
	}
	if !strings.Contains(claims.Scope, "https://www.googleapis.com/auth/firebase.messaging") && !strings.Contains(claims.Scope, "https://www.googleapis.com/auth/cloud-platform") {
		oauthErr(400, "invalid_scope", "Invalid OAuth scope or ID token audience provided.")
		return
	}
	var tb [24]byte
	_, _ = rand.Read(tb[:])
	tok := "ya29.fake-" + enc.EncodeToString(tb[:])
	f.mu.Lock()
	f.tokens[tok] = fcmToken{email: claims.Iss, project: acct.project, expiry: time.Now().Add(f.tokenTTL)}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "expires_in": int(f.tokenTTL / time.Second), "token_type": "Bearer"})
}

var (
	fcmTokenRE = regexp.MustCompile(`^[A-Za-z0-9_:\-]+$`)
	ttlRE      = regexp.MustCompile(`^\d+(\.\d{1,9})?s$`)
)

func (f *FCM) serveSend(w http.ResponseWriter, r *http.Request) {
	req := FCMRequest{At: time.Now(), Project: r.PathValue("project"), Client: r.Header.Get("X-Firebase-Client")}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return
	}
	a, ok := f.checkSend(r, body, &req)
	if ok {
		a = f.nextAnswer(req.Token)
	}
	if why := holdBack(r, a.Delay, a.Hang, f.done); why != "" {
		f.record(req, 0, why)
		return
	}
	if a.Drop {
		f.record(req, 0, reasonDropped)
		dropConnection(r)
	}
	if a.RetryAfter != "" {
		w.Header().Set("Retry-After", a.RetryAfter)
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	if a.Status == 0 || a.Status == http.StatusOK {
		f.mu.Lock()
		f.seq++
		id := fmt.Sprintf("projects/%s/messages/0:%d%%%x", req.Project, time.Now().UnixNano(), f.seq)
		f.mu.Unlock()
		f.record(req, http.StatusOK, "")
		json.NewEncoder(w).Encode(map[string]string{"name": id})
		return
	}
	code := a.FCMCode
	if code == "" {
		code = a.GRPCStatus
	}
	f.record(req, a.Status, code)
	w.WriteHeader(a.Status)
	w.Write(googleErrorBody(a))
}

// checkSend authenticates and validates a send like FCM. It returns the
// error answer and false, or true if the send is acceptable.
func (f *FCM) checkSend(r *http.Request, body []byte, req *FCMRequest) (FCMAnswer, bool) {
	auth, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		a := FCMUnauthenticated()
		a.ErrorInfoReason = "CREDENTIALS_MISSING"
		a.Message = "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential."
		return a, false
	}
	f.mu.Lock()
	tok, known := f.tokens[auth]
	f.mu.Unlock()
	if !known || time.Now().After(tok.expiry) {
		return FCMUnauthenticated(), false
	}
	req.ServiceAccount = tok.email
	if tok.project != req.Project {
		return FCMPermissionDenied(), false
	}
	var in struct {
		ValidateOnly bool            `json:"validate_only"`
		Message      json.RawMessage `json:"message"`
	}
	if err := json.Unmarshal(body, &in); err != nil || len(in.Message) == 0 {
		return FCMInvalidArgument("", "Invalid JSON payload received."), false
	}
	req.ValidateOnly, req.Message = in.ValidateOnly, in.Message
	var m struct {
		Token        string                        `json:"token"`
		Topic        string                        `json:"topic"`
		Condition    string                        `json:"condition"`
		Data         map[string]any                `json:"data"`
		Notification *struct{ Title, Body string } `json:"notification"`
		Android      *struct {
			Priority    string `json:"priority"`
			TTL         string `json:"ttl"`
			CollapseKey string `json:"collapse_key"`
		} `json:"android"`
		APNS *struct {
			Headers map[string]string `json:"headers"`
		} `json:"apns"`
	}
	if err := json.Unmarshal(in.Message, &m); err != nil {
		return FCMInvalidArgument("message", "Invalid JSON payload received. "+err.Error()), false
	}
	req.Token = m.Token
	if m.Notification != nil {
		req.Title, req.Body = m.Notification.Title, m.Notification.Body
	}
	if m.Android != nil {
		req.AndroidPriority, req.TTL, req.CollapseKey = m.Android.Priority, m.Android.TTL, m.Android.CollapseKey
	}
	if m.APNS != nil {
		req.APNSHeaders = m.APNS.Headers
	}
	size := len(req.Title) + len(req.Body)
	if len(m.Data) > 0 {
		req.Data = make(map[string]string, len(m.Data))
		for k, v := range m.Data {
			s, ok := v.(string)
			if !ok {
				return FCMInvalidArgument("message.data", fmt.Sprintf("Invalid value at 'message.data[0].value' (%s), Expected a string", k)), false
			}
			switch {
			case k == "from", k == "notification", k == "message_type", strings.HasPrefix(k, "google"), strings.HasPrefix(k, "gcm"):
				return FCMInvalidArgument("message.data", fmt.Sprintf("Invalid data payload key: %s", k)), false
			}
			req.Data[k] = s
			size += len(k) + len(s)
		}
	}
	targets := 0
	for _, t := range []string{m.Token, m.Topic, m.Condition} {
		if t != "" {
			targets++
		}
	}
	if targets != 1 {
		return FCMInvalidArgument("message", "Exactly one of token, topic or condition must be specified."), false
	}
	if m.Token != "" && (len(m.Token) < 16 || len(m.Token) > 4096 || !fcmTokenRE.MatchString(m.Token)) {
		return FCMInvalidToken(), false
	}
	if m.Android != nil {
		switch m.Android.Priority {
		case "", "normal", "high", "NORMAL", "HIGH":
		default:
			return FCMInvalidArgument("message.android.priority", "Invalid value at 'message.android.priority'"), false
		}
		if m.Android.TTL != "" && !ttlRE.MatchString(m.Android.TTL) {
			return FCMInvalidArgument("message.android.ttl", "Invalid value at 'message.android.ttl' (type.googleapis.com/google.protobuf.Duration), Field 'ttl', Illegal duration format"), false
		}
	}
	if size > 4096 {
		return FCMInvalidArgument("message", "Message is too big"), false
	}
	return FCMAnswer{}, true
}

func (f *FCM) nextAnswer(token string) FCMAnswer {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, _ := popScript(f.scripts, token)
	return a
}

func (f *FCM) record(req FCMRequest, status int, code string) {
	req.Status, req.Code = status, code
	f.mu.Lock()
	f.count++
	f.received = append(f.received, req)
	f.changed.notify()
	f.mu.Unlock()
}

// googleErrorBody renders Google's JSON error format for a.
func googleErrorBody(a FCMAnswer) []byte {
	details := []map[string]any{}
	if a.FCMCode != "" {
		details = append(details, map[string]any{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": a.FCMCode})
	}
	if a.ErrorInfoReason != "" {
		details = append(details, map[string]any{
			"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": a.ErrorInfoReason, "domain": "googleapis.com",
			"metadata": map[string]string{"service": "fcm.googleapis.com", "method": "google.firebase.fcm.v1.FcmService.SendMessage"},
		})
	}
	if a.FieldViolation != "" {
		details = append(details, map[string]any{
			"@type":           "type.googleapis.com/google.rpc.BadRequest",
			"fieldViolations": []map[string]string{{"field": a.FieldViolation, "description": a.Message}},
		})
	}
	b, _ := json.Marshal(map[string]any{"error": map[string]any{
		"code": a.Status, "message": a.Message, "status": a.GRPCStatus, "details": details,
	}})
	return b
}

func certPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}
