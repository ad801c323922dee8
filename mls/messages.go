package mls

// Framing and message structures (RFC 9420 sections 6, 8.1, 12.4.3).

import "bytes"

// GroupContext summarises the state of a group in an epoch.
type GroupContext struct {
	Version                 ProtocolVersion
	CipherSuite             CipherSuite
	GroupID                 []byte
	Epoch                   uint64
	TreeHash                []byte
	ConfirmedTranscriptHash []byte
	Extensions              []Extension
}

func (gc *GroupContext) encode(w *writer) {
	w.u16(uint16(gc.Version))
	w.u16(uint16(gc.CipherSuite))
	w.opaque(gc.GroupID)
	w.u64(gc.Epoch)
	w.opaque(gc.TreeHash)
	w.opaque(gc.ConfirmedTranscriptHash)
	encodeExtensions(w, gc.Extensions)
}

func (gc *GroupContext) decode(r *reader) {
	gc.Version = ProtocolVersion(r.u16())
	gc.CipherSuite = CipherSuite(r.u16())
	gc.GroupID = r.opaque()
	gc.Epoch = r.u64()
	gc.TreeHash = r.opaque()
	gc.ConfirmedTranscriptHash = r.opaque()
	gc.Extensions = decodeExtensions(r)
}

// Marshal returns the encoding of the GroupContext.
func (gc *GroupContext) Marshal() []byte { return marshal(gc) }

// DecodeGroupContext decodes a GroupContext.
func DecodeGroupContext(b []byte) (*GroupContext, error) {
	gc := new(GroupContext)
	if err := decodeAll(b, gc.decode); err != nil {
		return nil, wrap(ErrMalformed, "decode GroupContext", err)
	}
	return gc, nil
}

// clone returns a deep-enough copy (slices are shared but never mutated).
func (gc *GroupContext) clone() *GroupContext {
	c := *gc
	return &c
}

// WireFormat of an MLSMessage.
type WireFormat uint16

// Wire formats.
const (
	WireFormatPublicMessage  WireFormat = 1
	WireFormatPrivateMessage WireFormat = 2
	WireFormatWelcome        WireFormat = 3
	WireFormatGroupInfo      WireFormat = 4
	WireFormatKeyPackage     WireFormat = 5
)

// ContentType of framed content.
type ContentType uint8

// Content types.
const (
	ContentApplication ContentType = 1
	ContentProposal    ContentType = 2
	ContentCommit      ContentType = 3
)

// SenderType of framed content.
type SenderType uint8

// Sender types.
const (
	SenderMember            SenderType = 1
	SenderExternal          SenderType = 2
	SenderNewMemberProposal SenderType = 3
	SenderNewMemberCommit   SenderType = 4
)

// Sender of framed content. Index is the leaf index for members and the
// index into external_senders for external senders.
type Sender struct {
	Type  SenderType
	Index uint32
}

func (s *Sender) encode(w *writer) {
	w.u8(uint8(s.Type))
	if s.Type == SenderMember || s.Type == SenderExternal {
		w.u32(s.Index)
	}
}

func (s *Sender) decode(r *reader) {
	s.Type = SenderType(r.u8())
	switch s.Type {
	case SenderMember, SenderExternal:
		s.Index = r.u32()
	case SenderNewMemberProposal, SenderNewMemberCommit:
	default:
		r.fail("invalid sender type %d", s.Type)
	}
}

// FramedContent is the signed content of a PublicMessage (and, once
// decrypted, of a PrivateMessage).
type FramedContent struct {
	GroupID           []byte
	Epoch             uint64
	Sender            Sender
	AuthenticatedData []byte
	ContentType       ContentType
	ApplicationData   []byte    // application
	Proposal          *Proposal // proposal
	Commit            *Commit   // commit

	raw []byte
}

func (fc *FramedContent) encode(w *writer) {
	if w.cached(fc.raw) {
		return
	}
	w.opaque(fc.GroupID)
	w.u64(fc.Epoch)
	fc.Sender.encode(w)
	w.opaque(fc.AuthenticatedData)
	w.u8(uint8(fc.ContentType))
	switch fc.ContentType {
	case ContentApplication:
		w.opaque(fc.ApplicationData)
	case ContentProposal:
		fc.Proposal.encode(w)
	case ContentCommit:
		fc.Commit.encode(w)
	}
}

func (fc *FramedContent) decode(r *reader) {
	start := r.off
	fc.GroupID = r.opaque()
	fc.Epoch = r.u64()
	fc.Sender.decode(r)
	fc.AuthenticatedData = r.opaque()
	fc.ContentType = ContentType(r.u8())
	switch fc.ContentType {
	case ContentApplication:
		fc.ApplicationData = r.opaque()
	case ContentProposal:
		fc.Proposal = new(Proposal)
		fc.Proposal.decode(r)
	case ContentCommit:
		fc.Commit = new(Commit)
		fc.Commit.decode(r)
	default:
		r.fail("invalid content type %d", fc.ContentType)
	}
	if r.err == nil {
		fc.raw = r.buf[start:r.off]
	}
}

// Marshal returns the encoding of the FramedContent.
func (fc *FramedContent) Marshal() []byte { return marshal(fc) }

// FramedContentAuthData is the signature and, for commits, the confirmation
// tag.
type FramedContentAuthData struct {
	Signature       []byte
	ConfirmationTag []byte // commits only
}

func (a *FramedContentAuthData) encode(w *writer, ct ContentType) {
	w.opaque(a.Signature)
	if ct == ContentCommit {
		w.opaque(a.ConfirmationTag)
	}
}

func (a *FramedContentAuthData) decode(r *reader, ct ContentType) {
	a.Signature = r.opaque()
	if ct == ContentCommit {
		a.ConfirmationTag = r.opaque()
	}
}

// framedContentTBS builds FramedContentTBS. gc is required for member and
// new_member_commit senders.
func framedContentTBS(wf WireFormat, fc *FramedContent, gc *GroupContext) []byte {
	var w writer
	w.u16(uint16(ProtocolVersionMLS10))
	w.u16(uint16(wf))
	fc.encode(&w)
	if fc.Sender.Type == SenderMember || fc.Sender.Type == SenderNewMemberCommit {
		gc.encode(&w)
	}
	return w.buf
}

// AuthenticatedContent is framed content with its authentication data, as
// hashed into transcripts and proposal references.
type AuthenticatedContent struct {
	WireFormat WireFormat
	Content    FramedContent
	Auth       FramedContentAuthData
}

func (ac *AuthenticatedContent) encode(w *writer) {
	w.u16(uint16(ac.WireFormat))
	ac.Content.encode(w)
	ac.Auth.encode(w, ac.Content.ContentType)
}

func (ac *AuthenticatedContent) decode(r *reader) {
	ac.WireFormat = WireFormat(r.u16())
	ac.Content.decode(r)
	ac.Auth.decode(r, ac.Content.ContentType)
}

// Marshal returns the encoding of the AuthenticatedContent.
func (ac *AuthenticatedContent) Marshal() []byte { return marshal(ac) }

// DecodeAuthenticatedContent decodes an AuthenticatedContent.
func DecodeAuthenticatedContent(b []byte) (*AuthenticatedContent, error) {
	ac := new(AuthenticatedContent)
	if err := decodeAll(b, ac.decode); err != nil {
		return nil, wrap(ErrMalformed, "decode AuthenticatedContent", err)
	}
	return ac, nil
}

// TBS returns FramedContentTBS for this content; gc is needed for member and
// new_member_commit senders.
func (ac *AuthenticatedContent) TBS(gc *GroupContext) []byte {
	return framedContentTBS(ac.WireFormat, &ac.Content, gc)
}

// Sign fills Auth.Signature (tests and tools only).
func (ac *AuthenticatedContent) Sign(k *SigningKey, gc *GroupContext) error {
	sig, err := k.SignWithLabel("FramedContentTBS", ac.TBS(gc))
	if err != nil {
		return err
	}
	ac.Auth.Signature = sig
	return nil
}

// VerifySignature checks the signature with pub.
func (ac *AuthenticatedContent) VerifySignature(cs CipherSuite, pub []byte, gc *GroupContext) error {
	return cs.VerifyWithLabel(pub, "FramedContentTBS", ac.TBS(gc), ac.Auth.Signature)
}

// ProposalRef returns RefHash("MLS 1.0 Proposal Reference",
// AuthenticatedContent) for a proposal.
func (ac *AuthenticatedContent) ProposalRef(cs CipherSuite) []byte {
	return cs.RefHash(labelProposalRef, ac.Marshal())
}

// PublicMessage is a signed, unencrypted handshake or application message.
type PublicMessage struct {
	Content       FramedContent
	Auth          FramedContentAuthData
	MembershipTag []byte // member senders only
}

func (pm *PublicMessage) encode(w *writer) {
	pm.Content.encode(w)
	pm.Auth.encode(w, pm.Content.ContentType)
	if pm.Content.Sender.Type == SenderMember {
		w.opaque(pm.MembershipTag)
	}
}

func (pm *PublicMessage) decode(r *reader) {
	pm.Content.decode(r)
	pm.Auth.decode(r, pm.Content.ContentType)
	if pm.Content.Sender.Type == SenderMember {
		pm.MembershipTag = r.opaque()
	}
}

// AuthenticatedContent returns the message's AuthenticatedContent (sharing
// its fields).
func (pm *PublicMessage) AuthenticatedContent() *AuthenticatedContent {
	return &AuthenticatedContent{WireFormat: WireFormatPublicMessage, Content: pm.Content, Auth: pm.Auth}
}

// PrivateMessage is an encrypted message. A DS can read only its header.
type PrivateMessage struct {
	GroupID             []byte
	Epoch               uint64
	ContentType         ContentType
	AuthenticatedData   []byte
	EncryptedSenderData []byte
	Ciphertext          []byte
}

func (pm *PrivateMessage) encode(w *writer) {
	w.opaque(pm.GroupID)
	w.u64(pm.Epoch)
	w.u8(uint8(pm.ContentType))
	w.opaque(pm.AuthenticatedData)
	w.opaque(pm.EncryptedSenderData)
	w.opaque(pm.Ciphertext)
}

func (pm *PrivateMessage) decode(r *reader) {
	pm.GroupID = r.opaque()
	pm.Epoch = r.u64()
	pm.ContentType = ContentType(r.u8())
	if r.err == nil && (pm.ContentType < ContentApplication || pm.ContentType > ContentCommit) {
		r.fail("invalid content type %d", pm.ContentType)
	}
	pm.AuthenticatedData = r.opaque()
	pm.EncryptedSenderData = r.opaque()
	pm.Ciphertext = r.opaque()
}

// EncryptedGroupSecrets is one recipient's entry of a Welcome.
type EncryptedGroupSecrets struct {
	NewMember             []byte // KeyPackageRef
	EncryptedGroupSecrets HPKECiphertext
}

// Welcome invites new members.
type Welcome struct {
	CipherSuite        CipherSuite
	Secrets            []EncryptedGroupSecrets
	EncryptedGroupInfo []byte
}

func (wl *Welcome) encode(w *writer) {
	w.u16(uint16(wl.CipherSuite))
	w.vector(func(w *writer) {
		for i := range wl.Secrets {
			w.opaque(wl.Secrets[i].NewMember)
			wl.Secrets[i].EncryptedGroupSecrets.encode(w)
		}
	})
	w.opaque(wl.EncryptedGroupInfo)
}

func (wl *Welcome) decode(r *reader) {
	wl.CipherSuite = CipherSuite(r.u16())
	r.each(func(r *reader) {
		var s EncryptedGroupSecrets
		s.NewMember = r.opaque()
		s.EncryptedGroupSecrets.decode(r)
		wl.Secrets = append(wl.Secrets, s)
	})
	wl.EncryptedGroupInfo = r.opaque()
}

// Find returns the entry for the KeyPackageRef ref, or nil. A DS uses it to
// route a Welcome to the clients whose KeyPackages it names.
func (wl *Welcome) Find(ref []byte) *EncryptedGroupSecrets {
	for i := range wl.Secrets {
		if bytes.Equal(wl.Secrets[i].NewMember, ref) {
			return &wl.Secrets[i]
		}
	}
	return nil
}

// GroupInfo describes a group's state, signed by a member.
type GroupInfo struct {
	GroupContext    GroupContext
	Extensions      []Extension
	ConfirmationTag []byte
	Signer          uint32
	Signature       []byte

	raw    []byte
	tbsLen int
}

func (gi *GroupInfo) encodeTBS(w *writer) {
	gi.GroupContext.encode(w)
	encodeExtensions(w, gi.Extensions)
	w.opaque(gi.ConfirmationTag)
	w.u32(gi.Signer)
}

func (gi *GroupInfo) encode(w *writer) {
	if w.cached(gi.raw) {
		return
	}
	gi.encodeTBS(w)
	w.opaque(gi.Signature)
}

func (gi *GroupInfo) decode(r *reader) {
	start := r.off
	gi.GroupContext.decode(r)
	gi.Extensions = decodeExtensions(r)
	gi.ConfirmationTag = r.opaque()
	gi.Signer = r.u32()
	tbsEnd := r.off
	gi.Signature = r.opaque()
	if r.err == nil {
		gi.raw = r.buf[start:r.off]
		gi.tbsLen = tbsEnd - start
	}
}

func (gi *GroupInfo) tbs() []byte {
	if gi.raw != nil {
		return gi.raw[:gi.tbsLen]
	}
	var w writer
	gi.encodeTBS(&w)
	return w.buf
}

// Sign signs the GroupInfo (tests and tools only).
func (gi *GroupInfo) Sign(k *SigningKey) error {
	gi.raw = nil
	sig, err := k.SignWithLabel("GroupInfoTBS", gi.tbs())
	if err != nil {
		return err
	}
	gi.Signature = sig
	return nil
}

// VerifySignature checks the GroupInfo signature with pub, the signer's
// signature key.
func (gi *GroupInfo) VerifySignature(pub []byte) error {
	return gi.GroupContext.CipherSuite.VerifyWithLabel(pub, "GroupInfoTBS", gi.tbs(), gi.Signature)
}

// Marshal returns the encoding (the received bytes for a decoded value).
func (gi *GroupInfo) Marshal() []byte { return marshal(gi) }

// DecodeGroupInfo decodes a bare GroupInfo (as found inside a Welcome).
func DecodeGroupInfo(b []byte) (*GroupInfo, error) {
	gi := new(GroupInfo)
	if err := decodeAll(b, gi.decode); err != nil {
		return nil, wrap(ErrMalformed, "decode GroupInfo", err)
	}
	return gi, nil
}

// GroupSecrets is the plaintext of an EncryptedGroupSecrets. A DS never
// sees it; it is here for the codec round trip and tests.
type GroupSecrets struct {
	JoinerSecret []byte
	PathSecret   []byte // nil if absent
	PSKs         []PreSharedKeyID
}

func (gs *GroupSecrets) encode(w *writer) {
	w.opaque(gs.JoinerSecret)
	w.optional(gs.PathSecret != nil)
	if gs.PathSecret != nil {
		w.opaque(gs.PathSecret)
	}
	w.vector(func(w *writer) {
		for i := range gs.PSKs {
			gs.PSKs[i].encode(w)
		}
	})
}

func (gs *GroupSecrets) decode(r *reader) {
	gs.JoinerSecret = r.opaque()
	if r.optional() {
		gs.PathSecret = r.opaque()
		if gs.PathSecret == nil {
			gs.PathSecret = []byte{}
		}
	}
	r.each(func(r *reader) {
		var p PreSharedKeyID
		p.decode(r)
		gs.PSKs = append(gs.PSKs, p)
	})
}

// Marshal returns the encoding.
func (gs *GroupSecrets) Marshal() []byte { return marshal(gs) }

// DecodeGroupSecrets decodes a GroupSecrets.
func DecodeGroupSecrets(b []byte) (*GroupSecrets, error) {
	gs := new(GroupSecrets)
	if err := decodeAll(b, gs.decode); err != nil {
		return nil, wrap(ErrMalformed, "decode GroupSecrets", err)
	}
	return gs, nil
}

// MLSMessage is the top-level message of every wire format. Exactly one of
// the body fields is set, according to WireFormat.
type MLSMessage struct {
	Version        ProtocolVersion
	WireFormat     WireFormat
	PublicMessage  *PublicMessage
	PrivateMessage *PrivateMessage
	Welcome        *Welcome
	GroupInfo      *GroupInfo
	KeyPackage     *KeyPackage

	raw []byte
}

func (m *MLSMessage) encode(w *writer) {
	if w.cached(m.raw) {
		return
	}
	w.u16(uint16(m.Version))
	w.u16(uint16(m.WireFormat))
	switch m.WireFormat {
	case WireFormatPublicMessage:
		m.PublicMessage.encode(w)
	case WireFormatPrivateMessage:
		m.PrivateMessage.encode(w)
	case WireFormatWelcome:
		m.Welcome.encode(w)
	case WireFormatGroupInfo:
		m.GroupInfo.encode(w)
	case WireFormatKeyPackage:
		m.KeyPackage.encode(w)
	}
}

func (m *MLSMessage) decode(r *reader) {
	start := r.off
	m.Version = ProtocolVersion(r.u16())
	if r.err == nil && m.Version != ProtocolVersionMLS10 {
		r.failErr(errorf(ErrUnsupported, "decode MLSMessage", "protocol version %d", m.Version))
		return
	}
	m.WireFormat = WireFormat(r.u16())
	switch m.WireFormat {
	case WireFormatPublicMessage:
		m.PublicMessage = new(PublicMessage)
		m.PublicMessage.decode(r)
	case WireFormatPrivateMessage:
		m.PrivateMessage = new(PrivateMessage)
		m.PrivateMessage.decode(r)
	case WireFormatWelcome:
		m.Welcome = new(Welcome)
		m.Welcome.decode(r)
	case WireFormatGroupInfo:
		m.GroupInfo = new(GroupInfo)
		m.GroupInfo.decode(r)
	case WireFormatKeyPackage:
		m.KeyPackage = new(KeyPackage)
		m.KeyPackage.decode(r)
	default:
		r.fail("unknown wire format %d", m.WireFormat)
	}
	if r.err == nil {
		m.raw = r.buf[start:r.off]
	}
}

// Marshal returns the encoding (the exact received bytes for a decoded
// message, so it can be forwarded unchanged).
func (m *MLSMessage) Marshal() []byte { return marshal(m) }

// DecodeMLSMessage decodes an MLSMessage of any wire format.
func DecodeMLSMessage(b []byte) (*MLSMessage, error) {
	m := new(MLSMessage)
	if err := decodeAll(b, m.decode); err != nil {
		return nil, wrap(ErrMalformed, "decode MLSMessage", err)
	}
	return m, nil
}

// GroupID returns the group a PublicMessage or PrivateMessage is for, or
// nil for other wire formats. GroupInfo returns its context's group.
func (m *MLSMessage) GroupID() []byte {
	switch m.WireFormat {
	case WireFormatPublicMessage:
		return m.PublicMessage.Content.GroupID
	case WireFormatPrivateMessage:
		return m.PrivateMessage.GroupID
	case WireFormatGroupInfo:
		return m.GroupInfo.GroupContext.GroupID
	}
	return nil
}

// Epoch returns the epoch of a PublicMessage or PrivateMessage.
func (m *MLSMessage) Epoch() uint64 {
	switch m.WireFormat {
	case WireFormatPublicMessage:
		return m.PublicMessage.Content.Epoch
	case WireFormatPrivateMessage:
		return m.PrivateMessage.Epoch
	case WireFormatGroupInfo:
		return m.GroupInfo.GroupContext.Epoch
	}
	return 0
}
