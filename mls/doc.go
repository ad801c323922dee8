// Package mls implements the public-group subset of MLS (RFC 9420) that a
// Delivery Service needs.
//
// A Delivery Service relays handshake messages between the members of a group
// without being a member itself. It never holds an HPKE private key nor any
// secret of the key schedule, so it cannot decrypt PrivateMessages, check
// membership tags or confirmation tags, nor derive epoch secrets. What it can
// and must do is keep the *public* state of every group in step with the
// members and reject what a member would reject:
//
//   - parse every structure of RFC 9420 strictly (TLS presentation language
//     with QUIC-style variable-length vector headers, minimal lengths only,
//     no trailing bytes), keeping the exact received bytes of everything that
//     is signed or forwarded (codec.go);
//   - verify every signature (SignWithLabel/VerifyWithLabel for cipher suites
//     1 to 7, see [CipherSuite]);
//   - keep the public ratchet tree (array-based, with cached tree hashes),
//     validate imported trees (tree hash, parent hashes, leaf signatures,
//     unmerged leaves), validate and apply proposals in the RFC's order,
//     merge UpdatePaths and check their parent hashes;
//   - track the GroupContext: epoch, tree hash, confirmed and interim
//     transcript hashes, extensions; and check the committer's GroupInfo
//     against the GroupContext this package computed itself.
//
// The entry point is [PublicGroup]: build it from a GroupInfo and a ratchet
// tree ([NewPublicGroup]), feed it proposals ([PublicGroup.ProcessProposal])
// and commits ([PublicGroup.StageCommit], which validates the commit and
// computes the next state without touching the current one, then
// [PublicGroup.Merge]). All errors are of type [*Error] and match the
// sentinel kinds (ErrMalformed, ErrInvalidSignature, ...) with errors.Is.
//
// Handshake messages must reach the DS as PublicMessages (a group served by
// this DS sends proposals and commits unencrypted); PrivateMessages can be
// parsed and routed by their header but not validated.
//
// This package does no key schedule and no decryption. The only HPKE
// operation it offers is [CipherSuite.EncryptWithLabel] (a DS may encrypt to
// a member's public key); the test files contain, clearly marked as test-only,
// the Welcome opener used to seed the public state from the interoperability
// vectors.
//
// It imports no other tryst package.
package mls
