package api

// TokenCreateRequest is the body of POST /v1/tokens.
type TokenCreateRequest struct {
	Platform string `json:"platform"`
	App      string `json:"app"`
	// Environment is "production" (the default) or "development"; APNs
	// only.
	Environment string `json:"environment,omitempty"`
	DeviceToken string `json:"device_token"`
	// DHKey is the app's X25519 public key, base64url.
	DHKey string `json:"dh_key"`
}

// TokenCreated answers POST /v1/tokens. Secret is shown only here.
type TokenCreated struct {
	ID          string `json:"id"`
	Secret      string `json:"secret"`
	ServerDHKey string `json:"server_dh_key"`
	Status      string `json:"status"`
}

// Token is a token's public state.
type Token struct {
	ID                   string `json:"id"`
	Platform             string `json:"platform"`
	App                  string `json:"app"`
	Environment          string `json:"environment"`
	Status               string `json:"status"`
	InvalidReason        string `json:"invalid_reason,omitempty"`
	CheckIntervalMinutes int    `json:"check_interval_minutes"`
	CreatedAt            string `json:"created_at"`
	UpdatedAt            string `json:"updated_at"`
}

// TokenVerifyRequest is the body of POST /v1/tokens/{id}/verify.
type TokenVerifyRequest struct {
	Code string `json:"code"`
}

// TokenReplaceRequest is the body of PUT /v1/tokens/{id}.
type TokenReplaceRequest struct {
	DeviceToken string `json:"device_token"`
}

// TokenChecksRequest is the body of PUT /v1/tokens/{id}/checks.
type TokenChecksRequest struct {
	IntervalMinutes *int `json:"interval_minutes"`
}

// Error codes of the token API. Part of the contract: documented in
// openapi.yaml.
const (
	CodeUnknownToken = "M_UNKNOWN_TOKEN" // unknown token id, or a wrong or missing secret
	CodeWrongCode    = "M_WRONG_CODE"    // the verification code does not match
	CodeConflict     = "M_CONFLICT"      // the request does not fit the token's state
)
