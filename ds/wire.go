package ds

// The wire format: a DSMessage carries a signed DSRequest; the answer is a
// DSResponse. All structures use the TLS presentation language as MLS
// does (RFC 9420 section 2.1.2: <V> vectors with QUIC-style varint
// headers, minimal lengths only, no trailing bytes). docs/ds.md is the
// reference; the comments here repeat the layouts.
//
//	enum { leaf_index(1), key_package_ref(2), user_key_hash(3) } DSSenderType;  // uint8
//	struct {
//	    DSSenderType sender_type;
//	    select (sender_type) {
//	        case leaf_index:      uint32 leaf_index;
//	        case key_package_ref: opaque key_package_ref<V>;
//	        case user_key_hash:   opaque user_key_hash<V>;
//	    };
//	} DSSenderID;
//
//	struct {
//	    uint16 version = 1;
//	    opaque group_id<V>;
//	    DSRequestType request_type;   // uint16, see RequestType
//	    opaque body<V>;               // the request-specific structure
//	} DSRequest;
//
//	struct { DSSenderID sender_id; DSRequest request; } DSMessageTBS;
//	struct { DSSenderID sender_id; DSRequest request; opaque signature<0..255>; } DSMessage;
//
// signature = SignWithLabel(sender's MLS signature key, SignatureLabel,
// DSMessageTBS), the bytes of the DSMessage before the signature's
// one-byte length.

import (
	"errors"
	"fmt"

	"github.com/trystgw/tryst/mls"
)

// Version is the only DSRequest version.
const Version = 1

// SignatureLabel is the SignWithLabel label of DSMessageTBS (RFC 9420
// prefixes "MLS 1.0 ", so the signed content starts with
// "MLS 1.0 MIMI-DS DSMessageTBS").
const SignatureLabel = "MIMI-DS DSMessageTBS"

// MaxMessageSize bounds a DSMessage: a commit with an UpdatePath for
// 10,000 members is under 3 KB, a Welcome adding 100 members about
// 100 KB; 1 MiB leaves room for creating a group with its ratchet tree.
const MaxMessageSize = 1 << 20

// SenderType is DSSenderType.
type SenderType uint8

// Sender types.
const (
	SenderLeafIndex     SenderType = 1
	SenderKeyPackageRef SenderType = 2
	SenderUserKeyHash   SenderType = 3
)

// SenderID is DSSenderID. Exactly the field of Type is meaningful.
type SenderID struct {
	Type          SenderType
	LeafIndex     uint32
	KeyPackageRef []byte
	UserKeyHash   []byte
}

// RequestType is DSRequestType.
type RequestType uint16

// Request types. The values are part of the wire format and never change.
const (
	RequestCreateGroup       RequestType = 1
	RequestDeleteGroup       RequestType = 2
	RequestUpdateQueueConfig RequestType = 3
	RequestSendProposal      RequestType = 4
	RequestSendCommit        RequestType = 5
	RequestSendMessage       RequestType = 6
	RequestGroupInfo         RequestType = 7
)

// String returns the request type's name in docs/ds.md.
func (t RequestType) String() string {
	switch t {
	case RequestCreateGroup:
		return "create_group"
	case RequestDeleteGroup:
		return "delete_group"
	case RequestUpdateQueueConfig:
		return "update_queue_config"
	case RequestSendProposal:
		return "send_proposal"
	case RequestSendCommit:
		return "send_commit"
	case RequestSendMessage:
		return "send_message"
	case RequestGroupInfo:
		return "group_info"
	}
	return fmt.Sprintf("request_type(%d)", uint16(t))
}

// Request is DSRequest with its body still encoded.
type Request struct {
	GroupID []byte
	Type    RequestType
	Body    []byte
}

// Message is a decoded DSMessage.
type Message struct {
	Sender    SenderID
	Request   Request
	Signature []byte
	// tbs is the received DSMessageTBS.
	tbs []byte
}

// TBS returns the signed bytes, DSMessageTBS.
func (m *Message) TBS() []byte {
	if m.tbs != nil {
		return m.tbs
	}
	var e mls.Encoder
	m.encodeTBS(&e)
	return e.Bytes()
}

func (m *Message) encodeTBS(e *mls.Encoder) {
	e.U8(uint8(m.Sender.Type))
	switch m.Sender.Type {
	case SenderLeafIndex:
		e.U32(m.Sender.LeafIndex)
	case SenderKeyPackageRef:
		e.Opaque(m.Sender.KeyPackageRef)
	case SenderUserKeyHash:
		e.Opaque(m.Sender.UserKeyHash)
	}
	e.U16(Version)
	e.Opaque(m.Request.GroupID)
	e.U16(uint16(m.Request.Type))
	e.Opaque(m.Request.Body)
}

// Marshal encodes the DSMessage.
func (m *Message) Marshal() []byte {
	var e mls.Encoder
	e.Raw(m.TBS())
	e.U8(uint8(len(m.Signature)))
	e.Raw(m.Signature)
	return e.Bytes()
}

// Sign sets the signature with k over DSMessageTBS (clients and tests).
func (m *Message) Sign(k *mls.SigningKey) error {
	m.tbs = nil
	sig, err := k.SignWithLabel(SignatureLabel, m.TBS())
	if err != nil {
		return err
	}
	if len(sig) > 255 {
		return errors.New("ds: signature longer than 255 bytes")
	}
	m.Signature = sig
	return nil
}

// DecodeMessage decodes a DSMessage. It fails with an error wrapping
// ErrMalformed (or ErrTooLarge) and never panics.
func DecodeMessage(b []byte) (*Message, error) {
	if len(b) > MaxMessageSize {
		return nil, fmt.Errorf("DSMessage of %d bytes: %w", len(b), ErrTooLarge)
	}
	b = append([]byte(nil), b...) // decoded slices alias b
	d := mls.NewDecoder(b)
	m := new(Message)
	m.Sender.Type = SenderType(d.U8())
	switch m.Sender.Type {
	case SenderLeafIndex:
		m.Sender.LeafIndex = d.U32()
	case SenderKeyPackageRef:
		m.Sender.KeyPackageRef = d.Opaque()
	case SenderUserKeyHash:
		m.Sender.UserKeyHash = d.Opaque()
	default:
		d.Fail("unknown sender type %d", m.Sender.Type)
	}
	if v := d.U16(); d.Err() == nil && v != Version {
		d.Fail("unsupported DSRequest version %d", v)
	}
	m.Request.GroupID = d.Opaque()
	m.Request.Type = RequestType(d.U16())
	m.Request.Body = d.Opaque()
	tbsEnd := d.Offset()
	m.Signature = d.Bytes(int(d.U8()))
	if err := d.Finish(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if len(m.Request.GroupID) == 0 {
		return nil, fmt.Errorf("%w: empty group id", ErrMalformed)
	}
	m.tbs = b[:tbsEnd]
	return m, nil
}

// Code is a DSResponse code: 0 for success, else why a processed request
// was refused. The values are part of the wire format and never change.
type Code uint16

// Response codes.
const (
	CodeOK                 Code = 0
	CodeGroupAlreadyExists Code = 1
	CodeInvalidKeyPackage  Code = 2
	CodeInvalidGroupInfo   Code = 3
	CodeWrongEpoch         Code = 4
	CodeInvalidMessage     Code = 5
	CodeProposalNotAllowed Code = 6
	CodeInvalidQueue       Code = 7
	CodeNotAllowed         Code = 8
	CodeUnknownProposal    Code = 9
)

// String returns the code's name in docs/ds.md.
func (c Code) String() string {
	names := [...]string{"ok", "group_already_exists", "invalid_key_package", "invalid_group_info", "wrong_epoch",
		"invalid_message", "proposal_not_allowed", "invalid_queue", "not_allowed", "unknown_proposal"}
	if int(c) < len(names) {
		return names[c]
	}
	return fmt.Sprintf("code(%d)", uint16(c))
}

// Response is DSResponse:
//
//	struct {
//	    uint16 code;      // Code
//	    uint64 epoch;     // the group's epoch after the request (0 if there is no group)
//	    opaque body<V>;   // code ok: the request's result (empty for most);
//	                      // otherwise a UTF-8 diagnostic for people, not programs
//	} DSResponse;
type Response struct {
	Code  Code
	Epoch uint64
	Body  []byte
}

// Marshal encodes the DSResponse.
func (r *Response) Marshal() []byte {
	var e mls.Encoder
	e.U16(uint16(r.Code))
	e.U64(r.Epoch)
	e.Opaque(r.Body)
	return e.Bytes()
}

// DecodeResponse decodes a DSResponse (clients and tests).
func DecodeResponse(b []byte) (*Response, error) {
	d := mls.NewDecoder(b)
	r := &Response{Code: Code(d.U16()), Epoch: d.U64(), Body: d.Opaque()}
	if err := d.Finish(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return r, nil
}
