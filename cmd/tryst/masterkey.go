package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/trystgw/tryst/masterkey"
)

// masterKeyHint tells an operator how to make the key file serve needs.
const masterKeyHint = "create one with `tryst masterkey generate --out FILE` and give every instance the same file"

const masterKeyUsage = `usage: tryst masterkey generate --out FILE

Writes a new random master key (64 hex digits, mode 0600) to FILE, which
must not exist. The key encrypts secrets at rest (token server keys,
notifier keys); instances sharing a database must share it. Back it up,
since what it sealed cannot be read without it`

// runMasterKey runs "tryst masterkey". args are those after "masterkey".
func runMasterKey(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New(masterKeyUsage)
	}
	switch args[0] {
	case "generate":
		return runMasterKeyGenerate(args[1:], stdout)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, masterKeyUsage)
		return nil
	}
	return fmt.Errorf("masterkey: unknown command %q\n%s", args[0], masterKeyUsage)
}

func runMasterKeyGenerate(args []string, stdout io.Writer) error {
	fs := newCommandFlags("tryst masterkey generate", "--out FILE", stdout)
	out := fs.String("out", "", "where to write the new key (must not exist)")
	if done, err := fs.parse(args); done || err != nil {
		return err
	}
	if *out == "" {
		return errors.New("masterkey generate: --out is required")
	}
	if _, err := os.Stat(*out); err == nil {
		return fmt.Errorf("masterkey generate: %s exists; not overwritten (a replaced key makes sealed data unreadable)", *out)
	}
	if _, created, err := masterkey.LoadOrCreate(*out, nil); err != nil || !created {
		return errors.Join(errors.New("masterkey generate: the file appeared meanwhile; not overwritten"), err)
	}
	_, err := fmt.Fprintf(stdout, "wrote a new master key to %s (mode 0600); back it up\n", *out)
	return err
}
