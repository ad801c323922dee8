package mls

// Basic structures: protocol version, extensions, credentials, capabilities,
// lifetimes (RFC 9420 sections 5.3, 7.2, 13).

import "slices"

// ProtocolVersion of MLS. Only mls10 exists.
type ProtocolVersion uint16

// ProtocolVersionMLS10 is MLS 1.0.
const ProtocolVersionMLS10 ProtocolVersion = 1

// ExtensionType identifies an extension.
type ExtensionType uint16

// Extension types of RFC 9420 section 17.3.
const (
	ExtensionApplicationID        ExtensionType = 1
	ExtensionRatchetTree          ExtensionType = 2
	ExtensionRequiredCapabilities ExtensionType = 3
	ExtensionExternalPub          ExtensionType = 4
	ExtensionExternalSenders      ExtensionType = 5
)

// isDefault reports whether the extension type is one every client supports
// and need not list in its capabilities (RFC 9420 section 7.2).
func (t ExtensionType) isDefault() bool { return t >= 1 && t <= 5 }

// Extension is an extension with its data kept opaque.
type Extension struct {
	Type ExtensionType
	Data []byte
}

func (e *Extension) encode(w *writer) {
	w.u16(uint16(e.Type))
	w.opaque(e.Data)
}

func (e *Extension) decode(r *reader) {
	e.Type = ExtensionType(r.u16())
	e.Data = r.opaque()
}

func encodeExtensions(w *writer, exts []Extension) {
	w.vector(func(w *writer) {
		for i := range exts {
			exts[i].encode(w)
		}
	})
}

// decodeExtensions reads Extension extensions<V> and rejects duplicates
// (RFC 9420 section 13.4: each extension type appears at most once).
func decodeExtensions(r *reader) []Extension {
	var exts []Extension
	r.each(func(r *reader) {
		var e Extension
		e.decode(r)
		if r.err == nil {
			for _, o := range exts {
				if o.Type == e.Type {
					r.fail("duplicate extension type %d", e.Type)
					return
				}
			}
		}
		exts = append(exts, e)
	})
	return exts
}

// findExtension returns the extension of type t, or nil.
func findExtension(exts []Extension, t ExtensionType) *Extension {
	for i := range exts {
		if exts[i].Type == t {
			return &exts[i]
		}
	}
	return nil
}

// CredentialType identifies a credential format.
type CredentialType uint16

// Credential types of RFC 9420 section 17.5.
const (
	CredentialBasic CredentialType = 1
	CredentialX509  CredentialType = 2
)

// Credential is a basic or X.509 credential. The credential is carried but
// not interpreted: authenticating identities is the application's job.
type Credential struct {
	Type         CredentialType
	Identity     []byte   // basic
	Certificates [][]byte // x509, leaf first
}

func (c *Credential) encode(w *writer) {
	w.u16(uint16(c.Type))
	switch c.Type {
	case CredentialBasic:
		w.opaque(c.Identity)
	case CredentialX509:
		w.vector(func(w *writer) {
			for _, cert := range c.Certificates {
				w.opaque(cert)
			}
		})
	}
}

func (c *Credential) decode(r *reader) {
	c.Type = CredentialType(r.u16())
	switch c.Type {
	case CredentialBasic:
		c.Identity = r.opaque()
	case CredentialX509:
		r.each(func(r *reader) {
			c.Certificates = append(c.Certificates, r.opaque())
		})
	default:
		if r.err == nil {
			// A Credential has no length prefix, so an unknown type
			// cannot be skipped.
			r.failErr(errorf(ErrUnsupported, "decode Credential", "credential type %d", c.Type))
		}
	}
}

// ProposalType identifies a proposal.
type ProposalType uint16

// Proposal types of RFC 9420 section 17.4.
const (
	ProposalAdd                    ProposalType = 1
	ProposalUpdate                 ProposalType = 2
	ProposalRemove                 ProposalType = 3
	ProposalPSK                    ProposalType = 4
	ProposalReInit                 ProposalType = 5
	ProposalExternalInit           ProposalType = 6
	ProposalGroupContextExtensions ProposalType = 7
)

func (t ProposalType) isDefault() bool { return t >= 1 && t <= 7 }

// Capabilities of a client (RFC 9420 section 7.2).
type Capabilities struct {
	Versions     []ProtocolVersion
	CipherSuites []CipherSuite
	Extensions   []ExtensionType
	Proposals    []ProposalType
	Credentials  []CredentialType
}

func encodeU16s[T ~uint16](w *writer, v []T) {
	w.varint(2 * len(v))
	for _, x := range v {
		w.u16(uint16(x))
	}
}

func decodeU16s[T ~uint16](r *reader) []T {
	b := r.opaque()
	if r.err != nil {
		return nil
	}
	if len(b)%2 != 0 {
		r.fail("uint16 vector of odd length")
		return nil
	}
	out := make([]T, len(b)/2)
	for i := range out {
		out[i] = T(uint16(b[2*i])<<8 | uint16(b[2*i+1]))
	}
	return out
}

func (c *Capabilities) encode(w *writer) {
	encodeU16s(w, c.Versions)
	encodeU16s(w, c.CipherSuites)
	encodeU16s(w, c.Extensions)
	encodeU16s(w, c.Proposals)
	encodeU16s(w, c.Credentials)
}

func (c *Capabilities) decode(r *reader) {
	c.Versions = decodeU16s[ProtocolVersion](r)
	c.CipherSuites = decodeU16s[CipherSuite](r)
	c.Extensions = decodeU16s[ExtensionType](r)
	c.Proposals = decodeU16s[ProposalType](r)
	c.Credentials = decodeU16s[CredentialType](r)
}

func (c *Capabilities) supportsExtension(t ExtensionType) bool {
	return t.isDefault() || slices.Contains(c.Extensions, t)
}

func (c *Capabilities) supportsProposal(t ProposalType) bool {
	return t.isDefault() || slices.Contains(c.Proposals, t)
}

func (c *Capabilities) supportsCredential(t CredentialType) bool {
	return slices.Contains(c.Credentials, t)
}

// Lifetime of a KeyPackage's leaf node, in seconds since the Unix epoch.
type Lifetime struct {
	NotBefore uint64
	NotAfter  uint64
}

// RequiredCapabilities is the content of the required_capabilities
// extension.
type RequiredCapabilities struct {
	Extensions  []ExtensionType
	Proposals   []ProposalType
	Credentials []CredentialType
}

// ParseRequiredCapabilities decodes a required_capabilities extension body.
func ParseRequiredCapabilities(data []byte) (*RequiredCapabilities, error) {
	r := newReader(data)
	rc := &RequiredCapabilities{
		Extensions:  decodeU16s[ExtensionType](r),
		Proposals:   decodeU16s[ProposalType](r),
		Credentials: decodeU16s[CredentialType](r),
	}
	if err := r.finish(); err != nil {
		return nil, wrap(ErrMalformed, "decode RequiredCapabilities", err)
	}
	return rc, nil
}

// ExternalSender is an entry of the external_senders extension.
type ExternalSender struct {
	SignatureKey []byte
	Credential   Credential
}

// ParseExternalSenders decodes an external_senders extension body.
func ParseExternalSenders(data []byte) ([]ExternalSender, error) {
	r := newReader(data)
	var out []ExternalSender
	r.each(func(r *reader) {
		var s ExternalSender
		s.SignatureKey = r.opaque()
		s.Credential.decode(r)
		out = append(out, s)
	})
	if err := r.finish(); err != nil {
		return nil, wrap(ErrMalformed, "decode ExternalSenders", err)
	}
	return out, nil
}

// Marshal encodes one ExternalSender: an element of the
// external_senders extension's list.
func (s ExternalSender) Marshal() []byte {
	var w writer
	w.opaque(s.SignatureKey)
	s.Credential.encode(&w)
	return w.buf
}

// EncodeExternalSenders encodes an external_senders extension body.
func EncodeExternalSenders(s []ExternalSender) []byte {
	var w writer
	w.vector(func(w *writer) {
		for i := range s {
			w.opaque(s[i].SignatureKey)
			s[i].Credential.encode(w)
		}
	})
	return w.buf
}
