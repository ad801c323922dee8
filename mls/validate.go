package mls

// Validation of leaf nodes (RFC 9420 section 7.3), KeyPackages (10.1) and
// imported ratchet trees (12.4.3.1).

import (
	"bytes"
	"strconv"
	"time"
)

// validator carries what leaf validation needs from the group.
type validator struct {
	suite    CipherSuite
	groupID  []byte
	required *RequiredCapabilities // from the GroupContext, or nil
	idx      *memberIndex          // members other than the leaf checked
	now      func() time.Time      // nil disables lifetime checks
}

func requiredCapabilities(exts []Extension) (*RequiredCapabilities, error) {
	e := findExtension(exts, ExtensionRequiredCapabilities)
	if e == nil {
		return nil, nil
	}
	return ParseRequiredCapabilities(e.Data)
}

func leafErr(op, format string, args ...any) error {
	return errorf(ErrInvalidLeafNode, op, format, args...)
}

// supportsRequired checks a leaf against required_capabilities.
func supportsRequired(c *Capabilities, rc *RequiredCapabilities) error {
	if rc == nil {
		return nil
	}
	for _, t := range rc.Extensions {
		if !c.supportsExtension(t) {
			return leafErr("required capabilities", "extension type %d not supported", t)
		}
	}
	for _, t := range rc.Proposals {
		if !c.supportsProposal(t) {
			return leafErr("required capabilities", "proposal type %d not supported", t)
		}
	}
	for _, t := range rc.Credentials {
		if !c.supportsCredential(t) {
			return leafErr("required capabilities", "credential type %d not supported", t)
		}
	}
	return nil
}

// leafContent checks what does not depend on the other members.
func (v *validator) leafContent(ln *LeafNode, source LeafNodeSource, leaf LeafIndex) error {
	if ln.Source != source {
		return leafErr("validate leaf node", "leaf_node_source %d, want %d", ln.Source, source)
	}
	if err := ln.VerifySignature(v.suite, v.groupID, uint32(leaf)); err != nil {
		return &Error{Kind: ErrInvalidLeafNode, Op: "leaf node signature", Err: err}
	}
	c := &ln.Capabilities
	if !c.supportsCredential(ln.Credential.Type) {
		return leafErr("validate leaf node", "own credential type %d not in capabilities", ln.Credential.Type)
	}
	for _, e := range ln.Extensions {
		if !c.supportsExtension(e.Type) {
			return leafErr("validate leaf node", "extension type %d not in capabilities", e.Type)
		}
	}
	if err := supportsRequired(c, v.required); err != nil {
		return err
	}
	if source == LeafNodeSourceKeyPackage && v.now != nil {
		now := uint64(v.now().Unix())
		if now < ln.Lifetime.NotBefore || now > ln.Lifetime.NotAfter {
			return leafErr("validate leaf node", "outside lifetime [%d, %d]", ln.Lifetime.NotBefore, ln.Lifetime.NotAfter)
		}
	}
	return nil
}

// leafWithMembers checks a new leaf against the other members in v.idx:
// credential compatibility both ways and unique keys. replaced is the leaf
// being replaced by an Update or a commit path, or nil.
func (v *validator) leafWithMembers(ln *LeafNode, replaced *LeafNode) error {
	idx := v.idx
	if idx.counts.members > 0 && !idx.allSupportCredential(ln.Credential.Type) {
		return leafErr("validate leaf node", "credential type %d not supported by all members", ln.Credential.Type)
	}
	for t := range idx.counts.credUsed {
		if !ln.Capabilities.supportsCredential(t) {
			return leafErr("validate leaf node", "does not support credential type %d used in the group", t)
		}
	}
	if _, dup := idx.sigKeyOwner(ln.SignatureKey); dup {
		return leafErr("validate leaf node", "signature key already used by a member")
	}
	if _, dup := idx.encKeyOwner(ln.EncryptionKey); dup {
		return leafErr("validate leaf node", "encryption key already used by a member")
	}
	if replaced != nil && bytes.Equal(replaced.EncryptionKey, ln.EncryptionKey) {
		return leafErr("validate leaf node", "encryption key not changed")
	}
	return nil
}

// keyPackage validates a KeyPackage for addition to the group.
func (v *validator) keyPackage(kp *KeyPackage) error {
	if kp.Version != ProtocolVersionMLS10 {
		return errorf(ErrInvalidKeyPackage, "validate KeyPackage", "version %d", kp.Version)
	}
	if kp.CipherSuite != v.suite {
		return errorf(ErrInvalidKeyPackage, "validate KeyPackage", "cipher suite %d, group uses %d", kp.CipherSuite, v.suite)
	}
	if err := kp.VerifySignature(); err != nil {
		return &Error{Kind: ErrInvalidKeyPackage, Op: "KeyPackage signature", Err: err}
	}
	if bytes.Equal(kp.InitKey, kp.LeafNode.EncryptionKey) {
		return errorf(ErrInvalidKeyPackage, "validate KeyPackage", "init_key equals encryption_key")
	}
	if err := v.leafContent(&kp.LeafNode, LeafNodeSourceKeyPackage, 0); err != nil {
		return &Error{Kind: ErrInvalidKeyPackage, Op: "KeyPackage leaf node", Err: err}
	}
	return nil
}

// ValidateTreeOptions tunes ValidateTree.
type ValidateTreeOptions struct {
	// RequiredCapabilities of the group, if any.
	RequiredCapabilities *RequiredCapabilities
}

// Validate checks an imported ratchet tree for group groupID (RFC 9420
// 12.4.3.1, without the tree-hash comparison, which needs the GroupContext):
// every non-blank parent is parent-hash valid, unmerged leaves are
// consistent, every leaf is valid (signature with groupID and its index,
// capabilities, credential compatibility) and keys are unique.
func (t *RatchetTree) Validate(groupID []byte, opts *ValidateTreeOptions) error {
	_, err := t.validate(groupID, opts)
	return err
}

func (t *RatchetTree) validate(groupID []byte, opts *ValidateTreeOptions) (*memberIndex, error) {
	if t.NumMembers() == 0 {
		return nil, errorf(ErrInvalidTree, "validate tree", "no members")
	}
	// Unmerged leaves first: parent-hash verification relies on them
	// naming leaves inside the tree.
	if err := t.verifyUnmergedLeaves(); err != nil {
		return nil, err
	}
	if err := t.verifyParentHashes(); err != nil {
		return nil, err
	}
	v := &validator{suite: t.suite, groupID: groupID}
	if opts != nil {
		v.required = opts.RequiredCapabilities
	}
	idx, err := t.indexLeaves(v)
	if err != nil {
		return nil, err
	}
	if err := t.checkEncryptionKeysUnique(); err != nil {
		return nil, err
	}
	if err := t.checkCredentialsSupported(idx); err != nil {
		return nil, err
	}
	return idx, nil
}

// indexLeaves validates every leaf's content and indexes the members,
// refusing a signature key held twice.
func (t *RatchetTree) indexLeaves(v *validator) (*memberIndex, error) {
	idx := newMemberIndex()
	var err error
	t.Members(func(l LeafIndex, ln *LeafNode) bool {
		if err = v.leafContent(ln, ln.Source, l); err != nil {
			err = wrap(ErrInvalidTree, "leaf "+strconv.FormatUint(uint64(l), 10), err)
			return false
		}
		if _, dup := idx.sigKeyOwner(ln.SignatureKey); dup {
			err = errorf(ErrInvalidTree, "validate tree", "duplicate signature key at leaf %d", l)
			return false
		}
		idx.add(l, ln)
		return true
	})
	return idx, err
}

// checkEncryptionKeysUnique refuses an HPKE encryption key held by two
// nodes, leaf or parent.
func (t *RatchetTree) checkEncryptionKeysUnique() error {
	hpkeKeys := map[string]bool{}
	w := t.width()
	for x := NodeIndex(0); uint32(x) < w; x++ {
		e := t.get(x)
		var k []byte
		switch {
		case e.leaf != nil:
			k = e.leaf.EncryptionKey
		case e.parent != nil:
			k = e.parent.EncryptionKey
		default:
			continue
		}
		if hpkeKeys[string(k)] {
			return errorf(ErrInvalidTree, "validate tree", "duplicate encryption key at node %d", x)
		}
		hpkeKeys[string(k)] = true
	}
	return nil
}

// checkCredentialsSupported checks credential compatibility between all
// members: every member supports every member's credential type.
func (t *RatchetTree) checkCredentialsSupported(idx *memberIndex) error {
	var err error
	t.Members(func(l LeafIndex, ln *LeafNode) bool {
		if !idx.allSupportCredential(ln.Credential.Type) {
			err = errorf(ErrInvalidTree, "validate tree", "credential type %d of leaf %d not supported by all members", ln.Credential.Type, l)
			return false
		}
		return true
	})
	return err
}
