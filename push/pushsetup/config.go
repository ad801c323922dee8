package pushsetup

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/trystgw/tryst/push"
)

// Config is the push configuration file: the apps with their APNs and FCM
// credential files, and optional dispatcher tuning. See LoadConfig for
// the format. The file format is start-up's business, so it lives here
// and not in the push domain.
type Config struct {
	Apps       []AppConfig        `json:"apps"`
	Dispatcher DispatcherSettings `json:"dispatcher"`
	// Dir is the directory relative file names are resolved against; set
	// by LoadConfig to the config file's directory.
	Dir string `json:"-"`
}

// AppConfig is one app on one platform with its credentials.
type AppConfig struct {
	// ID is the tryst app id, matched against push.Notification.App. The
	// same id may appear once per platform.
	ID       string        `json:"id"`
	Platform push.Platform `json:"platform"`
	// Topic is the APNs topic (the app's bundle id). Required for APNs.
	Topic string           `json:"topic,omitempty"`
	APNs  *APNsCredentials `json:"apns,omitempty"`
	FCM   *FCMCredentials  `json:"fcm,omitempty"`
	// CAFile is an optional PEM bundle of extra trusted roots for the
	// provider's TLS (a test fake or an egress proxy).
	CAFile string `json:"ca_file,omitempty"`
}

// APNsCredentials are either token auth (KeyFile, KeyID, TeamID) or
// certificate auth (CertFile, a .p12 or PEM file with certificate and
// key, and an optional password from an environment variable or a file).
type APNsCredentials struct {
	KeyFile string `json:"key_file,omitempty"` // AuthKey_XXXXXXXXXX.p8
	KeyID   string `json:"key_id,omitempty"`
	TeamID  string `json:"team_id,omitempty"`

	CertFile         string `json:"cert_file,omitempty"`
	CertPasswordEnv  string `json:"cert_password_env,omitempty"`
	CertPasswordFile string `json:"cert_password_file,omitempty"`

	// ProductionURL and DevelopmentURL override Apple's hosts (tests).
	ProductionURL  string `json:"production_url,omitempty"`
	DevelopmentURL string `json:"development_url,omitempty"`
}

// FCMCredentials name a Google service account JSON key file.
type FCMCredentials struct {
	ServiceAccountFile string `json:"service_account_file"`
	// ProjectID defaults to the service account's project_id.
	ProjectID string `json:"project_id,omitempty"`
	// Endpoint overrides https://fcm.googleapis.com/v1 (tests).
	Endpoint string `json:"endpoint,omitempty"`
}

// DispatcherSettings is the file form of the push.DispatcherConfig tuning
// fields; zero fields keep the defaults.
type DispatcherSettings struct {
	QueueSize          int      `json:"queue_size,omitempty"`
	MaxPerRegistration int      `json:"max_per_registration,omitempty"`
	Workers            int      `json:"workers,omitempty"`
	AttemptTimeout     Duration `json:"attempt_timeout,omitempty"`
	MaxAttempts        int      `json:"max_attempts,omitempty"`
	BaseBackoff        Duration `json:"base_backoff,omitempty"`
	MaxBackoff         Duration `json:"max_backoff,omitempty"`
	MaxRetryAfter      Duration `json:"max_retry_after,omitempty"`
	BreakerThreshold   int      `json:"breaker_threshold,omitempty"`
	BreakerCooldown    Duration `json:"breaker_cooldown,omitempty"`
	BreakerMaxCooldown Duration `json:"breaker_max_cooldown,omitempty"`
}

// ApplyTo copies the non-zero settings into the zero fields of c: values
// set in code win over the file.
func (s DispatcherSettings) ApplyTo(c *push.DispatcherConfig) {
	setInt := func(dst *int, v int) {
		if *dst == 0 {
			*dst = v
		}
	}
	setDur := func(dst *time.Duration, v Duration) {
		if *dst == 0 {
			*dst = time.Duration(v)
		}
	}
	setInt(&c.QueueSize, s.QueueSize)
	setInt(&c.MaxPerRegistration, s.MaxPerRegistration)
	setInt(&c.Workers, s.Workers)
	setInt(&c.MaxAttempts, s.MaxAttempts)
	setInt(&c.BreakerThreshold, s.BreakerThreshold)
	setDur(&c.AttemptTimeout, s.AttemptTimeout)
	setDur(&c.BaseBackoff, s.BaseBackoff)
	setDur(&c.MaxBackoff, s.MaxBackoff)
	setDur(&c.MaxRetryAfter, s.MaxRetryAfter)
	setDur(&c.BreakerCooldown, s.BreakerCooldown)
	setDur(&c.BreakerMaxCooldown, s.BreakerMaxCooldown)
}

// Duration is a time.Duration written in JSON as a Go duration string
// ("30s", "1m30s") or a number of seconds.
type Duration time.Duration

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		if v < 0 {
			return fmt.Errorf("negative duration %q", s)
		}
		*d = Duration(v)
		return nil
	}
	secs, err := strconv.ParseFloat(string(b), 64)
	if err != nil || secs < 0 {
		return fmt.Errorf("duration must be a string like \"30s\" or a non-negative number of seconds, got %s", b)
	}
	*d = Duration(secs * float64(time.Second))
	return nil
}

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// LoadConfig reads and validates a push configuration file (JSON). It
// checks the structure only; the credentials themselves are read by
// Prepare (through the adapters' loaders), which reports unreadable or
// invalid files. Example:
//
//	{
//	  "apps": [
//	    {"id": "chat", "platform": "apns", "topic": "com.example.chat",
//	     "apns": {"key_file": "AuthKey_ABC123DEFG.p8", "key_id": "ABC123DEFG", "team_id": "DEF123GHIJ"}},
//	    {"id": "legacy", "platform": "apns", "topic": "com.example.legacy",
//	     "apns": {"cert_file": "legacy.p12", "cert_password_env": "TRYST_LEGACY_P12_PASSWORD"}},
//	    {"id": "chat", "platform": "fcm",
//	     "fcm": {"service_account_file": "chat-firebase-adminsdk.json"}}
//	  ],
//	  "dispatcher": {"queue_size": 1024, "workers": 32, "max_attempts": 6, "base_backoff": "500ms"}
//	}
//
// Relative file names are resolved against the config file's directory.
// Unknown fields are errors, so typos do not silently disable an app.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("push config: %w", err)
	}
	cfg, err := ParseConfig(b)
	if err != nil {
		return nil, fmt.Errorf("push config %s: %w", path, err)
	}
	abs, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("push config: %w", err)
	}
	cfg.Dir = abs
	return cfg, nil
}

// ParseConfig parses and validates a configuration file's contents;
// relative paths stay relative to the working directory unless Dir is set.
func ParseConfig(b []byte) (*Config, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var cfg Config
	if err := dec.Decode(&cfg); err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	if dec.More() {
		return nil, errors.New("parse: trailing data after the JSON object")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// Validate checks the configuration's structure and reports every problem
// found.
func (c *Config) Validate() error {
	var errs []error
	seen := map[push.Route]bool{}
	for i, a := range c.Apps {
		name := fmt.Sprintf("apps[%d]", i)
		if a.ID != "" {
			name = fmt.Sprintf("app %q (%s)", a.ID, a.Platform)
		}
		for _, problem := range a.problems(seen) {
			errs = append(errs, fmt.Errorf("%s: %s", name, problem))
		}
	}
	return errors.Join(errs...)
}

// problems lists what is wrong with a; seen holds the routes of the apps
// before it, and gets a's.
func (a AppConfig) problems(seen map[push.Route]bool) []string {
	var bad []string
	if !validAppID(a.ID) {
		bad = append(bad, "id must be 1 to 64 characters from [A-Za-z0-9._-]")
	}
	r := push.Route{Platform: a.Platform, App: a.ID}
	if seen[r] && a.ID != "" {
		bad = append(bad, "listed twice")
	}
	seen[r] = true
	switch a.Platform {
	case push.APNs:
		return append(bad, a.apnsProblems()...)
	case push.FCM:
		return append(bad, a.fcmProblems()...)
	}
	return append(bad, "platform must be apns or fcm")
}

// apnsProblems lists what is wrong with an APNs app's fields.
func (a AppConfig) apnsProblems() []string {
	var bad []string
	if a.FCM != nil {
		bad = append(bad, "fcm credentials on an apns app")
	}
	if a.Topic == "" {
		bad = append(bad, "topic (the bundle id) is required")
	}
	if a.APNs == nil {
		return append(bad, "apns credentials are required")
	}
	return append(bad, a.APNs.problems()...)
}

// problems lists what is wrong with APNs credentials: token auth or
// certificate auth, each with its own fields.
func (k *APNsCredentials) problems() []string {
	var bad []string
	switch {
	case k.KeyFile != "" && k.CertFile != "":
		bad = append(bad, "set either key_file (token auth) or cert_file (certificate auth), not both")
	case k.KeyFile != "":
		if !validAppleID(k.KeyID) {
			bad = append(bad, "key_id must be the 10-character key identifier")
		}
		if !validAppleID(k.TeamID) {
			bad = append(bad, "team_id must be the 10-character team identifier")
		}
		if k.CertPasswordEnv != "" || k.CertPasswordFile != "" {
			bad = append(bad, "cert_password_* only applies to cert_file")
		}
	case k.CertFile != "":
		if k.KeyID != "" || k.TeamID != "" {
			bad = append(bad, "key_id/team_id only apply to key_file")
		}
		if k.CertPasswordEnv != "" && k.CertPasswordFile != "" {
			bad = append(bad, "set cert_password_env or cert_password_file, not both")
		}
	default:
		bad = append(bad, "apns credentials need key_file (with key_id and team_id) or cert_file")
	}
	return bad
}

// fcmProblems lists what is wrong with an FCM app's fields.
func (a AppConfig) fcmProblems() []string {
	var bad []string
	if a.APNs != nil {
		bad = append(bad, "apns credentials on an fcm app")
	}
	if a.Topic != "" {
		bad = append(bad, "topic only applies to apns apps")
	}
	if a.FCM == nil || a.FCM.ServiceAccountFile == "" {
		bad = append(bad, "fcm.service_account_file is required")
	}
	return bad
}

// Path resolves a file name from the configuration against c.Dir.
func (c *Config) Path(name string) string {
	if name == "" || filepath.IsAbs(name) || c.Dir == "" {
		return name
	}
	return filepath.Join(c.Dir, name)
}

func validAppID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func validAppleID(s string) bool {
	if len(s) != 10 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}
