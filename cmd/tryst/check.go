package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"syscall"

	"github.com/trystgw/tryst/api"
	"github.com/trystgw/tryst/conformance"
)

const checkUsage = `usage: tryst check <base-url> [flags]

Runs the rendezvous contract (spec/rendezvous.md) against the deployment at
<base-url> (the server root, e.g. http://127.0.0.1:8080) and prints one line
per check, then "N passed, M failed". Exits 1 when any check fails. Only
<base-url>'s host is contacted; redirects are not followed.

flags:`

// checkConfig is the parsed command line of "tryst check".
type checkConfig struct {
	conformance.Config
	json bool
}

// runCheck runs "tryst check", the rendezvous conformance checker. It
// returns a *conformance.FailedError when a check failed.
func runCheck(ctx context.Context, args []string, stdout io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	cfg, err := parseCheckArgs(args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check: %w", err)
	}
	rep, err := conformance.Run(ctx, cfg.Config)
	if err != nil && len(rep.Results) == 0 {
		return fmt.Errorf("check: %w", err)
	}
	write := rep.WriteText
	if cfg.json {
		write = rep.WriteJSON
	}
	if werr := write(stdout); werr != nil {
		return fmt.Errorf("check: %w", werr)
	}
	if err != nil {
		return fmt.Errorf("check: %w", err)
	}
	if err := rep.Err(); err != nil {
		return fmt.Errorf("check: %w", err)
	}
	return nil
}

// parseCheckArgs reads the base URL and flags, in any order.
func parseCheckArgs(args []string, stdout io.Writer) (checkConfig, error) {
	var c checkConfig
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), checkUsage)
		fs.PrintDefaults()
	}
	flavour := fs.String("flavour", "all", "flavour to check: simple, msc4108, msc4388 or all")
	var mounts []api.Mount
	fs.Func("mount", "check `flavour:/path` instead of the flavour's default mounts (repeatable)", func(s string) error {
		ms, err := api.ParseMounts(s)
		mounts = append(mounts, ms...)
		return err
	})
	fs.BoolVar(&c.json, "json", false, "print the report as JSON")
	fs.BoolVar(&c.Quick, "quick", false, "skip the checks that wait for a session to expire (its whole advertised lifetime, 5 minutes by default)")
	fs.DurationVar(&c.Timeout, "timeout", conformance.DefaultTimeout, "bound on each request")
	fs.DurationVar(&c.MaxSkew, "max-skew", conformance.DefaultMaxSkew, "largest tolerated difference between the server's clock and this one")
	fs.StringVar(&c.Origin, "origin", conformance.DefaultOrigin, "Origin header to send, as a browser page on that origin would")

	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return c, err
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(positional) != 1 {
		fs.Usage()
		return c, fmt.Errorf("want exactly one base URL, got %d arguments", len(positional))
	}
	c.BaseURL = positional[0]
	var err error
	c.Mounts, err = selectMounts(*flavour, mounts)
	return c, err
}

// selectMounts combines --flavour with --mount: a flavour given a mount
// is checked there instead of at its default mounts.
func selectMounts(flavour string, overrides []api.Mount) ([]api.Mount, error) {
	defaults, err := conformance.ParseFlavours(flavour)
	if err != nil {
		return nil, err
	}
	var out []api.Mount
	for _, m := range defaults {
		if !slices.ContainsFunc(overrides, func(o api.Mount) bool { return o.Flavour == m.Flavour }) {
			out = append(out, m)
		}
	}
	for _, o := range overrides {
		if slices.ContainsFunc(defaults, func(m api.Mount) bool { return m.Flavour == o.Flavour }) {
			out = append(out, o)
		}
	}
	return out, nil
}
