package conformance

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// Status is the outcome of one check.
type Status string

// The outcomes of a check.
const (
	StatusPass Status = "pass"
	StatusFail Status = "fail"
	// StatusSkip is a check that did not run: quick mode, or a feature
	// the contract makes optional that the server does not offer.
	StatusSkip Status = "skip"
)

// Result is the outcome of one check against one mount.
type Result struct {
	// Flavour and Mount are empty for checks of the whole deployment.
	Flavour string `json:"flavour,omitempty"`
	Mount   string `json:"mount,omitempty"`
	// Check names the rule, e.g. "etag-changes"; names are stable.
	Check    string        `json:"check"`
	Status   Status        `json:"status"`
	Reason   string        `json:"reason"`
	Duration time.Duration `json:"duration_ns"`
}

// Report is the outcome of a Run.
type Report struct {
	BaseURL string   `json:"base_url"`
	Results []Result `json:"results"`
	Passed  int      `json:"passed"`
	Failed  int      `json:"failed"`
	Skipped int      `json:"skipped"`
	// RateLimited says how often the server answered 429 and how long the
	// checker waited before retrying.
	RateLimited RateLimited `json:"rate_limited"`
}

// RateLimited is the checker's time spent honouring the server's rate
// limits (429 with Retry-After).
type RateLimited struct {
	Answers int           `json:"answers"`
	Waited  time.Duration `json:"waited_ns"`
}

// advice is the line that explains a slow run, or "" when nothing waited.
func (r RateLimited) advice() string {
	if r.Answers == 0 {
		return ""
	}
	return fmt.Sprintf("waited %v for %d rate-limited (429) answers; on a test deployment, "+
		"`tryst serve --create-rate 0 --write-rate 0` turns the per-IP limits off and the checks run at full speed",
		r.Waited.Round(time.Second), r.Answers)
}

// FailedError is returned by Report.Err when checks failed.
type FailedError struct {
	Failed, Total int
}

func (e *FailedError) Error() string {
	return fmt.Sprintf("%d of %d checks failed", e.Failed, e.Total)
}

// Err returns a *FailedError when any check failed, else nil.
func (r Report) Err() error {
	if r.Failed > 0 {
		return &FailedError{Failed: r.Failed, Total: len(r.Results)}
	}
	return nil
}

// Find returns the results of the named check, of every mount.
func (r Report) Find(check string) []Result {
	var out []Result
	for _, res := range r.Results {
		if res.Check == check {
			out = append(out, res)
		}
	}
	return out
}

// tally counts the outcomes.
func (r Report) tally() Report {
	r.Passed, r.Failed, r.Skipped = 0, 0, 0
	for _, res := range r.Results {
		switch res.Status {
		case StatusPass:
			r.Passed++
		case StatusFail:
			r.Failed++
		case StatusSkip:
			r.Skipped++
		}
	}
	return r
}

// WriteText writes one line per check, then the line "N passed, M failed".
// Skipped checks are counted on a line of their own before it.
func (r Report) WriteText(w io.Writer) error {
	var b strings.Builder
	for _, res := range r.Results {
		b.WriteString(res.line())
		b.WriteByte('\n')
	}
	if r.Skipped > 0 {
		fmt.Fprintf(&b, "%d skipped\n", r.Skipped)
	}
	if advice := r.RateLimited.advice(); advice != "" {
		b.WriteString(advice + "\n")
	}
	fmt.Fprintf(&b, "%d passed, %d failed\n", r.Passed, r.Failed)
	_, err := io.WriteString(w, b.String())
	return err
}

// line renders a result as "PASS simple /rendezvous create: reason".
func (res Result) line() string {
	where := ""
	if res.Flavour != "" {
		where = res.Flavour + " " + res.Mount + " "
	}
	return fmt.Sprintf("%s %s%s: %s", strings.ToUpper(string(res.Status)), where, res.Check, oneLine(res.Reason))
}

// oneLine keeps a reason on its line whatever a server sent.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// WriteJSON writes the report as one JSON document.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
