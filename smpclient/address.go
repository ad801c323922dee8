package smpclient

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Server address grammar (§1.1):
//
//	smpServer = "smp://" keyHash [":" basicAuth] "@" host *("," host) [":" port]
//	keyHash   = base64url(32 bytes), with or without "=" padding
//	host      = ipv4 / "[" ipv6 "]" / ipv6 / onion / domain
//
// Binary form (inside NTF SNEW): NonEmpty shortString(host),
// shortString(port text, may be empty), shortString(keyHash).
const (
	// DefaultPort is used when the address has none. The reference
	// notification server always uses it (never 443) for portless addresses.
	DefaultPort = "5223"
	// KeyHashSize is the size of a server key hash (SHA-256).
	KeyHashSize = sha256.Size

	addressScheme = "smp://"
	// maxAddressLen bounds what ParseServerAddress reads.
	maxAddressLen = 4096
)

// ErrBadAddress is wrapped by ParseServerAddress failures.
var ErrBadAddress = errors.New("smp: bad server address")

// KeyHash is SHA-256 of the DER of the server's identity certificate
// (chain[1], §1.2).
type KeyHash [KeyHashSize]byte

// KeyHashOf returns the key hash of a DER certificate.
func KeyHashOf(certDER []byte) KeyHash { return sha256.Sum256(certDER) }

// ParseKeyHash decodes base64url with or without padding.
func ParseKeyHash(s string) (KeyHash, error) {
	var kh KeyHash
	b, err := decodeB64URL(s)
	if err != nil {
		return kh, fmt.Errorf("%w: key hash: %v", ErrBadAddress, err)
	}
	if len(b) != KeyHashSize {
		return kh, fmt.Errorf("%w: key hash is %d bytes, want %d", ErrBadAddress, len(b), KeyHashSize)
	}
	copy(kh[:], b)
	return kh, nil
}

// String returns the padded base64url form used in addresses.
func (kh KeyHash) String() string { return base64.URLEncoding.EncodeToString(kh[:]) }

// EncodeB64URL is the text form of byte strings (base64url with padding).
func EncodeB64URL(b []byte) string { return base64.URLEncoding.EncodeToString(b) }

// decodeB64URL accepts base64url with or without "=" padding.
func decodeB64URL(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

// DecodeB64URL decodes base64url with or without padding.
func DecodeB64URL(s string) ([]byte, error) { return decodeB64URL(s) }

// ServerAddress is a parsed smp:// address. The zero value is invalid.
type ServerAddress struct {
	KeyHash KeyHash
	// Hosts are alternative addresses of one server, in the order given.
	Hosts []string
	// Port is the port text as given; "" means DefaultPort.
	Port string
	// BasicAuth is the queue-creation password, unused by notifiers.
	BasicAuth string
}

// ParseServerAddress parses smp://keyhash[:auth]@host[,host2][:port].
// Errors wrap ErrBadAddress.
func ParseServerAddress(s string) (ServerAddress, error) {
	var a ServerAddress
	if len(s) > maxAddressLen {
		return a, fmt.Errorf("%w: longer than %d bytes", ErrBadAddress, maxAddressLen)
	}
	rest, ok := strings.CutPrefix(s, addressScheme)
	if !ok {
		return a, fmt.Errorf("%w: %q does not start with %s", ErrBadAddress, s, addressScheme)
	}
	cred, hostport, ok := strings.Cut(rest, "@")
	if !ok {
		return a, fmt.Errorf("%w: missing @ after the key hash", ErrBadAddress)
	}
	khText, auth, hasAuth := strings.Cut(cred, ":")
	kh, err := ParseKeyHash(khText)
	if err != nil {
		return a, err
	}
	if hasAuth {
		if auth == "" || strings.ContainsAny(auth, " @:/") {
			return a, fmt.Errorf("%w: bad basic auth", ErrBadAddress)
		}
		a.BasicAuth = auth
	}
	a.KeyHash = kh
	hosts, port, err := splitHostsPort(hostport)
	if err != nil {
		return ServerAddress{}, err
	}
	a.Hosts, a.Port = hosts, port
	return a, nil
}

// splitHostsPort splits "h1,h2:port". A bracketed or bare IPv6 host
// contains colons, so the port is only the text after the last colon when
// that colon follows "]" or the last host has exactly one colon.
func splitHostsPort(s string) ([]string, string, error) {
	if s == "" {
		return nil, "", fmt.Errorf("%w: no host", ErrBadAddress)
	}
	parts := strings.Split(s, ",")
	last := parts[len(parts)-1]
	var port string
	if i := strings.LastIndexByte(last, ':'); i >= 0 {
		bracketed := strings.HasPrefix(last, "[")
		if (bracketed && i > 0 && last[i-1] == ']') || (!bracketed && strings.Count(last, ":") == 1) {
			port = last[i+1:]
			parts[len(parts)-1] = last[:i]
			if _, err := strconv.ParseUint(port, 10, 16); err != nil || port == "" {
				return nil, "", fmt.Errorf("%w: bad port %q", ErrBadAddress, port)
			}
		}
	}
	for i, h := range parts {
		if err := checkHost(h); err != nil {
			return nil, "", err
		}
		parts[i] = h
	}
	return parts, port, nil
}

func checkHost(h string) error {
	if h == "" {
		return fmt.Errorf("%w: empty host", ErrBadAddress)
	}
	if inner, ok := strings.CutPrefix(h, "["); ok {
		inner, ok = strings.CutSuffix(inner, "]")
		if !ok || net.ParseIP(inner) == nil {
			return fmt.Errorf("%w: bad IPv6 host %q", ErrBadAddress, h)
		}
		return nil
	}
	if strings.ContainsAny(h, " /@?#[]") || len(h) > MaxShortString {
		return fmt.Errorf("%w: bad host %q", ErrBadAddress, h)
	}
	if strings.Contains(h, ":") && net.ParseIP(h) == nil {
		return fmt.Errorf("%w: bad host %q", ErrBadAddress, h)
	}
	return nil
}

// String prints the address in the form ParseServerAddress reads, with a
// padded key hash. The port is printed only if one was given.
func (a ServerAddress) String() string {
	var b strings.Builder
	b.WriteString(addressScheme)
	b.WriteString(a.KeyHash.String())
	if a.BasicAuth != "" {
		b.WriteString(":" + a.BasicAuth)
	}
	b.WriteString("@")
	b.WriteString(strings.Join(a.Hosts, ","))
	if a.Port != "" {
		b.WriteString(":" + a.Port)
	}
	return b.String()
}

// PortOrDefault returns Port, or DefaultPort if none was given.
func (a ServerAddress) PortOrDefault() string {
	if a.Port == "" {
		return DefaultPort
	}
	return a.Port
}

// DialHost returns the host the client connects to: the first host that is
// not a .onion address, or the first host if all are onion addresses.
func (a ServerAddress) DialHost() string {
	for _, h := range a.Hosts {
		if !strings.HasSuffix(strings.ToLower(h), ".onion") {
			return h
		}
	}
	if len(a.Hosts) == 0 {
		return ""
	}
	return a.Hosts[0]
}

// DialAddr returns host:port for net.Dial.
func (a ServerAddress) DialAddr() string {
	h := strings.TrimSuffix(strings.TrimPrefix(a.DialHost(), "["), "]")
	return net.JoinHostPort(h, a.PortOrDefault())
}

// AppendBinary appends the binary form used inside NTF SNEW:
// NonEmpty shortString(host), shortString(port), shortString(keyHash).
func (a ServerAddress) AppendBinary(dst []byte) ([]byte, error) {
	if len(a.Hosts) == 0 || len(a.Hosts) > 255 {
		return dst, fmt.Errorf("%w: %d hosts", ErrBadAddress, len(a.Hosts))
	}
	dst = append(dst, byte(len(a.Hosts)))
	for _, h := range a.Hosts {
		if err := checkShort([]byte(h), "host"); err != nil {
			return dst, err
		}
		dst = appendShort(dst, []byte(h))
	}
	dst = appendShort(dst, []byte(a.Port))
	return appendShort(dst, a.KeyHash[:]), nil
}

// QueueAddress returns smpServer "/" base64url(queueID), the form used in
// push payloads (§6.7).
func (a ServerAddress) QueueAddress(queueID []byte) string {
	return a.String() + "/" + EncodeB64URL(queueID)
}
