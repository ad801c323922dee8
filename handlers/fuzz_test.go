package handlers

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trystgw/tryst/api"
	"github.com/trystgw/tryst/rendezvous"
	"github.com/trystgw/tryst/store/memstore"
)

func FuzzParseTagList(f *testing.F) {
	for _, s := range []string{`"abc-1"`, `W/"abc-1"`, `"abc-1-gzip"`, `*`, `"a", W/"b" ,c`, `"unterminated`, `W/`, `,,`, ` "x" "y"`, `"a;gzip"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		l, err := parseTagList(h)
		if err != nil {
			return
		}
		if l.any {
			if len(l.tags) != 0 {
				t.Fatalf("parseTagList(%q): * with tags %q", h, l.tags)
			}
			return
		}
		if len(l.tags) == 0 || len(l.tags) > maxTagListLen {
			t.Fatalf("parseTagList(%q) = %d tags, want 1..%d", h, len(l.tags), maxTagListLen)
		}
		for _, tag := range l.tags {
			if !etagChars(tag) {
				t.Fatalf("parseTagList(%q) gave tag %q with characters outside etagc", h, tag)
			}
			// What we parsed, quoted again, parses to itself.
			again, err := parseTagList(quoteETag(tag))
			if err != nil || len(again.tags) != 1 || again.tags[0] != normalizeTag(tag) {
				t.Fatalf("tag %q from %q does not survive quoting: %v %v", tag, h, again.tags, err)
			}
		}
	})
}

func FuzzParsePreferWait(f *testing.F) {
	for _, s := range []string{"wait=10", "respond-async, wait=5", "wait", `wait="3"`, "WAIT=1;x=y", "wait=-1", "wait=99999999999", "return=minimal"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		d, err := parsePreferWait(h)
		if err == nil && (d < 0 || d > maxPreferWait) {
			t.Fatalf("parsePreferWait(%q) = %v, want 0..%v", h, d, maxPreferWait)
		}
		if !strings.Contains(strings.ToLower(h), "wait") && (err != nil || d != 0) {
			t.Fatalf("parsePreferWait(%q) without a wait = %v, %v", h, d, err)
		}
	})
}

// FuzzMSC4388Bodies sends arbitrary bodies to the msc4388 POST and PUT: the
// answer is always a defined status, and a refused request changes nothing.
func FuzzMSC4388Bodies(f *testing.F) {
	for _, s := range []string{`{"data":"x"}`, `{"data":"x","sequence_token":"t"}`, `{}`, `{"data":1}`, `[]`, `null`, `{"data":"\u0000"}`, `{"data":"x","data":"y"}`, ``} {
		f.Add(s)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	// MaxSessions 2 (the fixed session and one more) makes a leaked
	// session show at the next input instead of after 100,000 of them.
	rdv := rendezvous.NewService(memstore.NewRendezvous(clock), memstore.NewNotifier[rendezvous.ID](), clock, rendezvous.Config{MaxBytes: 64, MaxSessions: 2})
	mounts, _ := api.ParseMounts("msc4388:/r")
	h := New(Config{Mounts: mounts}, Deps{Logger: slog.New(slog.DiscardHandler), Rendezvous: rdv, Registry: prometheus.NewRegistry()})
	sess, err := rdv.Create(f.Context(), []byte("start"), jsonContentType)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body string) {
		before := rdv.Stats(t.Context()).Live
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/r", strings.NewReader(body)))
		switch after := rdv.Stats(t.Context()).Live; rec.Code {
		case http.StatusOK:
			if after != before+1 {
				t.Fatalf("POST %q = 200 but live sessions %d -> %d", body, before, after)
			}
			// Delete what was created, so that a long run never reaches the
			// live-session limit and reports its 503 as a crash.
			var created struct{ ID string }
			if err := json.Unmarshal(rec.Body.Bytes(), &created); err != nil || created.ID == "" {
				t.Fatalf("POST %q = 200 without an id: %s", body, rec.Body)
			}
			if err := rdv.Delete(t.Context(), rendezvous.ID(created.ID)); err != nil {
				t.Fatalf("deleting %s: %v", created.ID, err)
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			if after != before {
				t.Fatalf("refused POST %q changed live sessions %d -> %d", body, before, after)
			}
		default:
			t.Fatalf("POST %q = %d %s", body, rec.Code, rec.Body)
		}

		current, _ := rdv.Get(t.Context(), sess.ID)
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPut, "/r/"+string(sess.ID), strings.NewReader(body)))
		after, _ := rdv.Get(t.Context(), sess.ID)
		switch rec.Code {
		case http.StatusOK:
		case http.StatusBadRequest, http.StatusConflict, http.StatusRequestEntityTooLarge:
			if after.Version() != current.Version() {
				t.Fatalf("refused PUT %q changed the session %s -> %s", body, current.Version(), after.Version())
			}
		default:
			t.Fatalf("PUT %q = %d %s", body, rec.Code, rec.Body)
		}
	})
}
