package api

// RendezvousCreated answers a POST on the ETag rendezvous flavours
// (simple, msc4108).
type RendezvousCreated struct {
	ID          string `json:"id"`
	MaxBytes    int    `json:"max_bytes"`
	URL         string `json:"url"`
	ExpiresInMs int64  `json:"expires_in_ms"`
}

// RendezvousDiscovery answers GET on the msc4388 base.
type RendezvousDiscovery struct {
	CreateAvailable bool `json:"create_available"`
}

// RendezvousCreateRequest is the msc4388 POST body.
type RendezvousCreateRequest struct {
	Data *string `json:"data"`
}

// RendezvousCreatedJSON answers an msc4388 POST.
type RendezvousCreatedJSON struct {
	ID            string `json:"id"`
	SequenceToken string `json:"sequence_token"`
	ExpiresInMs   int64  `json:"expires_in_ms"`
}

// RendezvousSession answers an msc4388 GET.
type RendezvousSession struct {
	Data          string `json:"data"`
	SequenceToken string `json:"sequence_token"`
	ExpiresInMs   int64  `json:"expires_in_ms"`
}

// RendezvousUpdateRequest is the msc4388 PUT body.
type RendezvousUpdateRequest struct {
	Data          *string `json:"data"`
	SequenceToken *string `json:"sequence_token"`
}

// RendezvousUpdated answers an msc4388 PUT.
type RendezvousUpdated struct {
	SequenceToken string `json:"sequence_token"`
}

// Health answers /healthz and /readyz.
type Health struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks,omitempty"`
}
