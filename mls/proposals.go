package mls

// Proposals and Commit (RFC 9420 sections 12.1, 12.4).

// PSKType distinguishes external and resumption PSKs.
type PSKType uint8

// PSK types.
const (
	PSKExternal   PSKType = 1
	PSKResumption PSKType = 2
)

// ResumptionPSKUsage of a resumption PSK.
type ResumptionPSKUsage uint8

// Resumption PSK usages.
const (
	ResumptionApplication ResumptionPSKUsage = 1
	ResumptionReInit      ResumptionPSKUsage = 2
	ResumptionBranch      ResumptionPSKUsage = 3
)

// PreSharedKeyID identifies a PSK.
type PreSharedKeyID struct {
	Type       PSKType
	PSKID      []byte             // external
	Usage      ResumptionPSKUsage // resumption
	PSKGroupID []byte             // resumption
	PSKEpoch   uint64             // resumption
	Nonce      []byte
}

func (p *PreSharedKeyID) encode(w *writer) {
	w.u8(uint8(p.Type))
	switch p.Type {
	case PSKExternal:
		w.opaque(p.PSKID)
	case PSKResumption:
		w.u8(uint8(p.Usage))
		w.opaque(p.PSKGroupID)
		w.u64(p.PSKEpoch)
	}
	w.opaque(p.Nonce)
}

func (p *PreSharedKeyID) decode(r *reader) {
	p.Type = PSKType(r.u8())
	switch p.Type {
	case PSKExternal:
		p.PSKID = r.opaque()
	case PSKResumption:
		p.Usage = ResumptionPSKUsage(r.u8())
		if r.err == nil && (p.Usage < 1 || p.Usage > 3) {
			r.fail("invalid resumption PSK usage %d", p.Usage)
		}
		p.PSKGroupID = r.opaque()
		p.PSKEpoch = r.u64()
	default:
		r.fail("invalid PSK type %d", p.Type)
	}
	p.Nonce = r.opaque()
}

// Marshal returns the encoding.
func (p *PreSharedKeyID) Marshal() []byte { return marshal(p) }

// ReInit proposal body.
type ReInit struct {
	GroupID     []byte
	Version     ProtocolVersion
	CipherSuite CipherSuite
	Extensions  []Extension
}

// Proposal is a proposal of any type. Exactly the fields of its Type are
// set. Proposals of unknown types keep their body opaque in Data; their body
// is read as opaque<V> (the convention of MLS extension proposals, since RFC
// 9420 gives Proposal no generic length).
type Proposal struct {
	Type ProposalType

	KeyPackage *KeyPackage     // add
	LeafNode   *LeafNode       // update
	Removed    uint32          // remove
	PSK        *PreSharedKeyID // psk
	ReInit     *ReInit         // reinit
	KEMOutput  []byte          // external_init
	Extensions []Extension     // group_context_extensions
	Data       []byte          // unknown types
}

func (p *Proposal) encodeBody(w *writer) {
	switch p.Type {
	case ProposalAdd:
		p.KeyPackage.encode(w)
	case ProposalUpdate:
		p.LeafNode.encode(w)
	case ProposalRemove:
		w.u32(p.Removed)
	case ProposalPSK:
		p.PSK.encode(w)
	case ProposalReInit:
		w.opaque(p.ReInit.GroupID)
		w.u16(uint16(p.ReInit.Version))
		w.u16(uint16(p.ReInit.CipherSuite))
		encodeExtensions(w, p.ReInit.Extensions)
	case ProposalExternalInit:
		w.opaque(p.KEMOutput)
	case ProposalGroupContextExtensions:
		encodeExtensions(w, p.Extensions)
	default:
		w.opaque(p.Data)
	}
}

func (p *Proposal) decodeBody(r *reader) {
	switch p.Type {
	case ProposalAdd:
		p.KeyPackage = new(KeyPackage)
		p.KeyPackage.decode(r)
	case ProposalUpdate:
		p.LeafNode = new(LeafNode)
		p.LeafNode.decode(r)
	case ProposalRemove:
		p.Removed = r.u32()
	case ProposalPSK:
		p.PSK = new(PreSharedKeyID)
		p.PSK.decode(r)
	case ProposalReInit:
		p.ReInit = &ReInit{
			GroupID:     r.opaque(),
			Version:     ProtocolVersion(r.u16()),
			CipherSuite: CipherSuite(r.u16()),
			Extensions:  decodeExtensions(r),
		}
	case ProposalExternalInit:
		p.KEMOutput = r.opaque()
	case ProposalGroupContextExtensions:
		p.Extensions = decodeExtensions(r)
		if p.Extensions == nil {
			p.Extensions = []Extension{}
		}
	default:
		p.Data = r.opaque()
	}
}

func (p *Proposal) encode(w *writer) {
	w.u16(uint16(p.Type))
	p.encodeBody(w)
}

func (p *Proposal) decode(r *reader) {
	p.Type = ProposalType(r.u16())
	if r.err == nil && p.Type == 0 {
		r.fail("reserved proposal type 0")
	}
	p.decodeBody(r)
}

// Marshal returns the encoding of the Proposal (type and body).
func (p *Proposal) Marshal() []byte { return marshal(p) }

// MarshalBody returns the encoding of the proposal body alone (Add, Update,
// Remove, ... structs of RFC 9420 section 12.1).
func (p *Proposal) MarshalBody() []byte {
	var w writer
	p.encodeBody(&w)
	return w.buf
}

// DecodeProposal decodes a Proposal (type and body).
func DecodeProposal(b []byte) (*Proposal, error) {
	p := new(Proposal)
	if err := decodeAll(b, p.decode); err != nil {
		return nil, wrap(ErrMalformed, "decode Proposal", err)
	}
	return p, nil
}

// DecodeProposalBody decodes the body of a proposal of type t.
func DecodeProposalBody(t ProposalType, b []byte) (*Proposal, error) {
	p := &Proposal{Type: t}
	if err := decodeAll(b, p.decodeBody); err != nil {
		return nil, wrap(ErrMalformed, "decode proposal body", err)
	}
	return p, nil
}

// ProposalOrRefType distinguishes inline proposals from references.
type ProposalOrRefType uint8

// ProposalOrRef types.
const (
	ProposalOrRefProposal  ProposalOrRefType = 1
	ProposalOrRefReference ProposalOrRefType = 2
)

// ProposalOrRef is an entry of a Commit: an inline proposal or a reference
// (ProposalRef) to a proposal sent earlier in the epoch.
type ProposalOrRef struct {
	Proposal  *Proposal
	Reference []byte
}

// Commit is the content of a commit message.
type Commit struct {
	Proposals []ProposalOrRef
	Path      *UpdatePath
}

func (c *Commit) encode(w *writer) {
	w.vector(func(w *writer) {
		for _, p := range c.Proposals {
			if p.Proposal != nil {
				w.u8(uint8(ProposalOrRefProposal))
				p.Proposal.encode(w)
			} else {
				w.u8(uint8(ProposalOrRefReference))
				w.opaque(p.Reference)
			}
		}
	})
	w.optional(c.Path != nil)
	if c.Path != nil {
		c.Path.encode(w)
	}
}

func (c *Commit) decode(r *reader) {
	r.each(func(r *reader) {
		var por ProposalOrRef
		switch ProposalOrRefType(r.u8()) {
		case ProposalOrRefProposal:
			por.Proposal = new(Proposal)
			por.Proposal.decode(r)
		case ProposalOrRefReference:
			por.Reference = r.opaque()
			if por.Reference == nil {
				por.Reference = []byte{}
			}
		default:
			r.fail("invalid ProposalOrRef type")
		}
		c.Proposals = append(c.Proposals, por)
	})
	if r.optional() {
		c.Path = new(UpdatePath)
		c.Path.decode(r)
	}
}

// Marshal returns the encoding of the Commit.
func (c *Commit) Marshal() []byte { return marshal(c) }

// DecodeCommit decodes a Commit.
func DecodeCommit(b []byte) (*Commit, error) {
	c := new(Commit)
	if err := decodeAll(b, c.decode); err != nil {
		return nil, wrap(ErrMalformed, "decode Commit", err)
	}
	return c, nil
}

// HPKECiphertext is an HPKE encapsulation and ciphertext.
type HPKECiphertext struct {
	KEMOutput  []byte
	Ciphertext []byte
}

func (c *HPKECiphertext) encode(w *writer) {
	w.opaque(c.KEMOutput)
	w.opaque(c.Ciphertext)
}

func (c *HPKECiphertext) decode(r *reader) {
	c.KEMOutput = r.opaque()
	c.Ciphertext = r.opaque()
}

// UpdatePathNode is one node of an UpdatePath.
type UpdatePathNode struct {
	EncryptionKey       []byte
	EncryptedPathSecret []HPKECiphertext
}

// UpdatePath is the committer's new leaf and path keys.
type UpdatePath struct {
	LeafNode LeafNode
	Nodes    []UpdatePathNode
}

func (u *UpdatePath) encode(w *writer) {
	u.LeafNode.encode(w)
	w.vector(func(w *writer) {
		for i := range u.Nodes {
			w.opaque(u.Nodes[i].EncryptionKey)
			w.vector(func(w *writer) {
				for j := range u.Nodes[i].EncryptedPathSecret {
					u.Nodes[i].EncryptedPathSecret[j].encode(w)
				}
			})
		}
	})
}

func (u *UpdatePath) decode(r *reader) {
	u.LeafNode.decode(r)
	r.each(func(r *reader) {
		var n UpdatePathNode
		n.EncryptionKey = r.opaque()
		r.each(func(r *reader) {
			var c HPKECiphertext
			c.decode(r)
			n.EncryptedPathSecret = append(n.EncryptedPathSecret, c)
		})
		u.Nodes = append(u.Nodes, n)
	})
}

// Marshal returns the encoding of the UpdatePath.
func (u *UpdatePath) Marshal() []byte { return marshal(u) }

// DecodeUpdatePath decodes an UpdatePath.
func DecodeUpdatePath(b []byte) (*UpdatePath, error) {
	u := new(UpdatePath)
	if err := decodeAll(b, u.decode); err != nil {
		return nil, wrap(ErrMalformed, "decode UpdatePath", err)
	}
	return u, nil
}
