package ds

// Request bodies (the DSRequest body<V> of each request type) and results.
//
//	struct { opaque queue_id<V>; } ClientQueueConfig;   // a qs queue id (ASCII)
//
//	struct {                                         // create_group (1)
//	    KeyPackage key_package;                      // the creator's
//	    ClientQueueConfig client_queue_config;
//	    MLSMessage group_info;                       // wire format mls_group_info
//	    opaque ratchet_tree<V>;                      // empty: the GroupInfo's ratchet_tree extension
//	} CreateGroupRequest;
//	struct { } DeleteGroupRequest;                   // delete_group (2)
//	struct { ClientQueueConfig client_queue_config; } UpdateQueueConfigRequest;   // (3)
//	struct { MLSMessage proposal; } SendProposalRequest;                          // (4)
//	struct { opaque key_package_ref<V>; ClientQueueConfig client_queue_config; } AddedClient;
//	struct {                                         // send_commit (5)
//	    MLSMessage commit;                           // a PublicMessage
//	    MLSMessage group_info;                       // the new epoch's, signed by the committer
//	    optional<MLSMessage> welcome;                // present iff the commit adds members
//	    AddedClient added_clients<V>;                // one per added KeyPackage; for an external
//	                                                 // commit one entry with an empty ref: the joiner
//	} SendCommitRequest;
//	struct { MLSMessage message; } SendMessageRequest;                            // (6)
//	struct { } GroupInfoRequest;                                                  // (7)
//	struct { MLSMessage group_info; opaque ratchet_tree<V>; } GroupInfoResult;    // body of its ok response

import (
	"fmt"

	"github.com/trystgw/tryst/mls"
	"github.com/trystgw/tryst/qs"
)

func decodeBody[T any](b []byte, f func(d *mls.Decoder) T) (T, error) {
	d := mls.NewDecoder(b)
	v := f(d)
	if err := d.Finish(); err != nil {
		var zero T
		return zero, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return v, nil
}

func decodeQueue(d *mls.Decoder) qs.ID {
	raw := d.Opaque()
	id, err := qs.ParseID(string(raw))
	if err != nil && d.Err() == nil {
		d.Fail("client_queue_config: %v", err)
	}
	return id
}

// CreateGroupRequest is the body of create_group.
type CreateGroupRequest struct {
	KeyPackage  *mls.KeyPackage
	Queue       qs.ID
	GroupInfo   *mls.MLSMessage
	RatchetTree []byte
}

// Marshal encodes the body.
func (r *CreateGroupRequest) Marshal() []byte {
	var e mls.Encoder
	e.Raw(r.KeyPackage.Marshal())
	e.Opaque([]byte(r.Queue))
	e.Raw(r.GroupInfo.Marshal())
	e.Opaque(r.RatchetTree)
	return e.Bytes()
}

// DecodeCreateGroupRequest decodes the body of create_group.
func DecodeCreateGroupRequest(b []byte) (*CreateGroupRequest, error) {
	return decodeBody(b, func(d *mls.Decoder) *CreateGroupRequest {
		return &CreateGroupRequest{KeyPackage: d.KeyPackage(), Queue: decodeQueue(d), GroupInfo: d.MLSMessage(), RatchetTree: d.Opaque()}
	})
}

// MarshalQueueConfig encodes the body of update_queue_config.
func MarshalQueueConfig(q qs.ID) []byte {
	var e mls.Encoder
	e.Opaque([]byte(q))
	return e.Bytes()
}

// DecodeQueueConfig decodes the body of update_queue_config.
func DecodeQueueConfig(b []byte) (qs.ID, error) { return decodeBody(b, decodeQueue) }

// MarshalMLSBody encodes the body of send_proposal and send_message.
func MarshalMLSBody(m *mls.MLSMessage) []byte { return m.Marshal() }

// DecodeMLSBody decodes the body of send_proposal and send_message.
func DecodeMLSBody(b []byte) (*mls.MLSMessage, error) {
	return decodeBody(b, func(d *mls.Decoder) *mls.MLSMessage { return d.MLSMessage() })
}

// AddedClient names the queue of a client a commit adds.
type AddedClient struct {
	KeyPackageRef []byte
	Queue         qs.ID
}

// SendCommitRequest is the body of send_commit.
type SendCommitRequest struct {
	Commit    *mls.MLSMessage
	GroupInfo *mls.MLSMessage
	Welcome   *mls.MLSMessage // nil if absent
	Added     []AddedClient
}

// Marshal encodes the body.
func (r *SendCommitRequest) Marshal() []byte {
	var e mls.Encoder
	e.Raw(r.Commit.Marshal())
	e.Raw(r.GroupInfo.Marshal())
	e.Optional(r.Welcome != nil)
	if r.Welcome != nil {
		e.Raw(r.Welcome.Marshal())
	}
	var list mls.Encoder
	for _, a := range r.Added {
		list.Opaque(a.KeyPackageRef)
		list.Opaque([]byte(a.Queue))
	}
	e.Opaque(list.Bytes())
	return e.Bytes()
}

// DecodeSendCommitRequest decodes the body of send_commit.
func DecodeSendCommitRequest(b []byte) (*SendCommitRequest, error) {
	return decodeBody(b, func(d *mls.Decoder) *SendCommitRequest {
		r := &SendCommitRequest{Commit: d.MLSMessage(), GroupInfo: d.MLSMessage()}
		if d.Optional() {
			r.Welcome = d.MLSMessage()
		}
		list := d.Opaque()
		sub := mls.NewDecoder(list)
		for sub.Err() == nil && sub.Offset() < len(list) {
			r.Added = append(r.Added, AddedClient{KeyPackageRef: sub.Opaque(), Queue: decodeQueue(sub)})
		}
		if err := sub.Err(); err != nil && d.Err() == nil {
			d.Fail("added_clients: %v", err)
		}
		return r
	})
}

// GroupInfoResult is the body of a successful group_info response.
type GroupInfoResult struct {
	GroupInfo   *mls.MLSMessage
	RatchetTree []byte
}

// Marshal encodes the result.
func (r *GroupInfoResult) Marshal() []byte {
	var e mls.Encoder
	e.Raw(r.GroupInfo.Marshal())
	e.Opaque(r.RatchetTree)
	return e.Bytes()
}

// DecodeGroupInfoResult decodes the body of a group_info response.
func DecodeGroupInfoResult(b []byte) (*GroupInfoResult, error) {
	return decodeBody(b, func(d *mls.Decoder) *GroupInfoResult {
		return &GroupInfoResult{GroupInfo: d.MLSMessage(), RatchetTree: d.Opaque()}
	})
}

// decodeEmpty checks an empty body.
func decodeEmpty(b []byte) error {
	if len(b) != 0 {
		return fmt.Errorf("%w: %d bytes in a body that must be empty", ErrMalformed, len(b))
	}
	return nil
}
