package redisstore_test

import (
	"strings"
	"testing"
	"time"

	"github.com/trystgw/tryst/store/redisstore"
)

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		name       string
		url        string
		addr       string
		db         int
		prefix     string
		read, dial time.Duration
	}{
		{name: "defaults", url: "redis://127.0.0.1:6379/0", addr: "127.0.0.1:6379", prefix: redisstore.DefaultPrefix, read: time.Second, dial: time.Second},
		{name: "db and prefix", url: "redis://h:1/3?key_prefix=app1:", addr: "h:1", db: 3, prefix: "app1:", read: time.Second, dial: time.Second},
		{name: "own timeouts", url: "redis://h/0?read_timeout=250ms&dial_timeout=3s", addr: "h:6379", prefix: redisstore.DefaultPrefix, read: 250 * time.Millisecond, dial: 3 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts, cfg, err := redisstore.ParseURL(tc.url)
			if err != nil {
				t.Fatalf("ParseURL(%q): %v", tc.url, err)
			}
			if opts.Addr != tc.addr || opts.DB != tc.db || cfg.Prefix != tc.prefix || opts.ReadTimeout != tc.read || opts.DialTimeout != tc.dial {
				t.Errorf("ParseURL(%q) = addr %s db %d prefix %q read %v dial %v, want %s %d %q %v %v", tc.url,
					opts.Addr, opts.DB, cfg.Prefix, opts.ReadTimeout, opts.DialTimeout, tc.addr, tc.db, tc.prefix, tc.read, tc.dial)
			}
			if opts.MaxRetries != -1 || opts.WriteTimeout <= 0 || opts.PoolTimeout <= 0 {
				t.Errorf("ParseURL(%q): retries %d write %v pool %v, want no retries and bounded waits", tc.url, opts.MaxRetries, opts.WriteTimeout, opts.PoolTimeout)
			}
		})
	}
}

func TestParseURLHidesPassword(t *testing.T) {
	for _, url := range []string{"redis://:s3cret@h:6379/0?bogus=1", "redis://:s3cret@h:port/0", "http://:s3cret@h/0"} {
		_, _, err := redisstore.ParseURL(url)
		if err == nil || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("ParseURL(%q) error = %v, want an error without the password", url, err)
		}
	}
}
