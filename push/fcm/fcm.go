// Package fcm is the Firebase Cloud Messaging adapter of package push,
// over firebase.google.com/go/v4/messaging (the FCM HTTP v1 API).
//
// One Sender serves one app (one Firebase project) with a Google service
// account key. The adapter builds the SDK's HTTP client itself: a
// round-tripper adds the OAuth2 access token (fetched with the service
// account's JWT from its token_uri, cached, and renewed once if FCM calls
// it invalid) and stops the SDK's own retry loop after the first attempt,
// so SDK retries (up to 4 on 503 and network errors, with real sleeps)
// never stack with the dispatcher's: the dispatcher is the only retrier.
//
// The messaging client is created as firebase.NewApp(...).Messaging would
// create it, but without linking the firebase root package (and with it
// Firestore, Storage, Auth...), which would cost about 11 MB of resident
// memory; see newMessagingClient.
package fcm

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"firebase.google.com/go/v4/errorutils"
	"firebase.google.com/go/v4/messaging"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	"golang.org/x/oauth2/jwt"
	"google.golang.org/api/option"

	"github.com/trystgw/tryst/push"
)

// Provider is the provider name used in errors and metrics.
const Provider = "fcm"

// DefaultEndpoint is FCM's v1 API root.
const DefaultEndpoint = "https://fcm.googleapis.com/v1"

// MaxPayload is FCM's limit on a message's data plus notification text
// (bytes).
const MaxPayload = 4096

// Scopes are the OAuth2 scopes requested for the access token.
var Scopes = []string{
	"https://www.googleapis.com/auth/firebase.messaging",
	"https://www.googleapis.com/auth/cloud-platform",
}

// Config configures a Sender.
type Config struct {
	// App is the tryst app id (for errors and logs).
	App string
	// ServiceAccountJSON is the service account key file's contents.
	ServiceAccountJSON []byte
	// ProjectID defaults to the service account's project_id.
	ProjectID string
	// Endpoint defaults to DefaultEndpoint.
	Endpoint string
	// RootCAs overrides the system roots, for both FCM and the token
	// endpoint (tests, proxies).
	RootCAs *x509.CertPool
}

// ServiceAccount is the part of a service account key file the adapter
// uses.
type ServiceAccount struct {
	Type         string `json:"type"`
	ProjectID    string `json:"project_id"`
	PrivateKeyID string `json:"private_key_id"`
	PrivateKey   string `json:"private_key"`
	ClientEmail  string `json:"client_email"`
	TokenURI     string `json:"token_uri"`
}

// ParseServiceAccount parses and checks a service account key file.
func ParseServiceAccount(b []byte) (*ServiceAccount, error) {
	var sa ServiceAccount
	if err := json.Unmarshal(b, &sa); err != nil {
		return nil, fmt.Errorf("service account: not JSON: %w", err)
	}
	if sa.Type != "service_account" {
		return nil, fmt.Errorf("service account: type is %q, want \"service_account\"", sa.Type)
	}
	if sa.ClientEmail == "" {
		return nil, errors.New("service account: client_email missing")
	}
	if sa.PrivateKey == "" {
		return nil, errors.New("service account: private_key missing")
	}
	blk, _ := pem.Decode([]byte(sa.PrivateKey))
	if blk == nil {
		return nil, errors.New("service account: private_key is not PEM")
	}
	var key any
	var err error
	if key, err = x509.ParsePKCS8PrivateKey(blk.Bytes); err != nil {
		if key, err = x509.ParsePKCS1PrivateKey(blk.Bytes); err != nil {
			return nil, errors.New("service account: private_key is not a PKCS#8 or PKCS#1 RSA key")
		}
	}
	if _, ok := key.(*rsa.PrivateKey); !ok {
		return nil, errors.New("service account: private_key is not an RSA key")
	}
	if sa.TokenURI == "" {
		sa.TokenURI = google.JWTTokenURL
	}
	if !strings.HasPrefix(sa.TokenURI, "https://") {
		return nil, fmt.Errorf("service account: token_uri %q is not https", sa.TokenURI)
	}
	return &sa, nil
}

// LoadServiceAccount reads and checks a service account key file.
func LoadServiceAccount(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("fcm: %w", err)
	}
	if _, err := ParseServiceAccount(b); err != nil {
		return nil, fmt.Errorf("fcm: %s: %w", path, err)
	}
	return b, nil
}

// Sender sends notifications of one app through FCM. It is safe for
// concurrent use.
type Sender struct {
	app, project string
	client       *messaging.Client
	transport    *http.Transport
	tokens       *tokenCache
	now          func() time.Time
}

// New returns a Sender for cfg. It checks the service account key but
// makes no network call.
func New(ctx context.Context, cfg Config) (*Sender, error) {
	where := "fcm"
	if cfg.App != "" {
		where = fmt.Sprintf("fcm app %q", cfg.App)
	}
	sa, err := ParseServiceAccount(cfg.ServiceAccountJSON)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	project := cfg.ProjectID
	if project == "" {
		project = sa.ProjectID
	}
	if project == "" {
		return nil, fmt.Errorf("%s: no project id in the service account or the configuration", where)
	}
	jc, err := google.JWTConfigFromJSON(cfg.ServiceAccountJSON, Scopes...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	jc.TokenURL = sa.TokenURI

	dialer := &net.Dialer{Timeout: 20 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         dialer.DialContext,
		TLSClientConfig:     &tls.Config{RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
	}
	tokenClient := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	s := &Sender{
		app:       cfg.App,
		project:   project,
		transport: tr,
		tokens:    newTokenCache(context.WithValue(context.Background(), oauth2.HTTPClient, tokenClient), jc),
		now:       time.Now,
	}
	hc := &http.Client{Transport: &roundTripper{tokens: s.tokens, base: tr}}
	endpoint := cfg.Endpoint
	if endpoint == "" {
		endpoint = DefaultEndpoint
	}
	opts := []option.ClientOption{option.WithHTTPClient(hc), option.WithEndpoint(strings.TrimSuffix(endpoint, "/"))}
	if s.client, err = newMessagingClient(ctx, project, opts); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return s, nil
}

// SDKVersion is the firebase.google.com/go/v4 version in go.mod, reported
// in the SDK's X-Firebase-Client header as firebase.NewApp would (a test
// checks it against firebase.Version).
const SDKVersion = "4.19.0"

// newMessagingClient does what firebase.NewApp(...).Messaging(ctx) does —
// messaging.NewClient(ctx, &internal.MessagingConfig{ProjectID, Opts,
// Version}) — without importing the firebase root package, which links
// Firestore, Cloud Storage, Realtime Database and Auth and their
// dependencies and costs about 11 MB of resident memory at start-up for
// nothing. The config type is internal to the SDK, so it is built by
// reflection; any mismatch (a changed SDK) is an error here at start-up,
// and the tests cover this path.
func newMessagingClient(ctx context.Context, project string, opts []option.ClientOption) (*messaging.Client, error) {
	fn := reflect.ValueOf(messaging.NewClient)
	ft := fn.Type()
	if ft.NumIn() != 2 || ft.In(1).Kind() != reflect.Pointer || ft.In(1).Elem().Kind() != reflect.Struct || ft.NumOut() != 2 {
		return nil, fmt.Errorf("unexpected messaging.NewClient signature %s", ft)
	}
	conf := reflect.New(ft.In(1).Elem())
	for name, v := range map[string]any{"ProjectID": project, "Opts": opts, "Version": SDKVersion} {
		f := conf.Elem().FieldByName(name)
		if !f.IsValid() || !f.CanSet() || !reflect.TypeOf(v).AssignableTo(f.Type()) {
			return nil, fmt.Errorf("unexpected firebase messaging config: field %s", name)
		}
		f.Set(reflect.ValueOf(v))
	}
	out := fn.Call([]reflect.Value{reflect.ValueOf(ctx), conf})
	if err, _ := out[1].Interface().(error); err != nil {
		return nil, err
	}
	c, ok := out[0].Interface().(*messaging.Client)
	if !ok || c == nil {
		return nil, errors.New("firebase messaging client not created")
	}
	return c, nil
}

// Provider returns "fcm".
func (s *Sender) Provider() string { return Provider }

// Project returns the Firebase project id.
func (s *Sender) Project() string { return s.project }

// Close closes idle connections.
func (s *Sender) Close() error {
	s.transport.CloseIdleConnections()
	return nil
}

// Send delivers n and returns FCM's message name. Errors are *push.Error.
func (s *Sender) Send(ctx context.Context, n *push.Notification) (string, error) {
	if n.Token.Platform() != push.FCM {
		return "", push.PayloadError(Provider, "", 0, fmt.Errorf("token for %s sent to fcm", n.Token.Platform()))
	}
	msg, perr := s.message(n)
	if perr != nil {
		return "", perr
	}
	for try := 0; ; try++ {
		name, st, err := s.sendOnce(ctx, msg)
		if err == nil {
			return name, nil
		}
		e := classifySend(ctx, err, st)
		if try == 0 && e.Class == push.ClassCredential && e.Status == http.StatusUnauthorized && st.bearer != "" && e.ProviderReason != "THIRD_PARTY_AUTH_ERROR" {
			// The access token was refused (expired or revoked early):
			// fetch a new one and try once more.
			s.tokens.invalidate(st.bearer)
			continue
		}
		return "", e
	}
}

func (s *Sender) sendOnce(ctx context.Context, msg *messaging.Message) (string, *callState, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st := &callState{cancel: cancel}
	name, err := s.client.Send(context.WithValue(ctx, stateKey{}, st), msg)
	return name, st, err
}

// message maps n to an FCM v1 message: a notification message for
// alerts, data-only for background pushes; Android priority, TTL and
// collapse key; APNs headers for iOS apps that use FCM.
func (s *Sender) message(n *push.Notification) (*messaging.Message, *push.Error) {
	for k := range flatData(n) {
		if reservedDataKey(k) {
			return nil, push.PayloadError(Provider, "", 0, fmt.Errorf("data key %q is reserved by FCM", k))
		}
	}
	if size := PayloadSize(n); size > MaxPayload {
		return nil, &push.Error{Class: push.ClassPayload, Reason: push.ReasonPayloadTooLarge, Provider: Provider,
			Message: fmt.Sprintf("payload is %d bytes, limit %d", size, MaxPayload)}
	}
	prio := n.Priority.Effective(n.Kind)
	m := &messaging.Message{Token: n.Token.String(), Data: flatData(n)}
	android := &messaging.AndroidConfig{CollapseKey: n.CollapseID, Priority: "normal"}
	apnsPrio, apnsType := "10", "alert"
	if prio == push.PriorityHigh {
		android.Priority = "high"
	} else {
		apnsPrio = "5"
	}
	aps := &messaging.Aps{MutableContent: n.MutableContent}
	if n.Kind == push.Background {
		aps.ContentAvailable = true
		apnsPrio, apnsType = "5", "background"
	} else {
		if n.Alert.Title != "" || n.Alert.Body != "" {
			m.Notification = &messaging.Notification{Title: n.Alert.Title, Body: n.Alert.Body}
		}
		if n.Alert.Sound != "" {
			android.Notification = &messaging.AndroidNotification{Sound: n.Alert.Sound}
			aps.Sound = n.Alert.Sound
		}
	}
	headers := map[string]string{"apns-priority": apnsPrio, "apns-push-type": apnsType}
	if n.CollapseID != "" {
		headers["apns-collapse-id"] = n.CollapseID
	}
	if !n.Expiration.IsZero() {
		ttl := n.Expiration.Sub(s.now()).Truncate(time.Second)
		if ttl <= 0 {
			return nil, &push.Error{Class: push.ClassExpired, Reason: push.ReasonNotificationExpired, Provider: Provider, Err: push.ErrExpired}
		}
		android.TTL = &ttl
		headers["apns-expiration"] = strconv.FormatInt(n.Expiration.Unix(), 10)
	}
	m.Android = android
	m.APNS = &messaging.APNSConfig{Headers: headers, Payload: &messaging.APNSPayload{Aps: aps}}
	return m, nil
}

// PayloadSize is the size FCM counts against MaxPayload: data keys and
// values plus the notification title and body.
func PayloadSize(n *push.Notification) int {
	size := 0
	for k, v := range n.Data {
		size += len(k) + len(v)
	}
	for _, k := range n.Flags {
		size += len(k) + len("true")
	}
	if n.Kind == push.Alert {
		size += len(n.Alert.Title) + len(n.Alert.Body)
	}
	return size
}

// flatData is n's data with its flags as "true": FCM data values are
// strings, and FCM has no nesting (n.DataGroup does not apply).
func flatData(n *push.Notification) map[string]string {
	if len(n.Flags) == 0 {
		return n.Data
	}
	m := make(map[string]string, len(n.Data)+len(n.Flags))
	for k, v := range n.Data {
		m[k] = v
	}
	for _, k := range n.Flags {
		m[k] = "true"
	}
	return m
}

func reservedDataKey(k string) bool {
	switch k {
	case "from", "notification", "message_type":
		return true
	}
	return strings.HasPrefix(k, "google") || strings.HasPrefix(k, "gcm")
}

// callState carries one SDK call's transport facts from the round-tripper
// back to Send.
type callState struct {
	cancel    context.CancelFunc
	requested bool
	bearer    string
	tokenErr  error
	netErr    error
	status    int
	header    http.Header
	body      []byte
}

type stateKey struct{}

// roundTripper authenticates requests and ends the SDK's retry loop: on
// the answers the SDK would retry (network errors and 503) it records the
// answer and cancels the call's context, so the SDK returns at once
// instead of sleeping and retrying.
type roundTripper struct {
	tokens *tokenCache
	base   http.RoundTripper
}

func (t *roundTripper) RoundTrip(r *http.Request) (*http.Response, error) {
	st, _ := r.Context().Value(stateKey{}).(*callState)
	if st != nil {
		st.requested = true
	}
	tok, err := t.tokens.Token()
	if err != nil {
		if r.Body != nil {
			r.Body.Close()
		}
		if st != nil {
			st.tokenErr = err
			st.cancel()
		}
		return nil, err
	}
	r2 := r.Clone(r.Context())
	r2.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	if st == nil {
		return t.base.RoundTrip(r2)
	}
	st.bearer = tok.AccessToken
	resp, err := t.base.RoundTrip(r2)
	if err != nil {
		st.netErr = err
		st.cancel()
		return nil, err
	}
	if resp.StatusCode == http.StatusServiceUnavailable {
		body, rerr := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if rerr != nil {
			st.netErr = rerr
			st.cancel()
			return nil, rerr
		}
		st.status, st.header, st.body = resp.StatusCode, resp.Header, body
		resp.Body = io.NopCloser(bytes.NewReader(body))
		st.cancel()
	}
	return resp, nil
}

// tokenCache caches the access token and can drop one FCM refused.
type tokenCache struct {
	ctx     context.Context
	jc      *jwt.Config
	mu      sync.Mutex
	src     oauth2.TokenSource
	lastBad string
}

func newTokenCache(ctx context.Context, jc *jwt.Config) *tokenCache {
	return &tokenCache{ctx: ctx, jc: jc, src: jc.TokenSource(ctx)}
}

func (c *tokenCache) Token() (*oauth2.Token, error) {
	c.mu.Lock()
	src := c.src
	c.mu.Unlock()
	return src.Token()
}

func (c *tokenCache) invalidate(bearer string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lastBad == bearer {
		return // already replaced
	}
	c.lastBad = bearer
	c.src = c.jc.TokenSource(c.ctx)
}

// classifySend turns the outcome of one SDK call into a *push.Error.
func classifySend(ctx context.Context, err error, st *callState) *push.Error {
	switch {
	case st.tokenErr != nil:
		return classifyTokenError(st.tokenErr)
	case st.status == http.StatusServiceUnavailable:
		return Classify(st.status, st.header, st.body)
	case st.netErr != nil:
		if ctx.Err() != nil {
			return push.ContextError(Provider, ctx.Err())
		}
		return push.RetryableError(push.ReasonNetwork, Provider, 0, st.netErr)
	}
	if resp := errorutils.HTTPResponse(err); resp != nil {
		var body []byte
		if resp.Body != nil {
			body, _ = io.ReadAll(resp.Body)
		}
		e := Classify(resp.StatusCode, resp.Header, body)
		if e.Message == "" {
			e.Err = err
		}
		return e
	}
	if ctx.Err() != nil {
		return push.ContextError(Provider, ctx.Err())
	}
	if !st.requested {
		// The SDK refused the message before sending it.
		return push.PayloadError(Provider, "", 0, err)
	}
	return push.RetryableError(push.ReasonUnavailable, Provider, 0, err)
}

func classifyTokenError(err error) *push.Error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		code := re.Response.StatusCode
		e := &push.Error{Provider: Provider, Status: code, ProviderReason: "oauth2", Err: err}
		switch {
		case code == http.StatusTooManyRequests:
			e.Class, e.Reason = push.ClassRetryable, push.ReasonRateLimited
			e.RetryAfter = push.ParseRetryAfter(re.Response.Header.Get("Retry-After"), time.Now())
		case code >= 500:
			e.Class, e.Reason = push.ClassRetryable, push.ReasonUnavailable
		default:
			// invalid_grant (key deleted, clock skew), unauthorized_client…
			e.Class, e.Reason = push.ClassCredential, push.ReasonCredential
			e.Message = "the token endpoint refused the service account"
		}
		return e
	}
	return push.RetryableError(push.ReasonNetwork, Provider, 0, err)
}

// googleError is Google's JSON error body.
type googleError struct {
	Error struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Status  string `json:"status"`
		Details []struct {
			Type            string `json:"@type"`
			ErrorCode       string `json:"errorCode"` // google.firebase.fcm.v1.FcmError
			Reason          string `json:"reason"`    // google.rpc.ErrorInfo
			FieldViolations []struct {
				Field       string `json:"field"`
				Description string `json:"description"`
			} `json:"fieldViolations"` // google.rpc.BadRequest
		} `json:"details"`
	} `json:"error"`
}

// Detail types in Google's error body.
const (
	TypeFcmError   = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
	TypeErrorInfo  = "type.googleapis.com/google.rpc.ErrorInfo"
	TypeBadRequest = "type.googleapis.com/google.rpc.BadRequest"
)

// Classify maps an FCM v1 error answer (status, headers, JSON body) to a
// *push.Error, from the FcmError code when there is one, else from the
// canonical status. An INVALID_ARGUMENT is a bad token when its
// google.rpc.BadRequest details blame message.token (or the message says
// so), else a bad payload.
func Classify(status int, header http.Header, body []byte) *push.Error {
	var ge googleError
	_ = json.Unmarshal(body, &ge)
	fcmCode, info, tokenBlamed := ge.details()
	e := &push.Error{Provider: Provider, Status: status, Message: ge.Error.Message}
	e.ProviderReason = fcmCode
	if e.ProviderReason == "" {
		e.ProviderReason = ge.Error.Status
	}
	if info != "" {
		e.ProviderReason += "/" + info
	}
	code := fcmCode
	if code == "" || code == "UNSPECIFIED_ERROR" && ge.Error.Status != "" {
		code = ge.Error.Status
	}
	e.Class, e.Reason = classifyCode(code, status, ge.Error.Message, tokenBlamed)
	if e.Class == push.ClassRetryable && header != nil {
		e.RetryAfter = push.ParseRetryAfter(header.Get("Retry-After"), time.Now())
	}
	return e
}

// details returns the FcmError code, the ErrorInfo reason, and whether
// the answer blames the registration token.
func (ge *googleError) details() (fcmCode, info string, tokenBlamed bool) {
	for _, d := range ge.Error.Details {
		switch d.Type {
		case TypeFcmError:
			fcmCode = d.ErrorCode
		case TypeErrorInfo:
			info = d.Reason
		case TypeBadRequest:
			for _, v := range d.FieldViolations {
				if v.Field == "message.token" {
					tokenBlamed = true
				}
			}
		}
	}
	if strings.Contains(strings.ToLower(ge.Error.Message), "registration token") {
		tokenBlamed = true
	}
	return fcmCode, info, tokenBlamed
}

// classifyCode maps an FCM or canonical error code to a class and reason,
// falling back on the HTTP status for codes it does not know.
func classifyCode(code string, status int, message string, tokenBlamed bool) (push.Class, push.Reason) {
	switch code {
	case "UNREGISTERED":
		return push.ClassToken, push.ReasonUnregistered
	case "SENDER_ID_MISMATCH":
		return push.ClassToken, push.ReasonWrongTopic
	case "INVALID_ARGUMENT":
		if tokenBlamed {
			return push.ClassToken, push.ReasonBadToken
		}
		if strings.Contains(strings.ToLower(message), "too big") {
			return push.ClassPayload, push.ReasonPayloadTooLarge
		}
		return push.ClassPayload, push.ReasonPayload
	case "QUOTA_EXCEEDED", "RESOURCE_EXHAUSTED":
		return push.ClassRetryable, push.ReasonRateLimited
	case "UNAVAILABLE", "INTERNAL", "UNSPECIFIED_ERROR", "UNKNOWN", "ABORTED", "DEADLINE_EXCEEDED":
		return push.ClassRetryable, push.ReasonUnavailable
	case "THIRD_PARTY_AUTH_ERROR", "APNS_AUTH_ERROR", "UNAUTHENTICATED", "PERMISSION_DENIED":
		return push.ClassCredential, push.ReasonCredential
	case "NOT_FOUND":
		// Without an FcmError UNREGISTERED, the project itself is unknown.
		return push.ClassCredential, push.ReasonCredential
	case "FAILED_PRECONDITION", "OUT_OF_RANGE":
		return push.ClassPayload, push.ReasonPayload
	}
	return classifyStatus(status)
}

// classifyStatus maps an HTTP status without a known error code.
func classifyStatus(status int) (push.Class, push.Reason) {
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden || status == http.StatusNotFound:
		// A bare 404 is a wrong endpoint or project, never proof that the
		// token is dead.
		return push.ClassCredential, push.ReasonCredential
	case status == http.StatusTooManyRequests:
		return push.ClassRetryable, push.ReasonRateLimited
	case status >= 500 || status == 0:
		return push.ClassRetryable, push.ReasonUnavailable
	}
	return push.ClassPayload, push.ReasonPayload
}
