package handlers_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trystgw/tryst/api"
	"github.com/trystgw/tryst/handlers"
	"github.com/trystgw/tryst/ratelimit"
	"github.com/trystgw/tryst/rendezvous"
	"github.com/trystgw/tryst/store/memstore"
)

// Mount paths of the default configuration, by flavour.
const (
	seedBase    = api.PathRendezvous
	msc3886Base = api.PathRendezvousMSC3886
	msc4108Base = api.PathRendezvousMSC4108
	msc4388Base = api.PathRendezvousMSC4388
)

type fixture struct {
	h     http.Handler
	rdv   *rendezvous.Service
	store *memstore.Rendezvous
}

type options struct {
	http handlers.Config
	rdv  rendezvous.Config
	now  func() time.Time
}

// newFixture serves the default mounts from a memory store. now defaults to
// a fixed clock; tests inside a synctest bubble pass time.Now.
func newFixture(t testing.TB, opts options) *fixture {
	return newFixtureDraining(t, opts, nil)
}

// newDrainingFixture serves with a real clock and a draining context.
func newDrainingFixture(t testing.TB, draining context.Context) *fixture {
	return newFixtureDraining(t, options{now: time.Now}, draining)
}

func newFixtureDraining(t testing.TB, opts options, draining context.Context) *fixture {
	t.Helper()
	if opts.now == nil {
		start := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
		opts.now = func() time.Time { return start }
	}
	store := memstore.NewRendezvous(opts.now)
	rdv := rendezvous.NewService(store, memstore.NewNotifier[rendezvous.ID](), opts.now, opts.rdv)
	h := handlers.New(opts.http, handlers.Deps{
		Logger: slog.New(slog.DiscardHandler), Rendezvous: rdv, Registry: prometheus.NewRegistry(),
		Limiter:  ratelimit.NewMemory(opts.now, 100),
		Ready:    []handlers.ReadyCheck{{Name: "rendezvous_store", Check: rdv.Ping}},
		Draining: draining,
	})
	return &fixture{h: h, rdv: rdv, store: store}
}

// do sends one request; hdr holds header name/value pairs.
func (f *fixture) do(t testing.TB, method, path, body string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	return f.doFrom(t, "192.0.2.1:1234", method, path, body, hdr...)
}

// doFrom is do from the client at remoteAddr.
func (f *fixture) doFrom(t testing.TB, remoteAddr, method, path, body string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.RemoteAddr = remoteAddr
	req.Header.Set("Origin", "https://client.example")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	return rec
}

// create makes a session on base and returns its path and ETag.
func (f *fixture) create(t testing.TB, base, body string, hdr ...string) (path, etag string) {
	t.Helper()
	rec := f.do(t, http.MethodPost, base, body, hdr...)
	if rec.Code != http.StatusOK && rec.Code != http.StatusCreated {
		t.Fatalf("POST %s = %d %s", base, rec.Code, rec.Body)
	}
	return rec.Header().Get("Location"), rec.Header().Get("ETag")
}

func decodeBody[T any](t testing.TB, rec *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("body %q is not the expected JSON: %v", rec.Body, err)
	}
	return v
}

// checkError checks an error response: status, errcode, envelope, CORS.
func checkError(t testing.TB, what string, rec *httptest.ResponseRecorder, status int, code string) {
	t.Helper()
	if rec.Code != status {
		t.Errorf("%s: status = %d, want %d; body %s", what, rec.Code, status, rec.Body)
		return
	}
	var e api.Error
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.ErrCode != code || e.Error == "" {
		t.Errorf("%s: body = %s, want an error envelope with errcode %s", what, rec.Body, code)
	}
	if rec.Header().Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("%s: no CORS header on the error response", what)
	}
}
