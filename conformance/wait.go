package conformance

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The checks that wait: long-poll and expiry.

const (
	// probeWait is the long-poll the checker asks for to find out whether
	// the server holds requests at all.
	probeWait = time.Second
	// heldAtLeast is how long a probe must be held to count as held.
	heldAtLeast = probeWait / 2
	// wakeWait is the long-poll that a write must end early.
	wakeWait = 10 * time.Second
	// writeDelay lets the waiting request reach the server before the
	// write that should wake it.
	writeDelay = 200 * time.Millisecond
	// expiryMargin is how long before and after the advertised expiry the
	// checker looks at the session.
	expiryMargin = 2 * time.Second
)

// pollResult is the outcome of a long-poll request, with how long it took.
type pollResult struct {
	resp response
	err  error
	took time.Duration
}

// poll sends req in the background; its result arrives on the channel.
func (t *target) poll(ctx context.Context, req request) <-chan pollResult {
	out := make(chan pollResult, 1)
	go func() {
		start := t.c.now()
		resp, err := t.c.do(ctx, req)
		out <- pollResult{resp: resp, err: err, took: t.c.now().Sub(start)}
	}()
	return out
}

// wake runs the second half of a long-poll check: a waiting request that
// a write must answer early. write is called while the request waits.
func (t *target) wake(ctx context.Context, req request, write func() error) (pollResult, error) {
	ch := t.poll(ctx, req)
	if err := t.c.sleep(ctx, writeDelay); err != nil {
		return pollResult{}, err
	}
	if err := write(); err != nil {
		return pollResult{}, fmt.Errorf("the write that should wake the long-poll: %w", err)
	}
	res := <-ch
	if res.err != nil {
		return res, res.err
	}
	if res.took >= req.wait {
		return res, fmt.Errorf("the long-poll was not woken by a write: answered after %v", res.took.Round(time.Millisecond))
	}
	return res, nil
}

func (t *target) etagLongPoll(ctx context.Context) (string, error) {
	s, err := t.createETag(ctx, payload("long-poll", 0), textPlain)
	if err != nil {
		return "", err
	}
	tag, err := needETag("POST", s.created)
	if err != nil {
		return "", err
	}
	if err := t.etagProbeWait(ctx, s, tag); err != nil {
		if errors.Is(err, errNotOffered) {
			return "", skip("%v (Prefer: wait answered at once without Preference-Applied)", err)
		}
		return "", err
	}
	req := request{method: http.MethodGet, path: s.path, wait: wakeWait,
		header: headerOf("If-None-Match", tag, "Prefer", waitPref(wakeWait))}
	next := payload("long-poll", 1)
	res, err := t.wake(ctx, req, func() error {
		resp, err := t.put(ctx, s, tag, next)
		if err == nil {
			err = wantStatus(resp, http.StatusAccepted)
		}
		return err
	})
	if err != nil {
		return "", err
	}
	if err := wantStatus(res.resp, http.StatusOK); err != nil {
		return "", fmt.Errorf("woken long-poll: %w", err)
	}
	if string(res.resp.body) != string(next) {
		return "", fmt.Errorf("woken long-poll returned %q, want the new payload %q", snippet(res.resp.body), next)
	}
	return fmt.Sprintf("Prefer: wait holds GET (304 after the wait, Preference-Applied) and a write answers it at once (%v)",
		res.took.Round(time.Millisecond)), nil
}

func waitPref(d time.Duration) string { return "wait=" + strconv.Itoa(int(d/time.Second)) }

// etagProbeWait asks for a short long-poll on an unchanged session: it
// must be held and answer 304 with Preference-Applied, or not be offered.
func (t *target) etagProbeWait(ctx context.Context, s etagSession, tag string) error {
	start := t.c.now()
	resp, err := t.c.do(ctx, request{method: http.MethodGet, path: s.path, wait: probeWait,
		header: headerOf("If-None-Match", tag, "Prefer", waitPref(probeWait))})
	took := t.c.now().Sub(start)
	if err != nil {
		return err
	}
	if err := wantStatus(resp, http.StatusNotModified); err != nil {
		return fmt.Errorf("long-poll on an unchanged session: %w", err)
	}
	applied := resp.header.Get("Preference-Applied")
	if applied == "" && took < heldAtLeast {
		return errNotOffered
	}
	if !strings.HasPrefix(strings.ToLower(applied), "wait=") {
		return fmt.Errorf("a held long-poll answered Preference-Applied %q, want wait=N", applied)
	}
	return nil
}

// expiry waits for the advertised lifetime of a fresh session: it must be
// alive shortly before and gone (404) shortly after.
func (t *target) expiry(ctx context.Context, lifetimeMs int64, path string) (string, error) {
	lifetime := time.Duration(lifetimeMs) * time.Millisecond
	if _, err := checkLifetime(lifetimeMs); err != nil {
		return "", err
	}
	if err := t.c.sleep(ctx, lifetime-expiryMargin); err != nil {
		return "", err
	}
	resp, err := t.get(ctx, path)
	if err != nil {
		return "", err
	}
	if err := wantStatus(resp, http.StatusOK); err != nil {
		return "", fmt.Errorf("%v before the advertised expiry the session is gone: %w", expiryMargin, err)
	}
	if err := t.c.sleep(ctx, 2*expiryMargin); err != nil {
		return "", err
	}
	if resp, err = t.get(ctx, path); err != nil {
		return "", err
	}
	if err := wantError(resp, http.StatusNotFound, "M_NOT_FOUND"); err != nil {
		return "", fmt.Errorf("%v after the advertised expiry: %w", expiryMargin, err)
	}
	return fmt.Sprintf("alive %v before its advertised expiry (%v), 404 %v after", expiryMargin, lifetime.Round(time.Second), expiryMargin), nil
}

func (t *target) etagExpiry(ctx context.Context) (string, error) {
	if t.cfg.Quick {
		return "", skip("quick mode: not waiting for a session to expire")
	}
	s, err := t.createETag(ctx, payload("expiry", 0), textPlain)
	if err != nil {
		return "", err
	}
	return t.expiry(ctx, s.body.ExpiresInMs, s.path)
}
