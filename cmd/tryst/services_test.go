package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trystgw/tryst/handlers"
)

func TestParseServices(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
		ok   bool
	}{
		{"all", "rendezvous,notifications,delivery", true},
		{"delivery", "delivery", true},
		{"rendezvous", "rendezvous", true},
		{"notifications, rendezvous", "rendezvous,notifications", true},
		{"rendezvous,rendezvous", "rendezvous", true},
		{"", "", false},
		{"rendezvous,delivery-typo", "", false},
	} {
		got, err := parseServices(tc.in)
		if (err == nil) != tc.ok || strings.Join(got, ",") != tc.want {
			t.Errorf("parseServices(%q) = %q, %v; want %q, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

// TestServeRendezvousOnlyLeavesDataDirAlone checks that `serve --services
// rendezvous` opens no database and creates no master key: the data
// directory is never created, and the token API is not served.
func TestServeRendezvousOnlyLeavesDataDirAlone(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	s := startServer(t, "--services", "rendezvous", "--data-dir", dataDir)
	resp, body := s.do(t, http.MethodGet, "/readyz", "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "rendezvous_store") || strings.Contains(body, "database") {
		t.Errorf("/readyz = %d %s, want ready with the rendezvous store only", resp.StatusCode, body)
	}
	if resp, _ := s.do(t, http.MethodPost, "/rendezvous", "hi", "Content-Type", "text/plain"); resp.StatusCode != http.StatusOK {
		t.Errorf("POST /rendezvous = %d, want 200", resp.StatusCode)
	}
	if resp, body := s.do(t, http.MethodPost, "/v1/tokens", "{}"); resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "M_UNRECOGNIZED") {
		t.Errorf("POST /v1/tokens without the notifications service = %d %s, want 404 M_UNRECOGNIZED", resp.StatusCode, body)
	}
	if err := s.stop(); err != nil {
		t.Fatalf("serve = %v", err)
	}
	if _, err := os.Stat(dataDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("data directory after serve --services rendezvous: %v, want it never created", err)
	}
}

// TestServeValidatesBeforeCreating checks that a bad push configuration
// or a busy port stops serve before the database or the master key is
// written.
func TestServeValidatesBeforeCreating(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	badPush := filepath.Join(t.TempDir(), "push.json")
	if err := os.WriteFile(badPush, []byte(`{"apps":[{"id":"x","platform":"apns"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"bad push config", []string{"--addr", "127.0.0.1:0", "--push-config", badPush}, "topic"},
		{"busy port", []string{"--addr", busy.Addr().String()}, "address already in use"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dataDir := filepath.Join(t.TempDir(), "data")
			err := run(t.Context(), append([]string{"serve", "--data-dir", dataDir}, tc.args...), func(string) string { return "" }, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("serve %v = %v, want an error mentioning %q", tc.args, err, tc.want)
			}
			if _, err := os.Stat(dataDir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("data directory after a failed start: %v, want it never created", err)
			}
		})
	}
}

// failingService is a service whose background loop fails after a while.
type failingService struct {
	started, stopped chan struct{}
	err              error
}

func (s *failingService) Name() string                           { return "failing" }
func (s *failingService) Check(context.Context, *serveEnv) error { return nil }
func (s *failingService) Handlers(*handlers.Deps)                {}
func (s *failingService) Ready() []handlers.ReadyCheck           { return nil }
func (s *failingService) Collectors() []prometheus.Collector     { return nil }
func (s *failingService) Stop(context.Context) error             { close(s.stopped); return nil }
func (s *failingService) Start(_ context.Context, _ *serveEnv, loops *loopGroup) error {
	loops.Go("worker", func(ctx context.Context) error {
		close(s.started)
		select {
		case <-time.After(50 * time.Millisecond):
			return s.err
		case <-ctx.Done():
			return errors.New("stopped before failing")
		}
	})
	return nil
}

// TestServeEndsWhenALoopFails checks that a background loop that fails
// ends serve, with its error (main turns it into exit status 1), after
// the services stopped in order.
func TestServeEndsWhenALoopFails(t *testing.T) {
	cfg, err := loadServeConfig([]string{"--addr", "127.0.0.1:0", "--services", "rendezvous", "--data-dir", t.TempDir()}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, loopErr := range []error{errors.New("queue table vanished"), nil} {
		f := &failingService{started: make(chan struct{}), stopped: make(chan struct{}), err: loopErr}
		services := append(selectServices(cfg.services), f)
		done := make(chan error, 1)
		go func() { done <- serve(t.Context(), cfg, slog.New(slog.DiscardHandler), services) }()
		select {
		case err := <-done:
			want := "failing worker: returned before it was stopped"
			if loopErr != nil {
				want = "failing worker: " + loopErr.Error()
			}
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("serve = %v, want the loop's error %q", err, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("serve kept running after its background loop failed")
		}
		select {
		case <-f.stopped:
		default:
			t.Error("the failed loop's service was not stopped")
		}
	}
}

// TestServeNotificationsOnly checks the other half: without the
// rendezvous service, its mounts are not served, the token API and the
// database readiness check are.
func TestServeNotificationsOnly(t *testing.T) {
	s := startServer(t, "--services", "notifications")
	resp, body := s.do(t, http.MethodGet, "/readyz", "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"database":"ok"`) || strings.Contains(body, "rendezvous_store") {
		t.Errorf("/readyz = %d %s, want ready with the database only", resp.StatusCode, body)
	}
	if resp, body := s.do(t, http.MethodPost, "/rendezvous", "hi"); resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "M_UNRECOGNIZED") {
		t.Errorf("POST /rendezvous without the rendezvous service = %d %s, want 404 M_UNRECOGNIZED", resp.StatusCode, body)
	}
	if resp, body := s.do(t, http.MethodPost, "/v1/tokens", "{}"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("POST /v1/tokens {} = %d %s, want 400 from the token API", resp.StatusCode, body)
	}
	_, metrics := s.do(t, http.MethodGet, "/metrics", "")
	for _, want := range []string{`tryst_push_queue_depth{app="*",provider="log"} 0`, "tryst_push_results_unrouted_total 0"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(metrics, "tryst_rendezvous_sessions_created_total") {
		t.Error("/metrics has rendezvous series without the rendezvous service")
	}
}

// TestWriteTimeoutOutlastsLongestWait checks that the HTTP write timeout
// follows the longest wait of the running services, and has a floor of
// its own when none waits.
func TestWriteTimeoutOutlastsLongestWait(t *testing.T) {
	cfg, err := loadServeConfig([]string{"--rendezvous-max-wait", "2m"}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	env := newServeEnv(cfg, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	rdv := &rendezvousService{}
	if err := rdv.Start(t.Context(), env, nil); err != nil {
		t.Fatal(err)
	}
	defer rdv.Stop(t.Context())
	draining := t.Context()
	if got := newHTTPServer(cfg, env, []runningService{{svc: rdv}}, draining).WriteTimeout; got != 2*time.Minute+writeTimeoutMargin {
		t.Errorf("write timeout with a 2m long-poll = %v, want %v", got, 2*time.Minute+writeTimeoutMargin)
	}
	env = newServeEnv(cfg, slog.New(slog.DiscardHandler), prometheus.NewRegistry()) // a registry of its own
	if got := newHTTPServer(cfg, env, []runningService{{svc: &notificationsService{}}}, draining).WriteTimeout; got != minWriteTimeout {
		t.Errorf("write timeout with no long-poll = %v, want %v", got, minWriteTimeout)
	}
}
