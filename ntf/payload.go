package ntf

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"golang.org/x/crypto/nacl/box"

	"github.com/trystgw/tryst/push"
	"github.com/trystgw/tryst/smpclient"
)

// The message push (gateway-api.md §2, "The message push"; the payload
// SimpleX's own notification server sends, smp-client.md §6.7).
const (
	// DefaultMessageSize is P, the size of the padded plaintext: the
	// sealed box is P+16 bytes, its base64url 3,755 characters, so the
	// APNs body stays under Apple's 4,096-byte limit.
	DefaultMessageSize = 2800
	// MinMessageSize leaves room for one entry with a long server address.
	MinMessageSize = 512
	// MaxRecentNotifications is how many of the token's most recent
	// notifications (the newest per queue) one push repeats, so an app
	// recovers a push the phone dropped.
	MaxRecentNotifications = 6
	// DataMessage carries the sealed, padded list of notifications.
	DataMessage = "message"
	// messagePlaceholder is the alert an app's notification service
	// extension replaces after decrypting the message.
	messagePlaceholder = "Encrypted message or another app event"
	// entrySeparator joins entries: a server address may contain ','.
	entrySeparator = ';'
)

// OwnerMessage owns the message pushes of the outbox; the owner id is the
// token id, and a dead device token is reported to the token as for any
// push (Registration).
const OwnerMessage push.OwnerKind = "ntf.message"

// Notification is one NMSG as the gateway keeps it: the newest one of its
// queue for the token, delivered or not.
type Notification struct {
	// Server is the queue's server address as the app registered it.
	Server     string
	NotifierID []byte
	// ReceivedAt is when the gateway received the NMSG.
	ReceivedAt time.Time
	// Nonce and EncMeta are exactly what the SMP server sent.
	Nonce   [smpclient.NonceSize]byte
	EncMeta []byte
	// Seq orders notifications: a larger Seq is a newer NMSG of the same
	// queue. The outbox clears a row only if its Seq is the one a push
	// carried.
	Seq int64
	// Pending is set until a push carrying it was accepted.
	Pending bool
}

// appendEntry appends n in the text form of the payload:
// <server>/<notifier_id> <received_at> <nonce> <encrypted_metadata>.
func appendEntry(dst []byte, n Notification) []byte {
	dst = append(dst, n.Server...)
	dst = append(dst, '/')
	dst = base64.URLEncoding.AppendEncode(dst, n.NotifierID)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, n.ReceivedAt.Unix(), 10)
	dst = append(dst, ' ')
	dst = base64.URLEncoding.AppendEncode(dst, n.Nonce[:])
	dst = append(dst, ' ')
	return base64.URLEncoding.AppendEncode(dst, n.EncMeta)
}

// errMessageTooLarge: even the newest notification alone does not fit.
var errMessageTooLarge = errors.New("ntf: notification does not fit the message size")

// MessageText builds the plaintext of a message push from the token's
// recent notifications (the newest per queue, any order): the
// MaxRecentNotifications newest, oldest first, joined by ';'. Entries
// that do not fit size-2 bytes (pad's length prefix) are dropped oldest
// first; the newest always stays. It returns the text and the
// notifications it carries, oldest first.
func MessageText(recent []Notification, size int) ([]byte, []Notification, error) {
	sorted := slices.Clone(recent)
	slices.SortStableFunc(sorted, func(a, b Notification) int {
		if c := a.ReceivedAt.Compare(b.ReceivedAt); c != 0 {
			return c
		}
		return compareInt(a.Seq, b.Seq)
	})
	if len(sorted) > MaxRecentNotifications {
		sorted = sorted[len(sorted)-MaxRecentNotifications:]
	}
	for len(sorted) > 0 {
		text := make([]byte, 0, size)
		for i, n := range sorted {
			if i > 0 {
				text = append(text, entrySeparator)
			}
			text = appendEntry(text, n)
		}
		if len(text) <= size-2 {
			return text, sorted, nil
		}
		if len(sorted) == 1 {
			break
		}
		sorted = sorted[1:]
	}
	return nil, nil, errMessageTooLarge
}

func compareInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// SealMessage pads text to size bytes and seals it with crypto_box from
// the token's server private key to the app's key under nonce: the
// message field of the push, size+16 bytes.
func SealMessage(text []byte, size int, nonce *[24]byte, serverPriv *[32]byte, appKey DHKey) ([]byte, error) {
	padded, err := smpclient.Pad(text, size)
	if err != nil {
		return nil, fmt.Errorf("ntf: padding the message: %w", err)
	}
	pub := [32]byte(appKey)
	return box.Seal(nil, padded, nonce, &pub, serverPriv), nil
}

// OpenMessage is what an app does with a message push: it opens the
// message with its private key and the token's server public key and
// returns the plaintext (the entries joined by ';'). It serves tests and
// client libraries written in Go.
func OpenMessage(data map[string]string, appPrivate [32]byte, serverPublic DHKey) ([]byte, error) {
	nonce, err1 := DecodeBase64URL(data[DataNonce])
	sealed, err2 := DecodeBase64URL(data[DataMessage])
	if err := errors.Join(err1, err2); err != nil || len(nonce) != 24 {
		return nil, errors.New("ntf: malformed message push")
	}
	pub := [32]byte(serverPublic)
	padded, ok := box.Open(nil, sealed, (*[24]byte)(nonce), &pub, &appPrivate)
	if !ok {
		return nil, errors.New("ntf: message push does not open")
	}
	return smpclient.Unpad(padded)
}

// messageData seals the message for t and returns the push's custom
// data: the nonce and the message, base64url without padding.
func messageData(text []byte, size int, serverPriv *[32]byte, appKey DHKey) (map[string]string, error) {
	var nonce [24]byte
	rand.Read(nonce[:])
	sealed, err := SealMessage(text, size, &nonce, serverPriv, appKey)
	if err != nil {
		return nil, err
	}
	return map[string]string{
		DataNonce:   base64.RawURLEncoding.EncodeToString(nonce[:]),
		DataMessage: base64.RawURLEncoding.EncodeToString(sealed),
	}, nil
}

// newMessagePush builds the message push to t: on APNs an alert with
// mutable-content and a placeholder the app's extension replaces, on FCM
// a high-priority data message.
func newMessagePush(t Token, data map[string]string) *push.Notification {
	n := &push.Notification{
		ID:    "message:" + string(t.ID), // for logs
		Owner: push.Owner{Kind: OwnerMessage, ID: string(t.ID)}, Registration: string(t.ID),
		Token: t.DeviceToken, App: string(t.App), Environment: t.Environment,
		Priority: push.PriorityHigh, Data: data, DataGroup: DataGroup,
	}
	if t.Platform == push.APNs {
		n.Kind, n.MutableContent, n.Alert = push.Alert, true, push.AlertContent{Body: messagePlaceholder}
	} else {
		n.Kind = push.Background
	}
	return n
}
