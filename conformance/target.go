package conformance

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/trystgw/tryst/api"
)

// target runs the checks of one flavour at one mount. Its checks run one
// after the other, except those marked background (they wait for expiry).
type target struct {
	c     *client
	cfg   Config
	mount api.Mount

	// shared is the session the read-only checks look at, created once by
	// the first check that needs it; owned by the goroutine of run.
	shared *sharedSession
}

func newTarget(c *client, cfg Config, m api.Mount) *target {
	return &target{c: c, cfg: cfg, mount: m}
}

// check is one rule of the contract. run returns the reason it passed, an
// error saying why it failed, or a *skipError.
type check struct {
	name       string
	run        func(ctx context.Context) (string, error)
	background bool
}

// skipError marks a check that did not run, and why.
type skipError struct{ reason string }

func (e *skipError) Error() string { return e.reason }

func skip(format string, args ...any) error { return &skipError{fmt.Sprintf(format, args...)} }

// run runs every check of the target's flavour.
func (t *target) run(ctx context.Context) []Result {
	var checks []check
	if t.mount.Flavour == api.FlavourMSC4388 {
		checks = t.jsonChecks()
	} else {
		checks = t.etagChecks()
	}
	results := make([]Result, len(checks))
	var wg sync.WaitGroup
	for i, ch := range checks {
		if ch.background {
			wg.Go(func() { results[i] = t.runOne(ctx, ch) })
		}
	}
	for i, ch := range checks {
		if !ch.background {
			results[i] = t.runOne(ctx, ch)
		}
	}
	wg.Wait()
	return results
}

// runOne runs one check and records its outcome.
func (t *target) runOne(ctx context.Context, ch check) Result {
	r := Result{Flavour: string(t.mount.Flavour), Mount: t.mount.Path, Check: ch.name}
	start := t.c.now()
	reason, err := ch.run(ctx)
	r.Duration = t.c.now().Sub(start)
	var se *skipError
	switch {
	case errors.As(err, &se):
		r.Status, r.Reason = StatusSkip, se.reason
	case err != nil:
		r.Status, r.Reason = StatusFail, err.Error()
	default:
		r.Status, r.Reason = StatusPass, reason
	}
	return r
}

// onShared adapts fn, a check of the session get returns, to a check:
// when there is no session, the check fails saying why.
func onShared[S any](get func(context.Context) (S, error), fn func(context.Context, S) (string, error)) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		s, err := get(ctx)
		if err != nil {
			return "", err
		}
		return fn(ctx, s)
	}
}

// basePath is the mount's path ("" for a mount at the root).
func (t *target) basePath() string { return strings.TrimSuffix(t.mount.Path, "/") }

// itemPath is the path of session id.
func (t *target) itemPath(id string) string { return t.basePath() + "/" + id }

// unknownID returns an ID no server has handed out: 128 random bits.
func unknownID() string {
	var b [16]byte
	rand.Read(b[:]) // never returns an error (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// payload returns distinct, recognisable payload bytes for a check.
func payload(check string, n int) []byte {
	return fmt.Appendf(nil, "tryst check %s #%d", check, n)
}

// joinProblems turns a list of problems into one error, or nil.
func joinProblems(problems []string) error {
	if len(problems) == 0 {
		return nil
	}
	return errors.New(strings.Join(problems, "; "))
}
