package mls

// LeafNode, ParentNode and KeyPackage (RFC 9420 sections 7.1, 7.2, 10).

// LeafNodeSource says where a LeafNode was created.
type LeafNodeSource uint8

// Leaf node sources.
const (
	LeafNodeSourceKeyPackage LeafNodeSource = 1
	LeafNodeSourceUpdate     LeafNodeSource = 2
	LeafNodeSourceCommit     LeafNodeSource = 3
)

// LeafNode is a member's leaf in the ratchet tree.
//
// Decoded LeafNodes remember their received bytes, which are used for
// re-encoding and for signature verification; treat them as immutable (build
// a new one, or call Sign, to change one).
type LeafNode struct {
	EncryptionKey []byte
	SignatureKey  []byte
	Credential    Credential
	Capabilities  Capabilities
	Source        LeafNodeSource
	Lifetime      Lifetime // Source == LeafNodeSourceKeyPackage
	ParentHash    []byte   // Source == LeafNodeSourceCommit
	Extensions    []Extension
	Signature     []byte

	raw    []byte // received encoding
	tbsLen int    // length of raw without the signature field
}

func (ln *LeafNode) encodeTBSFields(w *writer) {
	w.opaque(ln.EncryptionKey)
	w.opaque(ln.SignatureKey)
	ln.Credential.encode(w)
	ln.Capabilities.encode(w)
	w.u8(uint8(ln.Source))
	switch ln.Source {
	case LeafNodeSourceKeyPackage:
		w.u64(ln.Lifetime.NotBefore)
		w.u64(ln.Lifetime.NotAfter)
	case LeafNodeSourceCommit:
		w.opaque(ln.ParentHash)
	}
	encodeExtensions(w, ln.Extensions)
}

func (ln *LeafNode) encode(w *writer) {
	if w.cached(ln.raw) {
		return
	}
	ln.encodeTBSFields(w)
	w.opaque(ln.Signature)
}

func (ln *LeafNode) decode(r *reader) {
	start := r.off
	ln.EncryptionKey = r.opaque()
	ln.SignatureKey = r.opaque()
	ln.Credential.decode(r)
	ln.Capabilities.decode(r)
	ln.Source = LeafNodeSource(r.u8())
	switch ln.Source {
	case LeafNodeSourceKeyPackage:
		ln.Lifetime.NotBefore = r.u64()
		ln.Lifetime.NotAfter = r.u64()
	case LeafNodeSourceUpdate:
	case LeafNodeSourceCommit:
		ln.ParentHash = r.opaque()
	default:
		r.fail("invalid leaf_node_source %d", ln.Source)
	}
	ln.Extensions = decodeExtensions(r)
	tbsEnd := r.off
	ln.Signature = r.opaque()
	if r.err == nil {
		ln.raw = r.buf[start:r.off]
		ln.tbsLen = tbsEnd - start
	}
}

// tbs returns LeafNodeTBS. groupID and leafIndex are used for the update and
// commit sources only.
func (ln *LeafNode) tbs(groupID []byte, leafIndex uint32) []byte {
	var w writer
	if ln.raw != nil {
		w.buf = make([]byte, 0, ln.tbsLen+len(groupID)+8)
		w.raw(ln.raw[:ln.tbsLen])
	} else {
		ln.encodeTBSFields(&w)
	}
	if ln.Source == LeafNodeSourceUpdate || ln.Source == LeafNodeSourceCommit {
		w.opaque(groupID)
		w.u32(leafIndex)
	}
	return w.buf
}

// Sign sets the signature of the leaf node (for tests and tools; a DS never
// signs). groupID and leafIndex are ignored for the key_package source.
func (ln *LeafNode) Sign(k *SigningKey, groupID []byte, leafIndex uint32) error {
	ln.raw = nil
	sig, err := k.SignWithLabel("LeafNodeTBS", ln.tbs(groupID, leafIndex))
	if err != nil {
		return err
	}
	ln.Signature = sig
	return nil
}

// VerifySignature checks the leaf node's signature. groupID and leafIndex
// are ignored for the key_package source.
func (ln *LeafNode) VerifySignature(cs CipherSuite, groupID []byte, leafIndex uint32) error {
	return cs.VerifyWithLabel(ln.SignatureKey, "LeafNodeTBS", ln.tbs(groupID, leafIndex), ln.Signature)
}

// Marshal returns the encoding (the received bytes for a decoded value).
func (ln *LeafNode) Marshal() []byte { return marshal(ln) }

// DecodeLeafNode decodes a LeafNode.
func DecodeLeafNode(b []byte) (*LeafNode, error) {
	ln := new(LeafNode)
	if err := decodeAll(b, ln.decode); err != nil {
		return nil, wrap(ErrMalformed, "decode LeafNode", err)
	}
	return ln, nil
}

// decodeAll copies b (so that remembered bytes do not alias the caller's
// buffer), runs f and rejects trailing bytes.
func decodeAll(b []byte, f func(*reader)) error {
	r := newReader(append([]byte(nil), b...))
	f(r)
	return r.finish()
}

// ParentNode is an interior node of the ratchet tree.
type ParentNode struct {
	EncryptionKey  []byte
	ParentHash     []byte
	UnmergedLeaves []uint32
}

func (p *ParentNode) encode(w *writer) {
	w.opaque(p.EncryptionKey)
	w.opaque(p.ParentHash)
	w.varint(4 * len(p.UnmergedLeaves))
	for _, l := range p.UnmergedLeaves {
		w.u32(l)
	}
}

func (p *ParentNode) decode(r *reader) {
	p.EncryptionKey = r.opaque()
	p.ParentHash = r.opaque()
	b := r.opaque()
	if r.err != nil {
		return
	}
	if len(b)%4 != 0 {
		r.fail("uint32 vector of bad length")
		return
	}
	if len(b) > 0 {
		p.UnmergedLeaves = make([]uint32, len(b)/4)
		for i := range p.UnmergedLeaves {
			p.UnmergedLeaves[i] = uint32(b[4*i])<<24 | uint32(b[4*i+1])<<16 | uint32(b[4*i+2])<<8 | uint32(b[4*i+3])
		}
	}
}

// withUnmerged returns a copy of p with leaf appended to its unmerged leaves.
func (p *ParentNode) withUnmerged(leaf uint32) *ParentNode {
	q := *p
	q.UnmergedLeaves = make([]uint32, len(p.UnmergedLeaves), len(p.UnmergedLeaves)+1)
	copy(q.UnmergedLeaves, p.UnmergedLeaves)
	q.UnmergedLeaves = append(q.UnmergedLeaves, leaf)
	return &q
}

// KeyPackage advertises a client's willingness to be added to groups.
type KeyPackage struct {
	Version     ProtocolVersion
	CipherSuite CipherSuite
	InitKey     []byte
	LeafNode    LeafNode
	Extensions  []Extension
	Signature   []byte

	raw    []byte
	tbsLen int
}

func (kp *KeyPackage) encodeTBS(w *writer) {
	w.u16(uint16(kp.Version))
	w.u16(uint16(kp.CipherSuite))
	w.opaque(kp.InitKey)
	kp.LeafNode.encode(w)
	encodeExtensions(w, kp.Extensions)
}

func (kp *KeyPackage) encode(w *writer) {
	if w.cached(kp.raw) {
		return
	}
	kp.encodeTBS(w)
	w.opaque(kp.Signature)
}

func (kp *KeyPackage) decode(r *reader) {
	start := r.off
	kp.Version = ProtocolVersion(r.u16())
	kp.CipherSuite = CipherSuite(r.u16())
	kp.InitKey = r.opaque()
	kp.LeafNode.decode(r)
	kp.Extensions = decodeExtensions(r)
	tbsEnd := r.off
	kp.Signature = r.opaque()
	if r.err == nil {
		kp.raw = r.buf[start:r.off]
		kp.tbsLen = tbsEnd - start
	}
}

func (kp *KeyPackage) tbs() []byte {
	if kp.raw != nil {
		return kp.raw[:kp.tbsLen]
	}
	var w writer
	kp.encodeTBS(&w)
	return w.buf
}

// Sign signs the key package (tests and tools only).
func (kp *KeyPackage) Sign(k *SigningKey) error {
	kp.raw = nil
	sig, err := k.SignWithLabel("KeyPackageTBS", kp.tbs())
	if err != nil {
		return err
	}
	kp.Signature = sig
	return nil
}

// VerifySignature checks the KeyPackage signature with the leaf node's key.
func (kp *KeyPackage) VerifySignature() error {
	return kp.CipherSuite.VerifyWithLabel(kp.LeafNode.SignatureKey, "KeyPackageTBS", kp.tbs(), kp.Signature)
}

// Marshal returns the encoding (the received bytes for a decoded value).
func (kp *KeyPackage) Marshal() []byte { return marshal(kp) }

// Ref returns the KeyPackageRef, RefHash("MLS 1.0 KeyPackage Reference",
// KeyPackage).
func (kp *KeyPackage) Ref() ([]byte, error) {
	if !kp.CipherSuite.Supported() {
		return nil, errorf(ErrUnsupported, "KeyPackageRef", "cipher suite %d", kp.CipherSuite)
	}
	return kp.CipherSuite.RefHash(labelKeyPackageRef, kp.Marshal()), nil
}

// DecodeKeyPackage decodes a bare KeyPackage (not wrapped in MLSMessage).
func DecodeKeyPackage(b []byte) (*KeyPackage, error) {
	kp := new(KeyPackage)
	if err := decodeAll(b, kp.decode); err != nil {
		return nil, wrap(ErrMalformed, "decode KeyPackage", err)
	}
	return kp, nil
}
