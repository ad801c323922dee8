package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/trystgw/tryst/smpclient"
)

// Defaults of "tryst smp probe".
const (
	// defaultProbeTimeout bounds connecting, the handshake and the ping
	// (the reference notifier allows 45 s to connect; an operator waits less).
	defaultProbeTimeout = 15 * time.Second
	// probeSubscribeTimeout bounds the NSUB answer (reference: 30 s background).
	probeSubscribeTimeout = 30 * time.Second
)

const smpUsage = "usage: tryst smp probe <smp-address> [--notifier-id ID --notifier-key KEY] [--wait DURATION] [--timeout DURATION] [--json]"

// runSMP runs the "tryst smp" operator commands. args are those after "smp".
func runSMP(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New(smpUsage)
	}
	switch args[0] {
	case "probe":
		return runSMPProbe(ctx, args[1:], stdout)
	}
	return fmt.Errorf("smp: unknown subcommand %q; %s", args[0], smpUsage)
}

// probeOptions are the parsed arguments of "tryst smp probe".
type probeOptions struct {
	addr       smpclient.ServerAddress
	notifierID []byte
	key        *smpclient.PrivateKey
	wait       time.Duration
	timeout    time.Duration
	json       bool
}

// parseProbeArgs accepts flags before and after the address; done is true
// when --help was answered.
func parseProbeArgs(args []string, stdout io.Writer) (o probeOptions, done bool, err error) {
	var id, key string
	fs := newCommandFlags("tryst smp probe", "<smp-address> [flags]\n\n"+
		"Connects to an SMP server as the notification server does (TLS, key-hash\n"+
		"pinning, handshake), reports what it found and pings; with a notifier id\n"+
		"and key it also subscribes that queue and prints its events.\n"+
		"<smp-address> is smp://<keyhash>@host[:port]", stdout)
	fs.StringVar(&id, "notifier-id", "", "notifier id (base64url) of a queue to subscribe")
	fs.StringVar(&key, "notifier-key", "", "notifier private key (base64url of PKCS#8 DER: Ed25519, Ed448 or X25519)")
	fs.DurationVar(&o.wait, "wait", 0, "after subscribing, print events for this long")
	fs.DurationVar(&o.timeout, "timeout", defaultProbeTimeout, "time limit for connecting, handshake and ping")
	fs.BoolVar(&o.json, "json", false, "print the report as one JSON object")
	positional, done, err := fs.parseMixed(args)
	if done || err != nil {
		return o, done, err
	}
	if len(positional) != 1 {
		return o, true, errors.New(smpUsage)
	}
	addr, err := smpclient.ParseServerAddress(positional[0])
	if err != nil {
		return o, true, fmt.Errorf("smp probe: bad address: %v", trimSMP(err))
	}
	o.addr = addr
	if (id == "") != (key == "") {
		return o, true, errors.New("smp probe: --notifier-id and --notifier-key go together")
	}
	if id != "" {
		if o.notifierID, err = smpclient.DecodeB64URL(id); err != nil || len(o.notifierID) == 0 {
			return o, true, fmt.Errorf("smp probe: --notifier-id is not base64url")
		}
		der, err := smpclient.DecodeB64URL(key)
		if err != nil {
			return o, true, fmt.Errorf("smp probe: --notifier-key is not base64url")
		}
		if o.key, err = smpclient.ParsePrivateKey(der); err != nil {
			return o, true, fmt.Errorf("smp probe: --notifier-key: %v", trimSMP(err))
		}
	}
	if o.wait < 0 || o.timeout <= 0 {
		return o, true, errors.New("smp probe: --wait and --timeout must be positive durations")
	}
	return o, false, nil
}

// probeReport is what the probe found; it is also the --json output.
type probeReport struct {
	Server        string      `json:"server"`
	RemoteAddr    string      `json:"remote_addr"`
	TLS           string      `json:"tls_implementation"`
	TLSVersion    string      `json:"tls_version"`
	CipherSuite   string      `json:"cipher_suite"`
	ALPN          string      `json:"alpn"`
	SMPVersion    uint16      `json:"smp_version"`
	ServerVersion string      `json:"server_versions"`
	ClientVersion string      `json:"client_versions"`
	Certificates  []probeCert `json:"certificates"`
	KeyHash       string      `json:"key_hash"`
	KeyHashMatch  bool        `json:"key_hash_match"`
	ChainValid    bool        `json:"chain_validated"`
	PingRTT       string      `json:"ping_rtt"`
	PingRTTMicros int64       `json:"ping_rtt_us"`
}

type probeCert struct {
	Role     string `json:"role"`
	KeyType  string `json:"key_type"`
	Subject  string `json:"subject"`
	SHA256   string `json:"sha256"`
	NotAfter string `json:"not_after"`
}

// probeEvent is one JSON line per event.
type probeEvent struct {
	Event      string `json:"event"`
	NotifierID string `json:"notifier_id,omitempty"`
	Nonce      string `json:"nonce,omitempty"`
	Meta       string `json:"meta,omitempty"`
	Error      string `json:"error,omitempty"`
	Count      *int64 `json:"count,omitempty"`
	Received   string `json:"received"`
}

// runSMPProbe connects, reports, pings and optionally subscribes one queue
// and prints its events until --wait runs out or ctx is cancelled.
func runSMPProbe(ctx context.Context, args []string, stdout io.Writer) error {
	o, done, err := parseProbeArgs(args, stdout)
	if done || err != nil {
		return err
	}
	dialCtx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	c, err := smpclient.Dial(dialCtx, o.addr, smpclient.Config{})
	if err != nil {
		return probeFailure(o.addr, err)
	}
	defer c.Close()
	rtt, err := c.Ping(dialCtx)
	if err != nil {
		return fmt.Errorf("smp probe: ping: %v", trimSMP(err))
	}
	rep := newProbeReport(c.Info(), rtt)
	if err := writeReport(stdout, rep, o.json); err != nil {
		return err
	}
	if o.key == nil {
		return nil
	}
	return probeSubscribe(ctx, c, o, stdout)
}

func probeSubscribe(ctx context.Context, c *smpclient.Client, o probeOptions, stdout io.Writer) error {
	subCtx, cancel := context.WithTimeout(ctx, probeSubscribeTimeout)
	res := c.Subscribe(subCtx, []smpclient.Queue{{NotifierID: o.notifierID, Key: o.key}})
	cancel()
	id := smpclient.EncodeB64URL(o.notifierID)
	if err := res[0].Err; err != nil {
		if errors.Is(err, smpclient.ErrAuth) {
			return fmt.Errorf("smp probe: subscribe %s: server answered ERR AUTH (unknown notifier id, deleted queue or wrong notifier key)", id)
		}
		return fmt.Errorf("smp probe: subscribe %s: %v", id, trimSMP(err))
	}
	if !o.json {
		fmt.Fprintf(stdout, "%-13s%s (%s)\n", "subscribed", id, map[bool]string{true: "SOK", false: "OK"}[c.Version() >= 16])
	}
	if o.wait == 0 {
		return nil
	}
	timer := time.NewTimer(o.wait)
	defer timer.Stop()
	enc := json.NewEncoder(stdout)
	for {
		select {
		case <-timer.C:
			return nil
		case <-ctx.Done():
			return nil // interrupted by the operator: the probe itself succeeded
		case ev, ok := <-c.Events():
			if !ok {
				return fmt.Errorf("smp probe: connection lost while waiting for events: %v", trimSMP(c.Err()))
			}
			if err := enc.Encode(toProbeEvent(ev)); err != nil {
				return err
			}
		}
	}
}

func toProbeEvent(ev smpclient.Event) probeEvent {
	pe := probeEvent{NotifierID: smpclient.EncodeB64URL(ev.NotifierID), Received: ev.Received.UTC().Format(time.RFC3339Nano)}
	switch m := ev.Msg.(type) {
	case smpclient.NMSG:
		pe.Event, pe.Nonce, pe.Meta = "NMSG", smpclient.EncodeB64URL(m.Nonce[:]), smpclient.EncodeB64URL(m.EncMeta)
	case smpclient.END:
		pe.Event = "END"
	case smpclient.DELD:
		pe.Event = "DELD"
	case smpclient.ENDS:
		pe.Event, pe.Count, pe.NotifierID = "ENDS", &m.Count, ""
	case smpclient.ERR:
		pe.Event, pe.Error = "ERR", m.Err.Wire()
	default:
		pe.Event = fmt.Sprintf("%T", m)
	}
	return pe
}

func newProbeReport(info smpclient.ConnInfo, rtt time.Duration) probeReport {
	rep := probeReport{
		Server:        info.Server.String(),
		RemoteAddr:    info.RemoteAddr,
		TLS:           string(info.TLS),
		TLSVersion:    tls.VersionName(info.TLSVersion),
		CipherSuite:   tls.CipherSuiteName(info.CipherSuite),
		ALPN:          info.ALPN,
		SMPVersion:    info.Version,
		ServerVersion: fmt.Sprintf("%d..%d", info.ServerMin, info.ServerMax),
		ClientVersion: fmt.Sprintf("%d..%d", smpclient.MinVersion, smpclient.MaxVersion),
		KeyHash:       info.Server.KeyHash.String(),
		KeyHashMatch:  info.Chain.KeyHashMatch,
		ChainValid:    info.Chain.PathValidated,
		PingRTT:       rtt.Round(time.Microsecond).String(),
		PingRTTMicros: rtt.Microseconds(),
	}
	for _, c := range info.Chain.Certs {
		rep.Certificates = append(rep.Certificates, probeCert{
			Role: c.Role, KeyType: c.KeyType, Subject: c.Subject,
			SHA256: c.SHA256.String(), NotAfter: c.NotAfter.UTC().Format(time.DateOnly),
		})
	}
	return rep
}

func writeReport(w io.Writer, rep probeReport, asJSON bool) error {
	if asJSON {
		return json.NewEncoder(w).Encode(rep)
	}
	alpn := rep.ALPN
	if alpn == "" {
		alpn = "none"
	}
	match := "MISMATCH"
	if rep.KeyHashMatch {
		match = "matches the identity certificate"
	}
	chain := "not validated"
	if rep.ChainValid {
		chain = "validated (signatures, validity, CA flags; no host name check)"
	}
	var b strings.Builder
	line := func(k, format string, a ...any) { fmt.Fprintf(&b, "%-13s"+format+"\n", append([]any{k}, a...)...) }
	line("server", "%s", rep.Server)
	line("connected", "%s", rep.RemoteAddr)
	line("tls", "%s, %s, ALPN %s (%s)", rep.TLSVersion, rep.CipherSuite, alpn, rep.TLS)
	line("smp version", "%d (server offers %s, client supports %s)", rep.SMPVersion, rep.ServerVersion, rep.ClientVersion)
	line("certificates", "%d", len(rep.Certificates))
	for i, c := range rep.Certificates {
		fmt.Fprintf(&b, "  [%d] %-9s %-8s %s  sha256 %s  expires %s\n", i, c.Role, c.KeyType, c.Subject, c.SHA256, c.NotAfter)
	}
	line("key hash", "%s %s", rep.KeyHash, match)
	line("chain", "%s", chain)
	line("ping", "%s", rep.PingRTT)
	_, err := io.WriteString(w, b.String())
	return err
}

// probeFailure turns a Dial error into the one line the operator sees.
func probeFailure(addr smpclient.ServerAddress, err error) error {
	var (
		de  *smpclient.DialError
		te  *smpclient.TLSError
		khe *smpclient.KeyHashError
		ve  *smpclient.VersionError
		he  *smpclient.HandshakeError
	)
	var what string
	switch {
	case errors.As(err, &de):
		what = "unreachable"
	case errors.As(err, &khe):
		what = "key hash mismatch"
		err = fmt.Errorf("identity certificate hashes to %s, address has %s", khe.Got, khe.Want)
	case errors.As(err, &te):
		what = "TLS refused"
	case errors.As(err, &ve):
		what = "version mismatch"
	case errors.As(err, &he):
		what = "handshake failed"
	default:
		what = "failed"
	}
	detail := strings.TrimPrefix(oneLine(trimSMP(err)), what+": ")
	return fmt.Errorf("smp probe %s: %s: %s", addr.DialAddr(), what, detail)
}

// trimSMP drops the package prefix of smpclient errors for display.
func trimSMP(err error) string {
	if err == nil {
		return "<nil>"
	}
	return strings.TrimPrefix(strings.TrimPrefix(err.Error(), "smp: "), "smp: ")
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
