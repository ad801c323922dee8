package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

const usage = `usage: tryst <command> [flags]

commands:
  serve                run the gateway
  check                check a rendezvous deployment against the contract
  smp probe            check that this gateway can reach an SMP server
  token                play an app's side of token registration and pushes (dh-key, open-verification, open-message)
  masterkey generate   write a new master key file
  version              print the module version, the commit and the Go version

"tryst <command> --help" describes a command's flags`

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
	case "masterkey":
		return runMasterKey(args[1:], stdout)
	case "version", "--version":
		_, err := fmt.Fprintln(stdout, versionLine())
		return err
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", args[0], usage)
}

// versionLine describes this build: module version, commit (with
// "+dirty" when built from a modified tree) and Go version.
func versionLine() string {
	version, commit, goVersion := "(devel)", "unknown", runtime.Version()
	if info, ok := debug.ReadBuildInfo(); ok {
		if info.Main.Version != "" {
			version = info.Main.Version
		}
		goVersion = info.GoVersion
		var modified bool
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if modified {
			commit += "+dirty"
		}
	}
	return fmt.Sprintf("tryst %s commit %s %s", version, commit, goVersion)
}
