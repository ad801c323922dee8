package api

// QueueCreateRequest is the optional body of POST /v1/queues: the push
// token to wake the device with, and its secret, which proves the caller
// holds it.
type QueueCreateRequest struct {
	TokenID     string `json:"token_id,omitempty"`
	TokenSecret string `json:"token_secret,omitempty"`
}

// QueueCreated answers POST /v1/queues. Secret is shown only here.
type QueueCreated struct {
	ID     string `json:"id"`
	Secret string `json:"secret"`
}

// QueueMessage is one queued message: an MLS message (base64, standard
// alphabet with padding) and when the queue received it (RFC 3339, UTC).
type QueueMessage struct {
	Seq        uint64 `json:"seq"`
	Data       []byte `json:"data"`
	ReceivedAt string `json:"received_at"`
}

// QueueMessages answers GET /v1/queues/{id}/messages.
type QueueMessages struct {
	Messages []QueueMessage `json:"messages"`
}

// ExternalSender is the DS's entry for groups of one cipher suite: the
// RFC 9420 ExternalSender (TLS encoding; base64, standard alphabet) a
// group lists in its external_senders extension to let the DS propose
// removals, and the signature key it holds.
type ExternalSender struct {
	CipherSuite    uint16 `json:"cipher_suite"`
	SignatureKey   []byte `json:"signature_key"`
	ExternalSender []byte `json:"external_sender"`
}

// ExternalSenders answers GET /v1/ds/external-senders: the DS's entry
// for every cipher suite it serves, all with the basic credential
// Identity.
type ExternalSenders struct {
	Identity        string           `json:"identity"`
	ExternalSenders []ExternalSender `json:"external_senders"`
}

// Error codes of the delivery API. Part of the contract: documented in
// openapi.yaml and docs/ds.md.
const (
	CodeUnknownQueue = "M_UNKNOWN_QUEUE" // unknown queue id, or a wrong or missing secret
)
