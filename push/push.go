package push

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Platform is a push provider: Apple (APNs) or Google (FCM).
type Platform uint8

// The platforms. The zero Platform is invalid.
const (
	APNs Platform = iota + 1
	FCM
)

// ParsePlatform parses a platform name: "apns" (alias "ios") or "fcm"
// (aliases "android", "firebase"), case-insensitively.
func ParsePlatform(s string) (Platform, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "apns", "ios":
		return APNs, nil
	case "fcm", "android", "firebase":
		return FCM, nil
	}
	return 0, fmt.Errorf("push: unknown platform %q (want apns or fcm)", s)
}

// String returns "apns", "fcm" or "invalid".
func (p Platform) String() string {
	switch p {
	case APNs:
		return "apns"
	case FCM:
		return "fcm"
	}
	return "invalid"
}

// Valid reports whether p is APNs or FCM.
func (p Platform) Valid() bool { return p == APNs || p == FCM }

// MarshalText implements encoding.TextMarshaler.
func (p Platform) MarshalText() ([]byte, error) {
	if !p.Valid() {
		return nil, fmt.Errorf("push: invalid platform %d", p)
	}
	return []byte(p.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler with ParsePlatform.
func (p *Platform) UnmarshalText(b []byte) error {
	v, err := ParsePlatform(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// Environment selects the APNs host a device token belongs to: tokens issued
// to development builds are only valid on the sandbox host. FCM ignores it.
// The zero Environment is Production.
type Environment uint8

// The environments.
const (
	Production Environment = iota
	Development
)

// ParseEnvironment parses "production" (alias "prod") or "development"
// (aliases "dev", "sandbox"), case-insensitively. The empty string is
// Production.
func ParseEnvironment(s string) (Environment, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "production", "prod":
		return Production, nil
	case "development", "dev", "sandbox":
		return Development, nil
	}
	return 0, fmt.Errorf("push: unknown environment %q (want production or development)", s)
}

// String returns "production" or "development".
func (e Environment) String() string {
	if e == Development {
		return "development"
	}
	if e == Production {
		return "production"
	}
	return "invalid"
}

// MarshalText implements encoding.TextMarshaler.
func (e Environment) MarshalText() ([]byte, error) { return []byte(e.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseEnvironment.
func (e *Environment) UnmarshalText(b []byte) error {
	v, err := ParseEnvironment(string(b))
	if err != nil {
		return err
	}
	*e = v
	return nil
}

// Token length bounds.
const (
	// APNs device tokens are hex; today 32 bytes (64 hex digits), but Apple
	// says their length may change, so up to 100 bytes are accepted.
	MinAPNsTokenLen = 64
	MaxAPNsTokenLen = 200
	// FCM registration tokens are opaque; today about 150–200 characters.
	MinFCMTokenLen = 16
	MaxFCMTokenLen = 4096
)

// DeviceToken is a validated device token for one platform. The zero value
// is "no token". APNs tokens are stored in lower case.
type DeviceToken struct {
	platform Platform
	value    string
}

// ParseDeviceToken validates s as a device token for platform p.
//
// APNs tokens must be an even number (64 to 200) of hex digits; FCM tokens
// must be MinFCMTokenLen to MaxFCMTokenLen characters from [A-Za-z0-9_:-].
func ParseDeviceToken(p Platform, s string) (DeviceToken, error) {
	switch p {
	case APNs:
		if len(s) < MinAPNsTokenLen || len(s) > MaxAPNsTokenLen || len(s)%2 != 0 {
			return DeviceToken{}, fmt.Errorf("push: apns token must be an even number of hex digits, %d to %d, got %d characters", MinAPNsTokenLen, MaxAPNsTokenLen, len(s))
		}
		lower := true
		for i := 0; i < len(s); i++ {
			c := s[i]
			switch {
			case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
			case c >= 'A' && c <= 'F':
				lower = false
			default:
				return DeviceToken{}, fmt.Errorf("push: apns token has a non-hex character at %d", i)
			}
		}
		if !lower {
			s = strings.ToLower(s)
		}
		return DeviceToken{platform: APNs, value: s}, nil
	case FCM:
		if len(s) < MinFCMTokenLen || len(s) > MaxFCMTokenLen {
			return DeviceToken{}, fmt.Errorf("push: fcm token must be %d to %d characters, got %d", MinFCMTokenLen, MaxFCMTokenLen, len(s))
		}
		for i := 0; i < len(s); i++ {
			c := s[i]
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '-' || c == ':') {
				return DeviceToken{}, fmt.Errorf("push: fcm token has an invalid character at %d", i)
			}
		}
		return DeviceToken{platform: FCM, value: s}, nil
	}
	return DeviceToken{}, fmt.Errorf("push: invalid platform %d", p)
}

// MustParseDeviceToken is ParseDeviceToken that panics on error, for tests
// and constants.
func MustParseDeviceToken(p Platform, s string) DeviceToken {
	t, err := ParseDeviceToken(p, s)
	if err != nil {
		panic(err)
	}
	return t
}

// Platform returns the platform the token belongs to.
func (t DeviceToken) Platform() Platform { return t.platform }

// String returns the token as sent to the provider.
func (t DeviceToken) String() string { return t.value }

// IsZero reports whether t is the zero token.
func (t DeviceToken) IsZero() bool { return t.value == "" }

// Redacted returns a short prefix of the token for logs.
func (t DeviceToken) Redacted() string {
	if len(t.value) <= 8 {
		return t.value
	}
	return t.value[:8] + "…"
}

// Kind says how the notification is presented.
type Kind uint8

// The kinds. The zero Kind is Alert.
const (
	// Alert is shown to the user (APNs push type "alert"; an FCM
	// notification message).
	Alert Kind = iota
	// Background silently wakes the app (APNs push type "background" with
	// content-available; an FCM data-only message).
	Background
)

// String returns "alert" or "background".
func (k Kind) String() string {
	switch k {
	case Alert:
		return "alert"
	case Background:
		return "background"
	}
	return "invalid"
}

// Priority is the delivery priority.
type Priority uint8

// The priorities.
const (
	// PriorityDefault is High for alerts and Normal for background pushes.
	PriorityDefault Priority = iota
	// PriorityNormal saves the device's power (APNs 5, FCM "normal").
	PriorityNormal
	// PriorityHigh delivers immediately (APNs 10, FCM "high"). APNs does
	// not allow it for background pushes, so the APNs sender always sends
	// those with priority 5.
	PriorityHigh
)

// String returns "default", "normal" or "high".
func (p Priority) String() string {
	switch p {
	case PriorityDefault:
		return "default"
	case PriorityNormal:
		return "normal"
	case PriorityHigh:
		return "high"
	}
	return "invalid"
}

// Effective resolves PriorityDefault for kind k.
func (p Priority) Effective(k Kind) Priority {
	if p != PriorityDefault {
		return p
	}
	if k == Background {
		return PriorityNormal
	}
	return PriorityHigh
}

// MaxCollapseIDLen is APNs' limit on apns-collapse-id, applied to both
// platforms.
const MaxCollapseIDLen = 64

// AlertContent is what the user sees for an Alert.
type AlertContent struct {
	Title string
	Body  string
	// Sound is a sound name ("default" for the system sound); empty for
	// silence.
	Sound string
}

// Notification is one push to one device.
//
// A Notification must not be modified after it was handed to Enqueue or
// Send; the dispatcher hands the same pointer back in its Result.
type Notification struct {
	// ID is an optional caller-chosen identifier for logs. It is not sent,
	// and results do not find their owner by it: see Owner.
	ID string
	// Owner is who sent the notification and gets its Result back through
	// a Router.
	Owner Owner
	// Registration is the id of the registration the device token came
	// from (an ntf token id), whatever Owner sent the notification: a
	// result declaring the token dead reaches the Router's dead-token
	// handler with it. Empty when the token belongs to no registration.
	// The notifications of one Registration hold at most
	// DispatcherConfig.MaxPerRegistration of a route's queue, so that one
	// cannot crowd out the others.
	Registration string

	// Token is the device to deliver to; its platform selects the
	// provider.
	Token DeviceToken
	// App is the tryst app id from the push configuration; with the
	// platform it selects credentials (APNs topic, FCM project).
	App string
	// Environment selects the APNs host; ignored for FCM.
	Environment Environment

	Kind     Kind
	Priority Priority
	// CollapseID makes a newer notification replace an older undelivered
	// one with the same id (apns-collapse-id, FCM collapse_key).
	CollapseID string
	// Expiration is when the provider should stop trying to deliver. Zero
	// means the provider default (APNs stores it per its policy, FCM
	// keeps it four weeks). The dispatcher does not send or retry a
	// notification whose expiration has passed.
	Expiration time.Time

	// Alert is the visible content; it must be empty for Background.
	Alert AlertContent
	// MutableContent lets an APNs notification service extension rewrite
	// the notification (for example to decrypt it).
	MutableContent bool
	// Data is app-specific key/value payload: custom top-level keys in
	// the APNs payload (or under DataGroup), the data map of the FCM
	// message.
	Data map[string]string
	// Flags are boolean custom keys set to true: a JSON true in the APNs
	// payload, the string "true" in FCM data (whose values are strings).
	Flags []string
	// DataGroup, when set, puts Data and Flags under this one key of the
	// APNs payload instead of at its top level, where an app reads them
	// (SimpleX apps read "notificationData"). FCM data stays flat.
	DataGroup string
}

// Route returns the (platform, app) pair the notification is routed by.
func (n *Notification) Route() Route { return Route{Platform: n.Token.platform, App: n.App} }

// Validate checks the notification is well formed. It returns a *Error of
// ClassPayload (or ClassExpired when the expiration is before now).
func (n *Notification) Validate(now time.Time) error {
	switch {
	case n == nil:
		return payloadErrorf("nil notification")
	case n.Token.IsZero() || !n.Token.platform.Valid():
		return payloadErrorf("missing device token")
	case n.App == "":
		return payloadErrorf("missing app")
	case n.Kind != Alert && n.Kind != Background:
		return payloadErrorf("invalid kind %d", n.Kind)
	case n.Priority > PriorityHigh:
		return payloadErrorf("invalid priority %d", n.Priority)
	case n.Environment != Production && n.Environment != Development:
		return payloadErrorf("invalid environment %d", n.Environment)
	case len(n.CollapseID) > MaxCollapseIDLen:
		return payloadErrorf("collapse id longer than %d bytes", MaxCollapseIDLen)
	case n.Kind == Background && n.Alert != (AlertContent{}):
		return payloadErrorf("background notification with alert content")
	}
	for k := range n.Data {
		if err := checkDataKey(k, n.DataGroup); err != nil {
			return err
		}
	}
	for _, k := range n.Flags {
		if err := checkDataKey(k, n.DataGroup); err != nil {
			return err
		}
		if _, dup := n.Data[k]; dup {
			return payloadErrorf("flag %q is also a data key", k)
		}
	}
	if n.DataGroup == "aps" {
		return payloadErrorf(`data group "aps" is reserved`)
	}
	if !n.Expiration.IsZero() && !n.Expiration.After(now) {
		return expiredError(nil)
	}
	return nil
}

// checkDataKey refuses an empty key, and "aps" at the top level of the
// APNs payload.
func checkDataKey(k, group string) error {
	if k == "" {
		return payloadErrorf("empty data key")
	}
	if k == "aps" && group == "" {
		return payloadErrorf(`data key "aps" is reserved`)
	}
	return nil
}

// Sender delivers one notification to one provider synchronously.
//
// Send returns the provider's message id (apns-id, FCM message name) on
// success. On failure it returns an error that ClassOf classifies; the
// adapters return *Error values. Send must honour ctx and be safe for
// concurrent use. Send does not retry transient failures: the dispatcher
// does.
//
// A Sender may also implement io.Closer (called once by Dispatcher.Close
// after all sends finished) and Provider() string (the metrics label,
// default the platform name).
type Sender interface {
	Send(ctx context.Context, n *Notification) (id string, err error)
}

// Route is a (platform, app) pair: the unit of queueing, credentials and
// isolation. A Route with an empty App is a wildcard that serves every app
// of that platform without a route of its own.
type Route struct {
	Platform Platform
	App      string
}

// String returns "platform/app" ("platform/*" for a wildcard).
func (r Route) String() string {
	app := r.App
	if app == "" {
		app = "*"
	}
	return r.Platform.String() + "/" + app
}
