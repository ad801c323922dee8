package main

import (
	"context"
	"errors"
	"fmt"
	"io"
)

const usage = `usage: tryst <command> [flags]

commands:
  serve       run the gateway
  check       check a rendezvous deployment against the contract
  smp probe   check that this gateway can reach an SMP server
  token       play an app's side of token registration (dh-key, open-verification)`

// run dispatches to the subcommand named by args[0]. It takes its inputs as
// parameters so that tests can call it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], getenv, stdout)
	case "check":
		return runCheck(ctx, args[1:], stdout)
	case "smp":
		return runSMP(ctx, args[1:], stdout)
	case "token":
		return runToken(args[1:], stdout)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", args[0], usage)
}
