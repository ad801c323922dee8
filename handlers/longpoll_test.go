package handlers_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/trystgw/tryst/api"
	"github.com/trystgw/tryst/handlers"
)

func TestLongPollWokenByWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, options{now: time.Now})
		path, etag := f.create(t, seedBase, "one")
		done := make(chan *httptest.ResponseRecorder)
		go func() { done <- f.do(t, http.MethodGet, path, "", "If-None-Match", etag, "Prefer", "wait=20") }()
		synctest.Wait() // the poll is now waiting
		if n := f.rdv.Stats(t.Context()).Waiting; n != 1 {
			t.Fatalf("waiting long-polls = %d, want 1", n)
		}
		time.Sleep(3 * time.Second)
		start := time.Now()
		f.do(t, http.MethodPut, path, "two")
		rec := <-done
		if rec.Code != http.StatusOK || rec.Body.String() != "two" || time.Since(start) != 0 {
			t.Errorf("long-poll = %d %q after %v, want 200 two at once", rec.Code, rec.Body, time.Since(start))
		}
		if rec.Header().Get("Preference-Applied") != "wait=20" {
			t.Errorf("Preference-Applied = %q, want wait=20", rec.Header().Get("Preference-Applied"))
		}
	})
}

func TestLongPollTimesOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, options{now: time.Now})
		path, etag := f.create(t, seedBase, "one")
		start := time.Now()
		// The server caps the wait at 30 s.
		rec := f.do(t, http.MethodGet, path, "", "If-None-Match", etag, "Prefer", "respond-async, wait=100")
		if rec.Code != http.StatusNotModified || time.Since(start) != 30*time.Second {
			t.Errorf("long-poll = %d after %v, want 304 after 30s", rec.Code, time.Since(start))
		}
		if rec.Header().Get("Preference-Applied") != "wait=30" {
			t.Errorf("Preference-Applied = %q, want wait=30", rec.Header().Get("Preference-Applied"))
		}
	})
}

func TestLongPollEndsWithSession(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, options{now: time.Now})
		path, etag := f.create(t, seedBase, "one")
		done := make(chan *httptest.ResponseRecorder)
		go func() { done <- f.do(t, http.MethodGet, path, "", "If-None-Match", etag, "Prefer", "wait=30") }()
		synctest.Wait()
		f.do(t, http.MethodDelete, path, "")
		checkError(t, "long-poll of a deleted session", <-done, http.StatusNotFound, api.CodeNotFound)

		// A session expiring while polled answers 404 at its expiry.
		f2 := newFixture(t, options{now: time.Now})
		path, etag = f2.create(t, seedBase, "one")
		time.Sleep(4*time.Minute + 50*time.Second)
		start := time.Now()
		rec := f2.do(t, http.MethodGet, path, "", "If-None-Match", etag, "Prefer", "wait=30")
		checkError(t, "long-poll of an expiring session", rec, http.StatusNotFound, api.CodeNotFound)
		if time.Since(start) != 10*time.Second {
			t.Errorf("expiring long-poll answered after %v, want 10s (at expiry)", time.Since(start))
		}
	})
}

func TestLongPollWithoutPreferAnswersAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, options{now: time.Now})
		path, etag := f.create(t, seedBase, "one")
		start := time.Now()
		rec := f.do(t, http.MethodGet, path, "", "If-None-Match", etag)
		if rec.Code != http.StatusNotModified || time.Since(start) != 0 || rec.Header().Get("Preference-Applied") != "" {
			t.Errorf("poll without Prefer = %d after %v, want an immediate 304", rec.Code, time.Since(start))
		}
	})
}

func TestMSC4388LongPoll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, options{now: time.Now})
		created := decodeBody[api.RendezvousCreatedJSON](t, f.do(t, http.MethodPost, msc4388Base, `{"data":"a"}`))
		path := msc4388Base + "/" + created.ID
		done := make(chan *httptest.ResponseRecorder)
		go func() { done <- f.do(t, http.MethodGet, path+"?wait_ms=10000&since="+created.SequenceToken, "") }()
		synctest.Wait()
		f.do(t, http.MethodPut, path, `{"data":"b","sequence_token":"`+created.SequenceToken+`"}`)
		got := decodeBody[api.RendezvousSession](t, <-done)
		if got.Data != "b" || got.SequenceToken == created.SequenceToken {
			t.Errorf("msc4388 long-poll = %+v, want the new data", got)
		}
		// Unchanged: answers with the same token when the wait ends.
		start := time.Now()
		same := decodeBody[api.RendezvousSession](t, f.do(t, http.MethodGet, path+"?wait_ms=1500&since="+got.SequenceToken, ""))
		if same.SequenceToken != got.SequenceToken || time.Since(start) != 1500*time.Millisecond {
			t.Errorf("unchanged msc4388 long-poll = %+v after %v, want the same token after 1.5s", same, time.Since(start))
		}
	})
}

func TestLongPollAnswersWhenDraining(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		draining, drain := context.WithCancel(context.Background())
		defer drain()
		f := newDrainingFixture(t, draining)
		path, etag := f.create(t, seedBase, "one")
		done := make(chan *httptest.ResponseRecorder)
		go func() { done <- f.do(t, http.MethodGet, path, "", "If-None-Match", etag, "Prefer", "wait=30") }()
		synctest.Wait()
		start := time.Now()
		drain()
		rec := <-done
		if rec.Code != http.StatusNotModified || time.Since(start) != 0 || !strings.Contains(rec.Header().Get("ETag"), "-1") {
			t.Errorf("long-poll during shutdown = %d after %v, want an immediate 304", rec.Code, time.Since(start))
		}
	})
}

// TestLongPollCaps parks long-polls up to the per-client cap (2) and the
// total cap (3): beyond either, a long-poll is refused at once with 429
// and a retry time, while a plain poll still answers.
func TestLongPollCaps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, options{now: time.Now, http: handlers.Config{LongPollsPerClient: 2, LongPollsTotal: 3}})
		path, etag := f.create(t, seedBase, "one")
		poll := func(from string) *httptest.ResponseRecorder {
			return f.doFrom(t, from, http.MethodGet, path, "", "If-None-Match", etag, "Prefer", "wait=30")
		}
		done := make(chan *httptest.ResponseRecorder, 3)
		for _, from := range []string{"198.51.100.1:1", "198.51.100.1:2", "[2001:db8::1]:3"} {
			go func() { done <- poll(from) }()
		}
		synctest.Wait()
		if n := f.rdv.Stats(t.Context()).Waiting; n != 3 {
			t.Fatalf("waiting long-polls = %d, want 3", n)
		}
		for _, c := range []struct{ what, from string }{
			{"third long-poll of one client", "198.51.100.1:4"},
			{"long-poll over the total", "203.0.113.5:5"},
		} {
			rec := poll(c.from)
			checkError(t, c.what, rec, http.StatusTooManyRequests, api.CodeLimitExceeded)
			if e := decodeBody[api.Error](t, rec); rec.Header().Get("Retry-After") == "" || e.RetryAfterMs <= 0 {
				t.Errorf("%s: Retry-After %q, retry_after_ms %d, want both", c.what, rec.Header().Get("Retry-After"), e.RetryAfterMs)
			}
		}
		if rec := f.doFrom(t, "198.51.100.1:6", http.MethodGet, path, "", "If-None-Match", etag); rec.Code != http.StatusNotModified {
			t.Errorf("plain poll while capped = %d, want 304", rec.Code)
		}
		f.do(t, http.MethodPut, path, "two")
		for range 3 {
			if rec := <-done; rec.Code != http.StatusOK {
				t.Errorf("parked long-poll = %d, want 200", rec.Code)
			}
		}
		// Slots are given back: the client may wait again.
		path2, etag2 := f.create(t, seedBase, "x")
		go func() {
			done <- f.doFrom(t, "198.51.100.1:7", http.MethodGet, path2, "", "If-None-Match", etag2, "Prefer", "wait=1")
		}()
		if rec := <-done; rec.Code != http.StatusNotModified {
			t.Errorf("long-poll after the others ended = %d, want 304 after its wait", rec.Code)
		}
	})
}
