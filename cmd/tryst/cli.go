package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// commandFlags is a subcommand's flag set whose --help prints the
// synopsis and every flag to stdout and exits 0, while parse errors are
// returned, not printed.
type commandFlags struct {
	*flag.FlagSet
	synopsis string
	stdout   io.Writer
}

func newCommandFlags(name, synopsis string, stdout io.Writer) *commandFlags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &commandFlags{FlagSet: fs, synopsis: synopsis, stdout: stdout}
}

// parse parses args; done is true when --help was asked for (and
// answered) or on an error. Positional arguments are refused.
func (c *commandFlags) parse(args []string) (done bool, err error) {
	positional, done, err := c.parseMixed(args)
	if !done && len(positional) > 0 {
		return true, fmt.Errorf("%s: unexpected argument %q", c.Name(), positional[0])
	}
	return done, err
}

// parseMixed parses flags before and after positional arguments, which it
// returns in order; done is as for parse.
func (c *commandFlags) parseMixed(args []string) (positional []string, done bool, err error) {
	for {
		err := c.Parse(args)
		switch {
		case errors.Is(err, flag.ErrHelp):
			return nil, true, c.help()
		case err != nil:
			return nil, true, fmt.Errorf("%s: %w", c.Name(), err)
		case c.NArg() == 0:
			return positional, false, nil
		}
		positional = append(positional, c.Arg(0))
		args = c.Args()[1:]
	}
}

// help prints the synopsis and the flags with their defaults.
func (c *commandFlags) help() error {
	fmt.Fprintf(c.stdout, "usage: %s %s\n\nflags:\n", c.Name(), c.synopsis)
	c.SetOutput(c.stdout)
	defer c.SetOutput(io.Discard)
	c.PrintDefaults()
	return nil
}
