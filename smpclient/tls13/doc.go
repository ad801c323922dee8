// Package tls13 is a TLS 1.3 client (RFC 8446) for exactly the profile
// SMP servers speak (smp-client.md §1.3): X25519 key share (X448 after a
// HelloRetryRequest), TLS_CHACHA20_POLY1305_SHA256 and
// TLS_AES_256_GCM_SHA384, server authentication by Ed25519 or Ed448
// CertificateVerify, ALPN, no SNI, no resumption, no 0-RTT and no client
// certificate. It exists because Go's crypto/tls cannot verify Ed448
// handshake signatures, which servers with an Ed448 online certificate
// make.
//
// The certificate chain is not judged here: Config.VerifyPeerCertificate
// receives the raw DER chain and decides (SMP pins the identity
// certificate by hash). This package only checks that the leaf key signed
// the handshake.
//
// Conn implements net.Conn. After the handshake ConnectionState exposes
// the client Finished verify_data, which is what the reference TLS
// library reports as "tls-unique" under TLS 1.3 and what SMP uses as its
// session identifier (§1.4).
//
// Every length read from the network is checked against the bytes
// present and against a fixed limit before anything is allocated: records
// are at most 2^14+256 bytes of ciphertext, handshake messages at most
// MaxHandshakeMessage bytes.
package tls13
