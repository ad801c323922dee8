package main

import (
	"crypto/ecdh"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/trystgw/tryst/ntf"
)

// The "tryst token" commands play the app's side of token registration, so
// that the README's walk-through completes on a laptop without APNs or FCM
// credentials: in log-only mode the gateway logs each push's custom data,
// and these commands open it with the app's private key.

const tokenUsage = `usage: tryst token <command> [flags]

commands:
  dh-key              print the app's X25519 public key (the dh_key to register)
  open-verification   open a verification push and print the code to post back
  open-message        open a message push and print its notifications, one a line

The app key is an X25519 private key in PEM (PKCS#8), as made by
  openssl genpkey -algorithm X25519 -out app.pem`

// runToken runs the "tryst token" commands. args are those after "token".
func runToken(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New(tokenUsage)
	}
	switch args[0] {
	case "dh-key":
		return runTokenDHKey(args[1:], stdout)
	case "open-verification":
		return runTokenOpenVerification(args[1:], stdout)
	case "open-message":
		return runTokenOpenMessage(args[1:], stdout)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, tokenUsage)
		return nil
	}
	return fmt.Errorf("token: unknown command %q\n%s", args[0], tokenUsage)
}

func runTokenDHKey(args []string, stdout io.Writer) error {
	fs := newCommandFlags("tryst token dh-key", "--app-key FILE", stdout)
	keyFile := fs.String("app-key", "", "the app's X25519 private key (PEM, PKCS#8)")
	if done, err := fs.parse(args); done || err != nil {
		return err
	}
	key, err := readAppKey(*keyFile)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, base64.RawURLEncoding.EncodeToString(key.PublicKey().Bytes()))
	return err
}

func runTokenOpenVerification(args []string, stdout io.Writer) error {
	fs := newCommandFlags("tryst token open-verification",
		"--app-key FILE --server-key KEY --nonce NONCE --verification SEALED", stdout)
	p := addPushFlags(fs, ntf.DataVerification)
	if done, err := fs.parse(args); done || err != nil {
		return err
	}
	appKey, serverKey, err := p.keys()
	if err != nil {
		return err
	}
	code, err := ntf.OpenVerification(p.data(), appKey, serverKey)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, base64.RawURLEncoding.EncodeToString(code[:]))
	return err
}

func runTokenOpenMessage(args []string, stdout io.Writer) error {
	fs := newCommandFlags("tryst token open-message",
		"--app-key FILE --server-key KEY --nonce NONCE --message SEALED\n\n"+
			"Prints the push's notifications, oldest first, one a line:\n"+
			"  <server>/<notifier_id> <received_at> <nonce> <encrypted_metadata>", stdout)
	p := addPushFlags(fs, ntf.DataMessage)
	if done, err := fs.parse(args); done || err != nil {
		return err
	}
	appKey, serverKey, err := p.keys()
	if err != nil {
		return err
	}
	text, err := ntf.OpenMessage(p.data(), appKey, serverKey)
	if err != nil {
		return err
	}
	for entry := range strings.SplitSeq(string(text), ";") {
		if _, err := fmt.Fprintln(stdout, entry); err != nil {
			return err
		}
	}
	return nil
}

// pushFlags are what opening a push takes: the app's key file, the
// token's server key, and the push's nonce and sealed field.
type pushFlags struct {
	keyFile, serverKey, nonce, sealed *string
	field                             string
}

// addPushFlags registers the flags; field names the sealed data key
// (verification or message), which is also the flag's name.
func addPushFlags(fs *commandFlags, field string) *pushFlags {
	return &pushFlags{
		keyFile:   fs.String("app-key", "", "the app's X25519 private key (PEM, PKCS#8)"),
		serverKey: fs.String("server-key", "", "server_dh_key from the registration answer (base64url)"),
		nonce:     fs.String("nonce", "", "the push's nonce (base64url)"),
		sealed:    fs.String(field, "", "the push's "+field+" field (base64url)"),
		field:     field,
	}
}

// keys reads the app's private key and parses the server's public key.
func (p *pushFlags) keys() ([32]byte, ntf.DHKey, error) {
	key, err := readAppKey(*p.keyFile)
	if err != nil {
		return [32]byte{}, ntf.DHKey{}, err
	}
	server, err := ntf.ParseDHKey(*p.serverKey)
	if err != nil {
		return [32]byte{}, ntf.DHKey{}, fmt.Errorf("--server-key: %w", err)
	}
	return [32]byte(key.Bytes()), server, nil
}

// data is the push's custom data as the app receives it.
func (p *pushFlags) data() map[string]string {
	return map[string]string{ntf.DataNonce: *p.nonce, p.field: *p.sealed}
}

// readAppKey reads an X25519 private key from a PEM file.
func readAppKey(path string) (*ecdh.PrivateKey, error) {
	if path == "" {
		return nil, errors.New("--app-key is required (make one with: openssl genpkey -algorithm X25519 -out app.pem)")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("%s: no PEM block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	x, ok := k.(*ecdh.PrivateKey)
	if !ok || x.Curve() != ecdh.X25519() {
		return nil, fmt.Errorf("%s: not an X25519 private key", path)
	}
	return x, nil
}
