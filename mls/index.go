package mls

// memberIndex answers, in O(1), the group-wide questions leaf and proposal
// validation asks: is this signature or encryption key already used by a
// member, do all members support this credential/extension/proposal type,
// which credential types are in use. A staged commit works on an overlay
// that records only its changes, so staging never copies the index.

import (
	"maps"
	"slices"
)

type leafKeyMap map[string]int64 // key -> leaf index, or -1 (deleted in overlay)

type typeCounts struct {
	credSupport map[CredentialType]int32
	credUsed    map[CredentialType]int32
	extSupport  map[ExtensionType]int32
	propSupport map[ProposalType]int32
	members     int32
}

func newTypeCounts() typeCounts {
	return typeCounts{
		credSupport: map[CredentialType]int32{},
		credUsed:    map[CredentialType]int32{},
		extSupport:  map[ExtensionType]int32{},
		propSupport: map[ProposalType]int32{},
	}
}

func (c typeCounts) clone() typeCounts {
	return typeCounts{
		credSupport: maps.Clone(c.credSupport),
		credUsed:    maps.Clone(c.credUsed),
		extSupport:  maps.Clone(c.extSupport),
		propSupport: maps.Clone(c.propSupport),
		members:     c.members,
	}
}

type memberIndex struct {
	base    *memberIndex // nil for a root index
	sigKeys leafKeyMap
	encKeys leafKeyMap
	counts  typeCounts
}

func newMemberIndex() *memberIndex {
	return &memberIndex{sigKeys: leafKeyMap{}, encKeys: leafKeyMap{}, counts: newTypeCounts()}
}

// overlay returns an index that reads through to m and records changes.
func (m *memberIndex) overlay() *memberIndex {
	return &memberIndex{base: m, sigKeys: leafKeyMap{}, encKeys: leafKeyMap{}, counts: m.counts.clone()}
}

func lookupKey(m *memberIndex, sel func(*memberIndex) leafKeyMap, key []byte) (LeafIndex, bool) {
	for ; m != nil; m = m.base {
		if v, ok := sel(m)[string(key)]; ok {
			if v < 0 {
				return 0, false
			}
			return LeafIndex(v), true
		}
	}
	return 0, false
}

func (m *memberIndex) sigKeyOwner(key []byte) (LeafIndex, bool) {
	return lookupKey(m, func(m *memberIndex) leafKeyMap { return m.sigKeys }, key)
}

func (m *memberIndex) encKeyOwner(key []byte) (LeafIndex, bool) {
	return lookupKey(m, func(m *memberIndex) leafKeyMap { return m.encKeys }, key)
}

func (m *memberIndex) setKey(km leafKeyMap, key []byte, v int64) {
	if m.base == nil && v < 0 {
		delete(km, string(key))
		return
	}
	km[string(key)] = v
}

func dedupe[T comparable](s []T, f func(T)) {
	for i, x := range s {
		if !slices.Contains(s[:i], x) {
			f(x)
		}
	}
}

func (m *memberIndex) account(ln *LeafNode, d int32) {
	c := &m.counts
	c.members += d
	dedupe(ln.Capabilities.Credentials, func(t CredentialType) { c.credSupport[t] += d })
	dedupe(ln.Capabilities.Extensions, func(t ExtensionType) { c.extSupport[t] += d })
	dedupe(ln.Capabilities.Proposals, func(t ProposalType) { c.propSupport[t] += d })
	c.credUsed[ln.Credential.Type] += d
	if c.credUsed[ln.Credential.Type] == 0 {
		delete(c.credUsed, ln.Credential.Type)
	}
}

// add records leaf l.
func (m *memberIndex) add(l LeafIndex, ln *LeafNode) {
	m.setKey(m.sigKeys, ln.SignatureKey, int64(l))
	m.setKey(m.encKeys, ln.EncryptionKey, int64(l))
	m.account(ln, 1)
}

// remove forgets leaf l.
func (m *memberIndex) remove(l LeafIndex, ln *LeafNode) {
	if o, ok := m.sigKeyOwner(ln.SignatureKey); ok && o == l {
		m.setKey(m.sigKeys, ln.SignatureKey, -1)
	}
	if o, ok := m.encKeyOwner(ln.EncryptionKey); ok && o == l {
		m.setKey(m.encKeys, ln.EncryptionKey, -1)
	}
	m.account(ln, -1)
}

// merge folds an overlay into its base (in place) and returns the base.
func (m *memberIndex) merge() *memberIndex {
	b := m.base
	if b == nil {
		return m
	}
	for k, v := range m.sigKeys {
		b.setKey(b.sigKeys, []byte(k), v)
	}
	for k, v := range m.encKeys {
		b.setKey(b.encKeys, []byte(k), v)
	}
	b.counts = m.counts
	return b
}

func (m *memberIndex) allSupportCredential(t CredentialType) bool {
	return m.counts.credSupport[t] == m.counts.members
}

func (m *memberIndex) allSupportExtension(t ExtensionType) bool {
	return t.isDefault() || m.counts.extSupport[t] == m.counts.members
}

func (m *memberIndex) allSupportProposal(t ProposalType) bool {
	return t.isDefault() || m.counts.propSupport[t] == m.counts.members
}

func buildMemberIndex(t *RatchetTree) *memberIndex {
	m := newMemberIndex()
	t.Members(func(l LeafIndex, ln *LeafNode) bool {
		m.add(l, ln)
		return true
	})
	return m
}
