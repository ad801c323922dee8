package api

// SubscriptionCreateRequest is the body of POST /v1/tokens/{id}/subscriptions.
type SubscriptionCreateRequest struct {
	Queues []QueueCredentials `json:"queues"`
}

// QueueCredentials are an SMP notifier queue's credentials as an app
// hands them over.
type QueueCredentials struct {
	// Server is smp://<keyhash>@host[,host2][:port].
	Server string `json:"server"`
	// NotifierID is the queue's notifier id, base64url.
	NotifierID string `json:"notifier_id"`
	// NotifierKey is the notifier private key, base64url of a PKCS#8 DER
	// key (Ed25519, Ed448 or X25519) or of a 32-byte Ed25519 seed. It is
	// never returned.
	NotifierKey string `json:"notifier_key"`
}

// QueueAddRequest is the body of POST /v1/tokens/{id}/subscriptions/{sid}/queues.
type QueueAddRequest struct {
	QueueCredentials
	// Rotate makes the new queue replace the ones before it once its
	// first notification arrives.
	Rotate bool `json:"rotate,omitempty"`
}

// Subscription is a subscription's public state.
type Subscription struct {
	ID        string              `json:"id"`
	Queues    []SubscriptionQueue `json:"queues"`
	CreatedAt string              `json:"created_at"`
}

// SubscriptionQueue is one queue of a subscription: pending, active,
// inactive, ended, deleted, auth or error (with Error saying why).
type SubscriptionQueue struct {
	Server     string `json:"server"`
	NotifierID string `json:"notifier_id"`
	Status     string `json:"status"`
	Error      string `json:"error,omitempty"`
}
