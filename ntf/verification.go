package ntf

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/curve25519"
	"golang.org/x/crypto/nacl/box"

	"github.com/trystgw/tryst/push"
)

// Custom data keys of the pushes this package sends.
const (
	// DataNonce and DataVerification carry the verification code:
	// base64url of the 24-byte nonce and of crypto_box(code) from the
	// token's server key to the app's DHKey (libsodium crypto_box_easy).
	DataNonce        = "nonce"
	DataVerification = "verification"
	// DataCheckMessages marks a periodic "check messages" push (a flag:
	// JSON true on APNs, "true" on FCM).
	DataCheckMessages = "checkMessages"
	// DataGroup is where the custom data of every push this package
	// sends sits in an APNs payload, as SimpleX's apps read it
	// (smp-client.md §6.6–6.7); FCM data stays flat.
	DataGroup = "notificationData"
)

// newKeyPair returns a fresh X25519 key pair.
func newKeyPair() (pub DHKey, priv [32]byte) {
	p, k, err := box.GenerateKey(rand.Reader)
	if err != nil {
		panic(fmt.Sprintf("ntf: generating a key pair: %v", err)) // crypto/rand does not fail
	}
	return DHKey(*p), *k
}

// newCode returns a fresh random verification code.
func newCode() Code { return Code(randomBytes(len(Code{}))) }

// sendVerification queues the verification push carrying code for t.
func (s *Service) sendVerification(ctx context.Context, t Token, code Code) error {
	data, err := s.sealCode(t, code)
	if err != nil {
		return err
	}
	return s.queueVerification(ctx, t, data)
}

// queueVerification queues the verification push with data, a code
// sealed by sealCode.
func (s *Service) queueVerification(ctx context.Context, t Token, data map[string]string) error {
	err := s.pusher.Enqueue(ctx, NewPush(t, OwnerVerification, data))
	switch {
	case err == nil:
		return nil
	case errors.Is(err, push.ErrNoRoute):
		return fmt.Errorf("verification push: %w", ErrUnknownApp)
	case errors.Is(err, push.ErrRegistrationBusy):
		return fmt.Errorf("verification push: %w", ErrTooManyPushes)
	}
	return fmt.Errorf("verification push: %w: %w", ErrPushUnavailable, err)
}

// sealCode encrypts code to the app's key with the token's server key.
func (s *Service) sealCode(t Token, code Code) (map[string]string, error) {
	priv, err := s.sealer.Open(t.ServerKeySealed, []byte(t.ID))
	if err != nil || len(priv) != 32 {
		return nil, fmt.Errorf("opening the server key of token %s: %w", t.ID, err)
	}
	var nonce [24]byte
	rand.Read(nonce[:])
	appKey := [32]byte(t.DHKey)
	sealed := box.Seal(nil, code[:], &nonce, &appKey, (*[32]byte)(priv))
	return map[string]string{
		DataNonce:        base64.RawURLEncoding.EncodeToString(nonce[:]),
		DataVerification: base64.RawURLEncoding.EncodeToString(sealed),
	}, nil
}

// NewPush builds a background push with data to t's device, owned by
// owner with the token id as the owner's id. Other owners (an outbox, a
// client queue) build their own notification but set Registration to the
// token id as this does, so a dead device token is reported to the token.
func NewPush(t Token, owner push.OwnerKind, data map[string]string) *push.Notification {
	return &push.Notification{
		ID:    strings.TrimPrefix(string(owner), "ntf.") + ":" + string(t.ID), // for logs: verify:<token id>
		Owner: push.Owner{Kind: owner, ID: string(t.ID)}, Registration: string(t.ID),
		Token: t.DeviceToken, App: string(t.App), Environment: t.Environment,
		Kind: push.Background, Priority: push.PriorityNormal, Data: data, DataGroup: DataGroup,
	}
}

// OpenVerification is what an app does with a verification push: it
// opens the code with its private key and the server's public key. It
// serves tests and client libraries written in Go.
func OpenVerification(data map[string]string, appPrivate [32]byte, serverPublic DHKey) (Code, error) {
	nonce, err1 := DecodeBase64URL(data[DataNonce])
	sealed, err2 := DecodeBase64URL(data[DataVerification])
	if err := errors.Join(err1, err2); err != nil || len(nonce) != 24 {
		return Code{}, errors.New("ntf: malformed verification push")
	}
	pub := [32]byte(serverPublic)
	code, ok := box.Open(nil, sealed, (*[24]byte)(nonce), &pub, &appPrivate)
	if !ok || len(code) != len(Code{}) {
		return Code{}, errors.New("ntf: verification push does not open")
	}
	return Code(code), nil
}

// PublicKey returns the X25519 public key of priv, for apps and tests.
func PublicKey(priv [32]byte) DHKey {
	pub, err := curve25519.X25519(priv[:], curve25519.Basepoint)
	if err != nil {
		panic(err) // only for low-order points, which a base-point product is not
	}
	return DHKey(pub)
}
